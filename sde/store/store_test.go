package store

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/synth"
)

func TestOpenMigratesOnceAndKeepsTheFilePrivate(t *testing.T) {
	st, c, dir := open(t)
	ctx := context.Background()
	migrations, _ := migrationFS.ReadDir("migrations")
	if v, err := st.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, %v", v, err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("control.db mode %v, want 0600", fi.Mode().Perm())
	}
	var mode string
	st.w.QueryRow("PRAGMA journal_mode").Scan(&mode)
	var fk, sync int
	st.r.QueryRow("PRAGMA foreign_keys").Scan(&fk)
	st.w.QueryRow("PRAGMA synchronous").Scan(&sync)
	if mode != "wal" || fk != 1 || sync != 2 {
		t.Fatalf("journal_mode=%s foreign_keys=%d synchronous=%d, want wal 1 2(FULL)", mode, fk, sync)
	}
	if err := st.Organisations.Register(as(t, "admin"), &sde.Organisation{Code: "RVX", Name: "X", Kind: "gp"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Reopening applies nothing twice and keeps the data.
	st2, err := Open(ctx, dir, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st2.Organisations.Get(as(t, "analyst1"), "RVX"); err != nil {
		t.Fatal(err)
	}
	// A file written by a newer schema is refused rather than misread.
	st2.w.Exec("PRAGMA user_version = 99")
	st2.Close()
	if _, err := Open(ctx, dir, Options{}); code(err) != sde.EINTERNAL {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestDevSeedIsIdempotentAndMatchesTheSpecs(t *testing.T) {
	st, c := seeded(t)
	before := counts(t, st)
	if err := DevSeed(context.Background(), st); err != nil {
		t.Fatalf("second DevSeed: %v", err)
	}
	sameCounts(t, "second DevSeed", before, counts(t, st))

	for _, s := range synth.Specs() {
		var doc struct {
			Controller struct{ Code sde.OrgCode } `json:"controller"`
		}
		json.Unmarshal(s.JSON, &doc)
		d, err := st.Datasets.Get(as(t, "planner1"), sde.DatasetName(s.Name))
		if err != nil {
			t.Fatal(err)
		}
		if d.Controller != doc.Controller.Code {
			t.Errorf("%s: controller %s, spec says %s", s.Name, d.Controller, doc.Controller.Code)
		}
		if _, err := st.Organisations.Get(as(t, "planner1"), doc.Controller.Code); err != nil {
			t.Errorf("%s: controller organisation: %v", s.Name, err)
		}
	}
	ag, err := st.Agreements.Get(as(t, "analyst2"), DevAgreement)
	if err != nil || ag.State != sde.AgreementInForce || ag.PurposeCategory != sde.PurposePlanning {
		t.Fatalf("demo agreement %+v, %v", ag, err)
	}
	ws, err := st.Workspaces.Get(as(t, "analyst1"), DevWorkspace)
	if err != nil || ws.State != sde.WorkspaceActive || len(ws.Datasets) != len(synth.Specs())-1 || slices.ContainsFunc(ws.Datasets, func(d sde.DatasetScope) bool { return d.Dataset == DevOptOutDataset }) {
		t.Fatalf("demo workspace %+v, %v", ws, err)
	}
	wantCode(t, "analyst1 queries demo", st.Workspaces.CanQuery(as(t, "analyst1"), DevWorkspace), "")
	wantCode(t, "planner1 views demo", st.Workspaces.CanView(as(t, "planner1"), DevWorkspace), "")
	wantCode(t, "planner1 queries demo", st.Workspaces.CanQuery(as(t, "planner1"), DevWorkspace), sde.EFORBIDDEN)
	// Use is the same rule, returning what running a query needs.
	if w, a, err := st.Workspaces.Use(as(t, "analyst1"), DevWorkspace, sde.RoleAnalyst); err != nil || w.ID != DevWorkspace || a.ID != w.Agreement || a.State != sde.AgreementInForce {
		t.Fatalf("Use = %+v, %+v, %v", w, a, err)
	}
	if _, _, err := st.Workspaces.Use(as(t, "planner1"), DevWorkspace, sde.RoleAnalyst); code(err) != sde.EFORBIDDEN {
		t.Errorf("planner1 uses demo as an analyst: %v", err)
	}

	// Long after, the memberships have lapsed; DevSeed on the next start re-confirms them.
	c.Advance(45 * day)
	wantCode(t, "lapsed", st.Workspaces.CanQuery(as(t, "analyst1"), DevWorkspace), sde.EFORBIDDEN)
	if err := DevSeed(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "re-confirmed", st.Workspaces.CanQuery(as(t, "analyst1"), DevWorkspace), "")
}

func TestRegistryRules(t *testing.T) {
	st, _ := seeded(t)
	spec := func(mod func(m map[string]any)) json.RawMessage {
		var m map[string]any
		json.Unmarshal(synth.Specs()[0].JSON, &m)
		mod(m)
		b, _ := json.Marshal(m)
		return b
	}
	renamed := func(name string) func(m map[string]any) {
		return func(m map[string]any) { m["name"] = name }
	}
	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"organisation without sign-in", func() error {
			return st.Organisations.Register(context.Background(), &sde.Organisation{Code: "RVN", Name: "N", Kind: "gp"})
		}, sde.EUNAUTHORIZED},
		{"organisation by a controller", func() error {
			return st.Organisations.Register(as(t, "controller-gp"), &sde.Organisation{Code: "RVN", Name: "N", Kind: "gp"})
		}, sde.EFORBIDDEN},
		{"organisation with a bad code", func() error {
			return st.Organisations.Register(as(t, "admin"), &sde.Organisation{Code: "rv n", Name: "N", Kind: "gp"})
		}, sde.EINVALID},
		{"organisation without a name", func() error {
			return st.Organisations.Register(as(t, "admin"), &sde.Organisation{Code: "RVN", Kind: "gp"})
		}, sde.EINVALID},
		{"organisation of unknown kind", func() error {
			return st.Organisations.Register(as(t, "admin"), &sde.Organisation{Code: "RVN", Name: "N", Kind: "pharmacy"})
		}, sde.EINVALID},
		{"duplicate organisation code", func() error {
			return st.Organisations.Register(as(t, "admin"), &sde.Organisation{Code: "RVGPC", Name: "Another", Kind: "gp"})
		}, sde.ECONFLICT},
		{"duplicate organisation name", func() error {
			return st.Organisations.Register(as(t, "admin"), &sde.Organisation{Code: "RVN", Name: "Riverside VCSE Alliance", Kind: "vcse"})
		}, sde.ECONFLICT},
		{"person by an analyst", func() error {
			return st.People.Register(as(t, "analyst1"), &sde.Person{ID: "x", Name: "X", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAnalyst}})
		}, sde.EFORBIDDEN},
		{"duplicate person", func() error {
			return st.People.Register(as(t, "admin"), &sde.Person{ID: "analyst1", Name: "X", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAnalyst}})
		}, sde.ECONFLICT},
		{"person of unknown organisation", func() error {
			return st.People.Register(as(t, "admin"), &sde.Person{ID: "x", Name: "X", Organisation: "NOPE", Roles: []sde.Role{sde.RoleAnalyst}})
		}, sde.EINVALID},
		{"person with unknown role", func() error {
			return st.People.Register(as(t, "admin"), &sde.Person{ID: "x", Name: "X", Organisation: "RVICB", Roles: []sde.Role{"superuser"}})
		}, sde.EINVALID},
		{"person without roles", func() error {
			return st.People.Register(as(t, "admin"), &sde.Person{ID: "x", Name: "X", Organisation: "RVICB"})
		}, sde.EINVALID},
		{"dataset by a controller", func() error {
			return st.Datasets.Register(as(t, "controller-gp"), &sde.Dataset{Spec: spec(renamed("new_set"))})
		}, sde.EFORBIDDEN},
		{"duplicate dataset", func() error {
			return st.Datasets.Register(as(t, "admin"), &sde.Dataset{Spec: synth.Specs()[0].JSON})
		}, sde.ECONFLICT},
		{"dataset without a spec", func() error {
			return st.Datasets.Register(as(t, "admin"), &sde.Dataset{Name: "x"})
		}, sde.EINVALID},
		{"dataset with a broken spec", func() error {
			return st.Datasets.Register(as(t, "admin"), &sde.Dataset{Spec: json.RawMessage(`{"name": "x"`)})
		}, sde.EINVALID},
		{"dataset whose name disagrees with its spec", func() error {
			return st.Datasets.Register(as(t, "admin"), &sde.Dataset{Name: "other", Spec: spec(renamed("new_set"))})
		}, sde.EINVALID},
		{"dataset whose controller disagrees with its spec", func() error {
			return st.Datasets.Register(as(t, "admin"), &sde.Dataset{Controller: "RVLA", Spec: spec(renamed("new_set"))})
		}, sde.EINVALID},
		{"dataset of an unregistered controller", func() error {
			return st.Datasets.Register(as(t, "admin"), &sde.Dataset{Spec: spec(func(m map[string]any) {
				m["name"] = "new_set"
				m["controller"] = map[string]any{"code": "NOPE", "name": "Nope", "kind": "gp"}
			})})
		}, sde.EINVALID},
		{"catalogue without sign-in", func() error {
			_, err := st.Datasets.List(context.Background())
			return err
		}, sde.EUNAUTHORIZED},
		{"unknown dataset", func() error {
			_, err := st.Datasets.Get(as(t, "analyst1"), "nope")
			return err
		}, sde.ENOTFOUND},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := counts(t, st)
			wantCode(t, tc.name, tc.do(), tc.want)
			sameCounts(t, tc.name, before, counts(t, st))
		})
	}

	// The catalogue is open to any signed-in user and lists the stored columns only.
	for _, u := range []sde.UserID{"analyst2", "planner1", "checker1", "admin", "controller-la"} {
		ds, err := st.Datasets.List(as(t, u))
		if err != nil || len(ds) != len(synth.Specs()) {
			t.Fatalf("%s lists %d datasets, %v", u, len(ds), err)
		}
	}
	p, _ := st.Datasets.Get(as(t, "analyst1"), "patients")
	for _, want := range []string{"person_id", "birth_month", "lsoa_code"} {
		if !slices.Contains(p.Columns, want) {
			t.Errorf("patients columns %v lack %s", p.Columns, want)
		}
	}
	for _, gone := range []string{"nhs_number", "given_name", "postcode", "date_of_birth"} {
		if slices.Contains(p.Columns, gone) {
			t.Errorf("patients columns %v include %s", p.Columns, gone)
		}
	}
	// An admin registers a new dataset of a registered controller.
	if err := st.Datasets.Register(as(t, "admin"), &sde.Dataset{Spec: spec(renamed("new_set"))}); err != nil {
		t.Fatal(err)
	}
}

