package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
)

func TestQueriesAreTheAnalystsOwn(t *testing.T) {
	st, _ := seeded(t)
	a1 := as(t, "analyst1")
	q := &sde.QueryRecord{Workspace: "demo", SQL: "SELECT count(*) FROM patients"}
	if err := st.Queries.Create(a1, q); err != nil {
		t.Fatal(err)
	}
	if q.ID == "" || q.State != sde.QueryRunning || q.User != "analyst1" {
		t.Fatalf("created %+v", q)
	}
	if err := st.Queries.Create(a1, &sde.QueryRecord{Workspace: "demo", SQL: strings.Repeat("x", maxSQL+1)}); code(err) != sde.ETOOLARGE {
		t.Errorf("a query over the SQL limit: %v", err)
	}
	// Nobody but analyst1 may run queries here, see this one, or finish it.
	for _, u := range []sde.UserID{"analyst2", "planner1", "controller-gp", "checker1", "admin"} {
		if err := st.Queries.Create(as(t, u), &sde.QueryRecord{Workspace: "demo", SQL: "x"}); code(err) != sde.EFORBIDDEN && code(err) != sde.ENOTFOUND {
			t.Errorf("%s created a query: %v", u, err)
		}
		if _, err := st.Queries.Get(as(t, u), q.ID); code(err) != sde.ENOTFOUND {
			t.Errorf("%s sees analyst1's query: %v", u, err)
		}
		if err := st.Queries.Finish(as(t, u), &sde.QueryRecord{ID: q.ID, Workspace: "demo", State: sde.QueryFailed, CreatedAt: q.CreatedAt}, nil); code(err) != sde.ENOTFOUND {
			t.Errorf("%s finished analyst1's query: %v", u, err)
		}
	}
	q.State, q.Result, q.Release = sde.QueryDone, json.RawMessage(`{"rows":[]}`), "rel-1"
	if err := st.Queries.Finish(a1, q, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Queries.Finish(a1, q, nil); code(err) != sde.ENOTFOUND {
		t.Errorf("finished twice: %v", err)
	}
	got, err := st.Queries.Get(a1, q.ID)
	if err != nil || got.State != sde.QueryDone || string(got.Result) != `{"rows":[]}` || got.Release != "rel-1" || got.FinishedAt == nil {
		t.Fatalf("get = %+v, %v", got, err)
	}
	list, err := st.Queries.List(a1, "demo")
	if err != nil || len(list) != 1 || list[0].Result != nil {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if list, _ := st.Queries.List(as(t, "planner1"), "demo"); len(list) != 0 {
		t.Errorf("planner1 lists %d of analyst1's queries", len(list))
	}
}

// TestFinishRecordsAQueryWithItsRelease: a query run while the analyst waits is written once,
// finished, with its release, in one transaction — and only for someone who may query the
// workspace now; if the release cannot be recorded, neither is the query.
func TestFinishRecordsAQueryWithItsRelease(t *testing.T) {
	st, c := seeded(t)
	a1 := as(t, "analyst1")
	newQuery := func() *sde.QueryRecord {
		return &sde.QueryRecord{ID: sde.NewID("q-"), Workspace: "demo", SQL: "SELECT 1", State: sde.QueryDone, Result: json.RawMessage(`{"rows":[]}`)}
	}
	newRelease := func() *sde.Release {
		return &sde.Release{ID: sde.ReleaseID(sde.NewID("rel-")), Workspace: "other", QueryID: "forged", Status: sde.ReleaseReleased, Decision: json.RawMessage(`{}`), Ledger: json.RawMessage(`{"n":1}`), LedgerKey: "k"}
	}
	q, r := newQuery(), newRelease()
	q.Release = r.ID
	if err := st.Queries.Finish(a1, q, r); err != nil {
		t.Fatal(err)
	}
	got, err := st.Queries.Get(a1, q.ID)
	if err != nil || got.State != sde.QueryDone || got.Release != r.ID || got.FinishedAt == nil || got.User != "analyst1" {
		t.Fatalf("recorded query = %+v, %v", got, err)
	}
	if r.Workspace != "demo" || r.QueryID != q.ID {
		t.Errorf("the release names workspace %q and query %q, not the query's", r.Workspace, r.QueryID)
	}
	if l, _ := ledgerEntries(st.Releases.Ledger(a1, "demo", "k", 0)); len(l) != 1 {
		t.Errorf("the release's ledger entry: %s", l)
	}
	// The entry is kept once, in the ledger, not again with every release.
	var copied sql.NullString
	if err := st.r.QueryRow("SELECT ledger FROM releases WHERE id = ?", r.ID).Scan(&copied); err != nil || copied.Valid {
		t.Errorf("the release row keeps its ledger entry too: %v %v", copied, err)
	}
	// A Finish that fails (here: a release id already used) records nothing and changes nothing,
	// so it can be retried as it was.
	q3, dup := newQuery(), newRelease()
	dup.ID = r.ID
	if err := st.Queries.Finish(a1, q3, dup); code(err) != sde.ECONFLICT {
		t.Fatalf("a duplicate release id: %v", err)
	}
	if _, err := st.Queries.Get(a1, q3.ID); code(err) != sde.ENOTFOUND || !q3.CreatedAt.IsZero() {
		t.Fatalf("the query was recorded without its release (%v), or marked created", err)
	}
	dup.ID = ""
	if err := st.Queries.Finish(a1, q3, dup); err != nil || q3.Release != dup.ID || dup.ID == "" {
		t.Fatalf("retry = %v, query release %q, release %q", err, q3.Release, dup.ID)
	}
	// A query started earlier (Create) is finished with its release the same way.
	q4 := &sde.QueryRecord{Workspace: "demo", SQL: "SELECT 2"}
	if err := st.Queries.Create(a1, q4); err != nil {
		t.Fatal(err)
	}
	q4.State, q4.Result = sde.QueryDone, json.RawMessage(`{"rows":[]}`)
	r4 := newRelease()
	if err := st.Queries.Finish(a1, q4, r4); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Queries.Get(a1, q4.ID); err != nil || got.State != sde.QueryDone || got.Release != r4.ID || r4.QueryID != q4.ID || r4.Workspace != "demo" {
		t.Fatalf("started query finished = %+v, %v; release %+v", got, err, r4)
	}
	// Nobody but an analyst member records a query, with or without a release.
	for _, u := range []sde.UserID{"analyst2", "planner1", "controller-gp", "checker1", "admin"} {
		if err := st.Queries.Finish(as(t, u), newQuery(), newRelease()); code(err) != sde.EFORBIDDEN && code(err) != sde.ENOTFOUND {
			t.Errorf("%s recorded a query: %v", u, err)
		}
	}
	if err := st.Queries.Finish(a1, &sde.QueryRecord{Workspace: "demo", SQL: strings.Repeat("x", maxSQL+1), State: sde.QueryFailed}, nil); code(err) != sde.ETOOLARGE {
		t.Errorf("a query over the SQL limit: %v", err)
	}
	// Past the agreement's expiry the workspace is no longer usable: neither the query nor its
	// release is recorded.
	c.Advance(4 * 365 * day)
	q2, r2 := newQuery(), newRelease()
	if err := st.Queries.Finish(a1, q2, r2); code(err) != sde.EFORBIDDEN {
		t.Fatalf("recorded in a workspace no longer usable: %v", err)
	}
	if _, err := st.Queries.Get(a1, q2.ID); code(err) != sde.ENOTFOUND {
		t.Errorf("the query was recorded without its release: %v", err)
	}
	if rels, _ := st.Releases.List(as(t, "checker1"), "demo"); len(rels) != 3 {
		t.Errorf("%d releases recorded, want the 3 above", len(rels))
	}
}

func TestReleaseLedgerIsStoredAndGuarded(t *testing.T) {
	st, _ := seeded(t)
	a1 := as(t, "analyst1")
	r := &sde.Release{Workspace: "demo", QueryID: "q-1", Status: sde.ReleaseReleased, Decision: json.RawMessage(`{}`), Ledger: json.RawMessage(`{"query":{"sources":["patients"]}}`), LedgerKey: "k1"}
	if err := st.Releases.Record(a1, r); err != nil {
		t.Fatal(err)
	}
	if other, err := ledgerEntries(st.Releases.Ledger(a1, "demo", "k2", 0)); err != nil || len(other) != 0 {
		t.Errorf("ledger for another key = %s, %v", other, err)
	}
	entries, err := ledgerEntries(st.Releases.Ledger(a1, "demo", "k1", 0))
	if err != nil || len(entries) != 1 || string(entries[0]) != `{"query":{"sources":["patients"]}}` {
		t.Fatalf("ledger = %s, %v", entries, err)
	}
	// The ledger holds true person counts. Members (planners refresh dashboards) may have it
	// read on their behalf — no endpoint returns it; controllers, checkers, others never.
	if _, err := ledgerEntries(st.Releases.Ledger(as(t, "planner1"), "demo", "k1", 0)); err != nil {
		t.Errorf("a planner's dashboard refresh cannot read the ledger: %v", err)
	}
	for _, u := range []sde.UserID{"controller-gp", "checker1", "analyst2", "admin"} {
		if _, err := ledgerEntries(st.Releases.Ledger(as(t, u), "demo", "k1", 0)); err == nil {
			t.Errorf("%s read the ledger", u)
		}
	}
	// And the release as listed does not carry it.
	rels, _ := st.Releases.List(a1, "demo")
	if js, _ := json.Marshal(rels); len(rels) != 1 || string(js) == "" || json.Valid(js) && containsLedger(js) {
		t.Errorf("listed releases = %s", js)
	}
}

func containsLedger(js []byte) bool {
	var v []map[string]any
	json.Unmarshal(js, &v)
	for _, r := range v {
		if _, ok := r["ledger"]; ok {
			return true
		}
	}
	return false
}

// TestLedgerReadsRepeatsOnce: a release identical to an earlier one (a dashboard refresh, a
// re-run) adds nothing to the differencing check, so it is read once.
func TestLedgerReadsRepeatsOnce(t *testing.T) {
	st, _ := seeded(t)
	a1 := as(t, "analyst1")
	for _, l := range []string{`{"query":{"sources":["patients"]}}`, `{"query":{"sources":["patients"]},"rows":{"a":12}}`, `{"query":{"sources":["patients"]}}`, `{"query":{"sources":["patients"]}}`} {
		r := &sde.Release{Workspace: "demo", QueryID: "q-1", Status: sde.ReleaseReleased, Decision: json.RawMessage(`{}`), Ledger: json.RawMessage(l), LedgerKey: "k1"}
		if err := st.Releases.Record(a1, r); err != nil {
			t.Fatal(err)
		}
	}
	if entries, err := ledgerEntries(st.Releases.Ledger(a1, "demo", "k1", 0)); err != nil || len(entries) != 2 || string(entries[0]) != `{"query":{"sources":["patients"]}}` || string(entries[1]) != `{"query":{"sources":["patients"]},"rows":{"a":12}}` {
		t.Fatalf("ledger after repeats = %s, %v", entries, err)
	}
	// A reader that kept what it read asks only for what came after.
	all, _ := st.Releases.Ledger(a1, "demo", "k1", 0)
	if len(all) != 2 || all[1].Seq <= all[0].Seq {
		t.Fatalf("sequence numbers: %+v", all)
	}
	if later, err := st.Releases.Ledger(a1, "demo", "k1", all[0].Seq); err != nil || len(later) != 1 || later[0].Seq != all[1].Seq {
		t.Fatalf("entries after %d = %+v, %v", all[0].Seq, later, err)
	}
	if none, err := st.Releases.Ledger(a1, "demo", "k1", all[1].Seq); err != nil || len(none) != 0 {
		t.Fatalf("entries after the last = %+v, %v", none, err)
	}
	// The access check holds however little is asked for.
	if _, err := st.Releases.Ledger(as(t, "analyst2"), "demo", "k1", all[1].Seq); err == nil {
		t.Error("a non-member read the ledger")
	}
}

// TestLedgerMigrationCarriesDistinctReleases: a store written before the ledger table (schema
// 6) keeps its differencing ledger on upgrade — each distinct released entry once, oldest first;
// entries held for review, refused or without a key are not carried.
func TestLedgerMigrationCarriesDistinctReleases(t *testing.T) {
	st, c, dir := open(t)
	ctx := context.Background()
	if err := DevSeed(ctx, st); err != nil {
		t.Fatal(err)
	}
	a1 := as(t, "analyst1")
	for i, r := range []struct{ status, ledger, key string }{
		{sde.ReleaseReleased, `{"n":1}`, "k1"},
		{sde.ReleaseReleased, `{"n":2}`, "k1"},
		{sde.ReleaseReleased, `{"n":1}`, "k1"},
		{sde.ReleaseReview, `{"n":3}`, "k1"},
		{sde.ReleaseRefused, `{"n":4}`, "k1"},
		{sde.ReleaseReleased, `{"n":5}`, "k2"},
		{sde.ReleaseReleased, `{"n":6}`, ""},
	} {
		c.Advance(time.Second)
		if _, err := st.w.Exec("INSERT INTO releases (id, workspace_id, query_id, user_id, status, created_at, ledger, ledger_key) VALUES (?, 'demo', 'q', 'analyst1', ?, ?, ?, ?)",
			fmt.Sprintf("rel-%d", i), r.status, ts(c.Now()), r.ledger, r.key); err != nil {
			t.Fatal(err)
		}
	}
	// Back to schema 6: undo migrations 9 (an index on the ledger), 8 (the generation and its
	// triggers) and 7.
	rows, err := st.w.Query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_generation'")
	if err != nil {
		t.Fatal(err)
	}
	var drop []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		drop = append(drop, "DROP TRIGGER "+name)
	}
	rows.Close()
	if _, err := st.w.Exec(strings.Join(drop, "; ") + "; DROP TABLE generation; DROP TABLE ledger; PRAGMA user_version = 6"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = Open(ctx, dir, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for key, want := range map[string]string{"k1": `[{"n":1},{"n":2}]`, "k2": `[{"n":5}]`, "": `[]`} {
		entries, err := ledgerEntries(st.Releases.Ledger(a1, "demo", key, 0))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(entries); string(got) != want && !(want == `[]` && string(got) == "null") {
			t.Errorf("ledger %q after the upgrade = %s, want %s", key, got, want)
		}
	}
	// A release after the upgrade identical to a carried one is still read once more at most,
	// and a new one is appended after them.
	if err := st.Releases.Record(a1, &sde.Release{Workspace: "demo", QueryID: "q", Status: sde.ReleaseReleased, Ledger: json.RawMessage(`{"n":7}`), LedgerKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := ledgerEntries(st.Releases.Ledger(a1, "demo", "k1", 0)); len(entries) != 3 || string(entries[2]) != `{"n":7}` {
		t.Errorf("ledger after a new release = %s", entries)
	}
}
