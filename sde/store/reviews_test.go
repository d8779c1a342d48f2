package store

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
)

func heldRelease(t *testing.T, st *Store) (*sde.QueryRecord, *sde.Release) {
	t.Helper()
	a1 := as(t, "analyst1")
	r := &sde.Release{ID: "rel-held", Status: sde.ReleaseReview, Decision: json.RawMessage(`{"status":"review"}`),
		Held: json.RawMessage(`{"status":"review","message":"held","rows":[["F",10]]}`), Ledger: json.RawMessage(`{"query":{}}`), LedgerKey: "k"}
	q := &sde.QueryRecord{Workspace: DevWorkspace, SQL: "SELECT 1", State: sde.QueryDone, Release: r.ID, Result: json.RawMessage(`{"status":"review","rows":[]}`)}
	if err := st.Queries.Finish(a1, q, r); err != nil {
		t.Fatal(err)
	}
	return q, r
}

func TestTwoCheckersRelease(t *testing.T) {
	st, _ := seeded(t)
	q, r := heldRelease(t, st)
	a1 := as(t, "analyst1")
	if l, _ := ledgerEntries(st.Releases.Ledger(a1, DevWorkspace, "k", 0)); len(l) != 0 {
		t.Errorf("a held result is in the ledger before release")
	}
	// Who may not review: non-checkers, and a checker who requested it.
	for _, ctx := range []struct {
		name string
		p    *sde.Principal
		code string
	}{
		{"analyst", DevPrincipal("analyst1"), sde.EFORBIDDEN},
		{"controller", DevPrincipal("controller-gp"), sde.EFORBIDDEN},
		{"admin", DevPrincipal("admin"), sde.EFORBIDDEN},
		{"requester who is also a checker", &sde.Principal{User: "analyst1", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAnalyst, sde.RoleChecker}}, sde.EFORBIDDEN},
	} {
		if _, err := st.Reviews.Decide(asP(ctx.p), r.ID, sde.ReviewApproved, "ok"); code(err) != ctx.code {
			t.Errorf("%s: %v", ctx.name, err)
		}
	}
	c1, c2 := as(t, "checker1"), as(t, "checker2")
	if queue, err := st.Reviews.Queue(c1); err != nil || len(queue) != 1 || !strings.Contains(string(queue[0].Result), `"F",10`) {
		t.Fatalf("queue = %+v, %v", queue, err)
	}
	if _, err := st.Reviews.Decide(c1, r.ID, sde.ReviewApproved, ""); code(err) != sde.EINVALID {
		t.Errorf("no comment: %v", err)
	}
	it, err := st.Reviews.Decide(c1, r.ID, sde.ReviewApproved, "Counts are coarse enough.")
	if err != nil || it.Status != sde.ReleaseReview {
		t.Fatalf("first approval: %+v, %v", it, err)
	}
	if _, err := st.Reviews.Decide(c1, r.ID, sde.ReviewApproved, "again"); code(err) != sde.ECONFLICT {
		t.Errorf("same checker twice: %v", err)
	}
	if queue, _ := st.Reviews.Queue(c1); len(queue) != 0 {
		t.Errorf("checker1 still sees an output they reviewed")
	}
	// Until the second approval, the requester sees no rows.
	if got, _ := st.Queries.Get(a1, q.ID); strings.Contains(string(got.Result), `"F",10`) {
		t.Errorf("rows released after one approval: %s", got.Result)
	}
	if it, err = st.Reviews.Decide(c2, r.ID, sde.ReviewApproved, "Agree."); err != nil || it.Status != sde.ReleaseReleased {
		t.Fatalf("second approval: %+v, %v", it, err)
	}
	got, _ := st.Queries.Get(a1, q.ID)
	if !strings.Contains(string(got.Result), `"F",10`) || !strings.Contains(string(got.Result), `"released"`) {
		t.Errorf("requester's result after release = %s", got.Result)
	}
	if l, _ := ledgerEntries(st.Releases.Ledger(a1, DevWorkspace, "k", 0)); len(l) != 1 {
		t.Errorf("released result not in the ledger: %d entries", len(l))
	}
	if _, err := st.Reviews.Decide(as(t, "checker1"), r.ID, sde.ReviewRejected, "late"); code(err) != sde.ECONFLICT {
		t.Errorf("decision after release: %v", err)
	}
}

func TestOneRejectionRefuses(t *testing.T) {
	st, _ := seeded(t)
	q, r := heldRelease(t, st)
	it, err := st.Reviews.Decide(as(t, "checker2"), r.ID, sde.ReviewRejected, "A cell of 11 next to a margin.")
	if err != nil || it.Status != sde.ReleaseRefused {
		t.Fatalf("reject: %+v, %v", it, err)
	}
	if got, _ := st.Queries.Get(as(t, "analyst1"), q.ID); strings.Contains(string(got.Result), `"F",10`) {
		t.Errorf("a rejected result reached the requester")
	}
	if queue, _ := st.Reviews.Queue(as(t, "checker1")); len(queue) != 0 {
		t.Errorf("a refused output is still queued")
	}
}