func TestAgreementCreateRules(t *testing.T) {
	st, c := seeded(t)
	dual := &sde.Principal{User: "dual", Organisation: "RVGPC", Roles: []sde.Role{sde.RoleController, sde.RoleAdmin}}
	cases := []struct {
		name string
		who  context.Context
		mod  func(a *sde.Agreement)
		want string
	}{
		{"valid", as(t, "controller-gp"), func(a *sde.Agreement) {}, ""},
		{"valid with a stricter policy", as(t, "controller-acute"), func(a *sde.Agreement) {
			a.Policy = json.RawMessage(`{"threshold": 20, "rounding": {"mode": "nearest", "base": 10}}`)
		}, ""},
		{"no sign-in", context.Background(), func(a *sde.Agreement) {}, sde.EUNAUTHORIZED},
		{"by an analyst", as(t, "analyst1"), func(a *sde.Agreement) {}, sde.EFORBIDDEN},
		{"by a controller of a non-party", as(t, "controller-la"), func(a *sde.Agreement) {}, sde.EFORBIDDEN},
		{"by an administrator who is also a controller", asP(dual), func(a *sde.Agreement) {}, sde.EFORBIDDEN},
		{"missing title", as(t, "controller-gp"), func(a *sde.Agreement) { a.Title = " " }, sde.EINVALID},
		{"missing Article 6 basis", as(t, "controller-gp"), func(a *sde.Agreement) { a.LawfulBasisArt6 = "" }, sde.EINVALID},
		{"missing Article 9 condition", as(t, "controller-gp"), func(a *sde.Agreement) { a.ConditionArt9 = "" }, sde.EINVALID},
		{"missing purpose category", as(t, "controller-gp"), func(a *sde.Agreement) { a.PurposeCategory = "" }, sde.EINVALID},
		{"missing purpose", as(t, "controller-gp"), func(a *sde.Agreement) { a.Purpose = "" }, sde.EINVALID},
		{"missing parties", as(t, "controller-gp"), func(a *sde.Agreement) { a.Parties = nil }, sde.EINVALID},
		{"missing datasets", as(t, "controller-gp"), func(a *sde.Agreement) { a.Datasets = nil }, sde.EINVALID},
		{"missing escalation route", as(t, "controller-gp"), func(a *sde.Agreement) { a.EscalationRoute = "" }, sde.EINVALID},
		{"missing review date", as(t, "controller-gp"), func(a *sde.Agreement) { a.ReviewDate = time.Time{} }, sde.EINVALID},
		{"missing expiry", as(t, "controller-gp"), func(a *sde.Agreement) { a.Expiry = time.Time{} }, sde.EINVALID},
		{"Article 6 not cited", as(t, "controller-gp"), func(a *sde.Agreement) { a.LawfulBasisArt6 = "public task" }, sde.EINVALID},
		{"Article 9 out of range", as(t, "controller-gp"), func(a *sde.Agreement) { a.ConditionArt9 = "9(2)(k) other" }, sde.EINVALID},
		{"unknown purpose category", as(t, "controller-gp"), func(a *sde.Agreement) { a.PurposeCategory = "marketing" }, sde.EINVALID},
		{"expiry in the past", as(t, "controller-gp"), func(a *sde.Agreement) { a.Expiry = c.Now().Add(-day) }, sde.EINVALID},
		{"review after expiry", as(t, "controller-gp"), func(a *sde.Agreement) { a.ReviewDate = a.Expiry.Add(day) }, sde.EINVALID},
		{"unknown party", as(t, "controller-gp"), func(a *sde.Agreement) { a.Parties = append(a.Parties, "NOPE") }, sde.EINVALID},
		{"party twice", as(t, "controller-gp"), func(a *sde.Agreement) { a.Parties = append(a.Parties, "RVGPC") }, sde.EINVALID},
		{"unknown dataset", as(t, "controller-gp"), func(a *sde.Agreement) {
			a.Datasets = append(a.Datasets, sde.DatasetScope{Dataset: "nope"})
		}, sde.EINVALID},
		{"unknown column", as(t, "controller-gp"), func(a *sde.Agreement) { a.Datasets[0].Columns = []string{"person_id", "nhs_number"} }, sde.EINVALID},
		{"dataset of a non-party", as(t, "controller-gp"), func(a *sde.Agreement) {
			a.Datasets = append(a.Datasets, sde.DatasetScope{Dataset: "social_care"})
		}, sde.EINVALID},
		{"looser policy", as(t, "controller-gp"), func(a *sde.Agreement) { a.Policy = json.RawMessage(`{"threshold": 5}`) }, sde.EINVALID},
		{"policy without rounding", as(t, "controller-gp"), func(a *sde.Agreement) { a.Policy = json.RawMessage(`{"rounding": {"mode": "none"}}`) }, sde.EINVALID},
		{"policy with a misspelt rule", as(t, "controller-gp"), func(a *sde.Agreement) { a.Policy = json.RawMessage(`{"treshold": 20}`) }, sde.EINVALID},
		{"duplicate id", as(t, "controller-gp"), func(a *sde.Agreement) { a.ID = DevAgreement }, sde.ECONFLICT},
		{"bad id", as(t, "controller-gp"), func(a *sde.Agreement) { a.ID = "Bad Id" }, sde.EINVALID},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := agreement(c, sde.AgreementID("agr-"+string(rune('a'+i))))
			tc.mod(a)
			before := counts(t, st)
			err := st.Agreements.Create(tc.who, a)
			wantCode(t, tc.name, err, tc.want)
			if tc.want != "" {
				sameCounts(t, tc.name, before, counts(t, st))
				return
			}
			got, err := st.Agreements.Get(as(t, "planner1"), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != sde.AgreementAwaitingSignatures || len(got.Signatures) != 0 || got.Title != a.Title || len(got.Datasets) != 2 {
				t.Fatalf("stored %+v", got)
			}
		})
	}
	// The missing-fields message names every missing field.
	a := agreement(c, "agr-missing")
	a.Purpose, a.EscalationRoute = "", ""
	err := st.Agreements.Create(as(t, "controller-gp"), a)
	if msg := sde.ErrorMessage(err); !strings.Contains(msg, "purpose") || !strings.Contains(msg, "escalation route") {
		t.Fatalf("message %q", msg)
	}
}

