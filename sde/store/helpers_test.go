package store

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
)

// clock is an injectable clock tests move forward.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// open returns a fresh store in a temporary directory with a clock at t0.
func open(t *testing.T) (*Store, *clock, string) {
	t.Helper()
	dir := t.TempDir()
	c := &clock{t: t0}
	st, err := Open(context.Background(), dir, Options{Now: c.Now, ReviewPeriod: 30 * day})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, c, dir
}

// seeded returns a store with DevSeed applied: the demo organisations, people, the synthetic
// datasets, the signed planning agreement and the active workspace "demo".
func seeded(t *testing.T) (*Store, *clock) {
	t.Helper()
	st, c, _ := open(t)
	if err := DevSeed(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return st, c
}

// as is a context signed in as a demo user.
func as(t *testing.T, u sde.UserID) context.Context {
	t.Helper()
	p := DevPrincipal(u)
	if p == nil {
		t.Fatalf("no demo user %s", u)
	}
	return sde.WithPrincipal(context.Background(), p)
}

func asP(p *sde.Principal) context.Context { return sde.WithPrincipal(context.Background(), p) }

func code(err error) string {
	if err == nil {
		return ""
	}
	return sde.ErrorCode(err)
}

// wantCode fails unless err has the code want ("" for success).
func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("%s: code %q, want %q (err: %v)", what, got, want, err)
	}
	if err != nil && sde.ErrorMessage(err) == "Internal error." {
		t.Fatalf("%s: not a user-facing error: %v", what, err)
	}
}

// counts returns the row count of every table, to show a refused change changed nothing.
func counts(t *testing.T, st *Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"organisations", "people", "datasets", "agreements", "agreement_parties", "agreement_datasets",
		"signatures", "workspaces", "workspace_datasets", "approvals", "memberships", "workspace_events", "releases"} {
		var n int
		if err := st.r.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

func sameCounts(t *testing.T, what string, before, after map[string]int) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("%s changed %s: %d rows, was %d", what, k, after[k], v)
		}
	}
}

// agreement returns a valid agreement between the GP and acute collaboratives over patients and
// ae_attendances; tests break one field at a time.
func agreement(c *clock, id sde.AgreementID) *sde.Agreement {
	return &sde.Agreement{
		ID:              id,
		Title:           "Frailty planning " + string(id),
		LawfulBasisArt6: "6(1)(e) public task",
		ConditionArt9:   "9(2)(h) health or social care",
		PurposeCategory: sde.PurposePlanning,
		Purpose:         "Plan frailty services.",
		Parties:         []sde.OrgCode{"RVGPC", "RVAPC"},
		Datasets: []sde.DatasetScope{
			{Dataset: "patients", Columns: []string{"person_id", "birth_month", "sex", "lsoa_code"}},
			{Dataset: "ae_attendances"},
		},
		EscalationRoute: "IG group",
		ReviewDate:      c.Now().Add(180 * day),
		Expiry:          c.Now().Add(365 * day),
	}
}

// signedAgreement creates and fully signs agreement(c, id).
func signedAgreement(t *testing.T, st *Store, c *clock, id sde.AgreementID) *sde.Agreement {
	t.Helper()
	a := agreement(c, id)
	if err := st.Agreements.Create(as(t, "controller-gp"), a); err != nil {
		t.Fatal(err)
	}
	for _, u := range []sde.UserID{"controller-gp", "controller-acute"} {
		var err error
		if a, err = st.Agreements.Sign(as(t, u), id); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// request asks for a workspace over patients and ae_attendances under agreement ag, as analyst1.
func request(t *testing.T, st *Store, c *clock, name string, ag sde.AgreementID) *sde.Workspace {
	t.Helper()
	ws := &sde.Workspace{
		Name: name, Purpose: "Frailty admissions by area", Agreement: ag,
		Datasets: []sde.DatasetScope{{Dataset: "patients", Columns: []string{"person_id", "sex"}}, {Dataset: "ae_attendances"}},
		Members:  []sde.Membership{{User: "planner1", Role: sde.RolePlanner}},
		EndDate:  c.Now().Add(200 * day),
	}
	if err := st.Workspaces.Request(as(t, "analyst1"), ws); err != nil {
		t.Fatal(err)
	}
	return ws
}

// approveAll approves a workspace by both controllers.
func approveAll(t *testing.T, st *Store, id sde.WorkspaceID) *sde.Workspace {
	t.Helper()
	var ws *sde.Workspace
	for _, u := range []sde.UserID{"controller-gp", "controller-acute"} {
		var err error
		if ws, err = st.Workspaces.Decide(as(t, u), id, sde.Decision{Verdict: sde.DecisionApproved}); err != nil {
			t.Fatal(err)
		}
	}
	return ws
}

// activeWorkspace is a fresh, active workspace under a fresh, signed agreement.
func activeWorkspace(t *testing.T, st *Store, c *clock, name string) *sde.Workspace {
	t.Helper()
	signedAgreement(t, st, c, sde.AgreementID("agr-"+name))
	request(t, st, c, name, sde.AgreementID("agr-"+name))
	ws := approveAll(t, st, sde.WorkspaceID(name))
	if ws.State != sde.WorkspaceActive {
		t.Fatalf("%s: state %s (%s), want active", name, ws.State, ws.StateWhy)
	}
	return ws
}

// ledgerEntries drops the sequence numbers of ledger entries.
func ledgerEntries(l []sde.LedgerEntry, err error) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for _, e := range l {
		out = append(out, e.Entry)
	}
	return out, err
}