func TestAgreementSigningAndRevocation(t *testing.T) {
	st, c := seeded(t)
	a := agreement(c, "agr-sign")
	if err := st.Agreements.Create(as(t, "controller-gp"), a); err != nil {
		t.Fatal(err)
	}
	got, err := st.Agreements.Sign(as(t, "controller-gp"), a.ID)
	wantCode(t, "first signature", err, "")
	if got.InForce(c.Now()) || got.State != sde.AgreementAwaitingSignatures {
		t.Fatal("in force with one of two signatures")
	}
	_, err = st.Agreements.Sign(as(t, "controller-gp"), a.ID)
	wantCode(t, "signing twice", err, sde.ECONFLICT)
	_, err = st.Agreements.Sign(as(t, "controller-la"), a.ID)
	wantCode(t, "signing by a non-party", err, sde.EFORBIDDEN)
	_, err = st.Agreements.Sign(as(t, "analyst1"), a.ID)
	wantCode(t, "signing by an analyst", err, sde.EFORBIDDEN)
	_, err = st.Agreements.Sign(as(t, "controller-gp"), "nope")
	wantCode(t, "signing an unknown agreement", err, sde.ENOTFOUND)
	got, err = st.Agreements.Sign(as(t, "controller-acute"), a.ID)
	wantCode(t, "last signature", err, "")
	if !got.InForce(c.Now()) || got.State != sde.AgreementInForce {
		t.Fatalf("not in force after every party signed: %+v", got)
	}

	_, err = st.Agreements.Revoke(as(t, "controller-acute"), a.ID, " ")
	wantCode(t, "revoking without a reason", err, sde.EINVALID)
	_, err = st.Agreements.Revoke(as(t, "controller-la"), a.ID, "no")
	wantCode(t, "revoking by a non-party", err, sde.EFORBIDDEN)
	got, err = st.Agreements.Revoke(as(t, "controller-acute"), a.ID, "Trust board withdrew consent to share.")
	wantCode(t, "revoking", err, "")
	if got.InForce(c.Now()) || got.State != sde.AgreementRevoked || got.RevokedBy != "controller-acute" {
		t.Fatalf("revoked agreement %+v", got)
	}
	_, err = st.Agreements.Revoke(as(t, "controller-gp"), a.ID, "again")
	wantCode(t, "revoking twice", err, sde.ECONFLICT)

	// Expiry: an unsigned agreement cannot be signed once expired, and an in-force one stops being.
	b := agreement(c, "agr-expire")
	if err := st.Agreements.Create(as(t, "controller-gp"), b); err != nil {
		t.Fatal(err)
	}
	c.Advance(366 * day)
	_, err = st.Agreements.Sign(as(t, "controller-gp"), b.ID)
	wantCode(t, "signing an expired agreement", err, sde.ECONFLICT)
	demo, _ := st.Agreements.Get(as(t, "analyst1"), DevAgreement)
	if demo.State != sde.AgreementInForce {
		t.Fatalf("demo agreement %s", demo.State)
	}
	c.Advance(3 * 365 * day)
	demo, _ = st.Agreements.Get(as(t, "analyst1"), DevAgreement)
	if demo.State != sde.AgreementExpired || demo.InForce(c.Now()) {
		t.Fatalf("demo agreement after expiry %s", demo.State)
	}
	list, err := st.Agreements.List(as(t, "checker1"))
	if err != nil || len(list) != 3 {
		t.Fatalf("list %d, %v", len(list), err)
	}
}
