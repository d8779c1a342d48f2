//go:build duckdb_arrow

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opensde/sde/disclosure"
	"github.com/opensde/sde/sde"
)

// TestQueryPath runs analyst SQL through REST: analyse, worker, disclosure, release.
func TestQueryPath(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	analyst := newClient(t, m, "analyst1")

	st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT sex, count(*) AS n FROM patients GROUP BY sex ORDER BY sex"}, "")
	if st != 200 {
		t.Fatalf("query = %d %v", st, body)
	}
	for _, k := range []string{"query_id", "columns", "rows", "cells", "decision"} {
		if _, ok := body[k]; !ok {
			t.Errorf("result lacks %q: %v", k, body)
		}
	}
	cols := body["columns"].([]any)
	if len(cols) != 2 || cols[0].(map[string]any)["kind"] != "dimension" || cols[1].(map[string]any)["kind"] != "measure" {
		t.Errorf("columns = %v", cols)
	}
	rows, cells := body["rows"].([]any), body["cells"].([]any)
	if len(rows) == 0 || len(rows) != len(cells) {
		t.Fatalf("rows %v cells %v", rows, cells)
	}
	for i, r := range rows {
		n := r.([]any)[1]
		c := cells[i].([]any)[1].(string)
		switch {
		case strings.HasPrefix(c, "suppressed:"):
			if n != nil {
				t.Errorf("suppressed cell has value %v", n)
			}
		case c == "ok" || c == "rounded":
			if v, ok := n.(float64); !ok || int64(v)%5 != 0 {
				t.Errorf("released count %v is not a multiple of 5", n)
			}
		default:
			t.Errorf("cell status %q", c)
		}
	}

	if _, ok := body["totals"]; ok {
		t.Errorf("a query of one grouping set has totals: %v", body["totals"])
	}
	// A ROLLUP's margin rows say which columns they total over.
	st, body = analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT sex, count(*) AS n FROM patients GROUP BY ROLLUP (sex)"}, "")
	if st != 200 {
		t.Fatalf("rollup = %d %v", st, body)
	}
	totals, _ := body["totals"].([]any)
	margins := 0
	for i, tr := range totals {
		if len(tr.([]any)) == 1 {
			margins++
			if body["rows"].([]any)[i].([]any)[0] != nil {
				t.Errorf("total row %d has a sex: %v", i, body["rows"].([]any)[i])
			}
		}
	}
	if len(totals) != len(body["rows"].([]any)) || margins != 1 {
		t.Errorf("rollup totals = %v for rows %v", totals, body["rows"])
	}

	// Small cells are suppressed: a rare register's persons per practice, beside all persons.
	st, body = analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": `SELECT p.lsoa_code,
		count(DISTINCT e.person_id) FILTER (WHERE p.birth_month = DATE '1950-03-01') AS born_march_1950, count(DISTINCT e.person_id) AS registered
		FROM gp_events e JOIN patients p ON p.person_id = e.person_id WHERE e.event_type = 'diagnosis' GROUP BY p.lsoa_code`}, "")
	if st != 200 || !strings.Contains(toJSON(body["cells"]), "suppressed:threshold") {
		t.Errorf("small-cell query = %d, cells %v", st, body["cells"])
	}
	// Groups with fewer than 10 persons are withheld whole, labels too (security review F1): a
	// per-person total as a label would otherwise be released with its count suppressed.
	st, body = analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": `WITH p AS (SELECT person_id, sum(cost_gbp) AS tot
		FROM hospital_admissions GROUP BY person_id) SELECT tot, count(*) AS n FROM p WHERE tot > 20000 GROUP BY tot`}, "")
	if st == 200 && len(body["rows"].([]any)) != 0 {
		t.Errorf("per-person totals released as labels: %v", body["rows"])
	}

	// Social care records without an NHS number (unlinked) take part, all of a cell's unlinked
	// records counting as one person.
	if st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT service_type, count(*) AS placements, sum(weekly_cost_gbp) AS weekly_cost FROM social_care GROUP BY service_type"}, ""); st != 200 {
		t.Errorf("query over unlinked records = %d %v", st, body)
	}

	// Differencing: the same table with one extra condition that removes a couple of people
	// would reveal them by subtraction, so the differing cells are suppressed.
	if st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT ethnic_group, count(*) AS n FROM patients GROUP BY ethnic_group"}, ""); st != 200 {
		t.Fatalf("first query = %d %v", st, body)
	}
	st, body = analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT ethnic_group, count(*) AS n FROM patients WHERE birth_month <> DATE '1950-03-01' GROUP BY ethnic_group"}, "")
	if st != 200 || !strings.Contains(toJSON(body["cells"]), "suppressed:differencing") {
		t.Errorf("differencing query = %d, cells %s", st, toJSON(body["cells"]))
	}

	// Refusals: row-level output, person_id, file access, several statements, other roles.
	for _, q := range []string{
		"SELECT * FROM patients",
		"SELECT person_id, count(*) FROM gp_events GROUP BY person_id",
		"SELECT count(*) FROM read_csv('/etc/passwd')",
		"SELECT 1; DROP TABLE patients",
		"SELECT count(*) FROM other_workspace_table",
		// Text compared with a number: whether it fails would depend on the rows reaching it.
		"SELECT sex, count(*) AS n FROM patients WHERE sex = 'F' AND msoa_code = 12 GROUP BY sex",
	} {
		st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": q}, "")
		if st < 400 || st >= 500 {
			t.Errorf("%q = %d %v, want a 4xx refusal", q, st, body)
		}
		if msg := toJSON(body); strings.Contains(msg, m.Config.DataDir) || strings.Contains(msg, "/tmp/") {
			t.Errorf("%q: message leaks a path: %s", q, msg)
		}
	}
	// Bad input: a clear 4xx, and the workspace keeps working.
	for _, tc := range []struct {
		sql    string
		status int
		msg    string
	}{
		{"", 400, "Send the query"},
		{"SELECT sex, count(* AS n FROM patients GROUP BY sex", 400, "line 1"},
		{"SELECT no_such_column, count(*) AS n FROM patients GROUP BY no_such_column", 422, "no_such_column"},
		// The analyser accepts MAX, the default disclosure policy refuses it: the whole result is
		// refused, recorded, and the reason named.
		{"SELECT sex, max(imd_decile) AS m FROM patients GROUP BY sex", 422, "cannot be released"},
		{"SELECT count(*) AS n FROM patients WHERE sex = '" + strings.Repeat("x", 2<<20) + "'", 413, "larger than"},
		{"SELECT count(*) AS n FROM patients WHERE sex = '" + strings.Repeat("x", 200<<10) + "'", 400, "too long"},
	} {
		st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": tc.sql}, "")
		msg, _ := body["error"].(map[string]any)["message"].(string)
		if st != tc.status || !strings.Contains(msg, tc.msg) || strings.Contains(msg, m.Config.DataDir) {
			t.Errorf("%.60q = %d %q, want %d and %q", tc.sql, st, msg, tc.status, tc.msg)
		}
	}
	if st, _ := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT sex, count(*) AS n FROM patients GROUP BY sex"}, ""); st != 200 {
		t.Errorf("the workspace stopped working after bad input: %d", st)
	}

	for _, u := range []string{"planner1", "analyst2", "controller-gp", "admin"} {
		if st, _ := newClient(t, m, u).do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT count(*) AS n FROM patients"}, ""); st != 403 && st != 404 {
			t.Errorf("%s ran a query: %d", u, st)
		}
	}

	// History: analyst1 sees their queries (with refusals); CSV download of a released result.
	st, body = analyst.do("GET", "/api/v1/workspaces/demo/queries", nil, "")
	if qs := body["queries"].([]any); st != 200 || len(qs) < 7 {
		t.Errorf("history = %d, %d queries", st, len(body["queries"].([]any)))
	}
	st, body = analyst.do("POST", "/api/v1/workspaces/demo/queries?async=true", map[string]any{"sql": "SELECT sex, count(*) AS n FROM patients GROUP BY sex"}, "")
	if st != 202 {
		t.Fatalf("async = %d %v", st, body)
	}
	id := body["query_id"].(string)
	var state string
	for i := 0; i < 200 && state != "done" && state != "failed"; i++ {
		_, body = analyst.do("GET", "/api/v1/workspaces/demo/queries/"+id, nil, "")
		state, _ = body["state"].(string)
	}
	if state != "done" {
		t.Fatalf("async query state %q: %v", state, body)
	}
	req, _ := http.NewRequest("GET", analyst.base+"/api/v1/workspaces/demo/queries/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+analyst.token)
	req.Header.Set("Accept", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv" {
		t.Errorf("csv download = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// curl's default Accept (*/*) gets the query record as JSON, not a bare result.
	req, _ = http.NewRequest("GET", analyst.base+"/api/v1/workspaces/demo/queries/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+analyst.token)
	req.Header.Set("Accept", "*/*")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	json.NewDecoder(resp2.Body).Decode(&rec)
	resp2.Body.Close()
	if rec["state"] != "done" || rec["result"] == nil {
		t.Errorf("Accept */* = %v", rec)
	}
	// Another analyst cannot read it.
	if st, _ := newClient(t, m, "analyst2").do("GET", "/api/v1/workspaces/demo/queries/"+id, nil, ""); st != 404 {
		t.Errorf("analyst2 reads analyst1's query: %d", st)
	}
	// The schema browser lists the workspace's tables.
	st, body = analyst.do("GET", "/api/v1/workspaces/demo/tables", nil, "")
	if st != 200 || !strings.Contains(toJSON(body), `"person_id"`) || strings.Contains(toJSON(body), "nhs_number") {
		t.Errorf("tables = %d %s", st, toJSON(body))
	}
}

// TestOutputCheckingFlow: a result the engine flags for review is held; two different checkers
// (never the requester) approve it and the requester can then download it.
func TestOutputCheckingFlow(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	// Policy: differencing sends the result to checkers instead of suppressing cells.
	m.Query.Policy.Differencing = disclosure.ActionReview
	analyst, c1, c2 := newClient(t, m, "analyst1"), newClient(t, m, "checker1"), newClient(t, m, "checker2")
	if st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT ethnic_group, count(*) AS n FROM patients GROUP BY ethnic_group"}, ""); st != 200 {
		t.Fatalf("first query = %d %v", st, body)
	}
	st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT ethnic_group, count(*) AS n FROM patients WHERE birth_month <> DATE '1950-03-01' GROUP BY ethnic_group"}, "")
	if st != 200 || body["status"] != "review" || len(body["rows"].([]any)) != 0 {
		t.Fatalf("flagged query = %d %v", st, body)
	}
	qid, rel := body["query_id"].(string), body["release_id"].(string)

	// Only checkers see the queue; the held result is there for them.
	if st, _ := analyst.do("GET", "/api/v1/reviews", nil, ""); st != 403 {
		t.Errorf("analyst reads the review queue: %d", st)
	}
	st, body = c1.do("GET", "/api/v1/reviews", nil, "")
	if st != 200 || !strings.Contains(toJSON(body), rel) {
		t.Fatalf("checker queue = %d %v", st, body)
	}
	if st, body := c1.do("POST", "/api/v1/reviews/"+rel, map[string]any{"verdict": "approved", "comment": "Differences are structural."}, ""); st != 200 || body["status"] != "review" {
		t.Fatalf("first approval = %d %v", st, body)
	}
	if st, _ := c1.do("POST", "/api/v1/reviews/"+rel, map[string]any{"verdict": "approved", "comment": "again"}, ""); st != 409 {
		t.Errorf("same checker twice = %d", st)
	}
	if _, body := analyst.do("GET", "/api/v1/workspaces/demo/queries/"+qid, nil, ""); body["result"].(map[string]any)["status"] != "review" || len(body["result"].(map[string]any)["rows"].([]any)) != 0 {
		t.Errorf("released after one approval: %v", body["result"])
	}
	if st, body := c2.do("POST", "/api/v1/reviews/"+rel, map[string]any{"verdict": "approved", "comment": "Agree."}, ""); st != 200 || body["status"] != "released" {
		t.Fatalf("second approval = %d %v", st, body)
	}
	_, body = analyst.do("GET", "/api/v1/workspaces/demo/queries/"+qid, nil, "")
	res := body["result"].(map[string]any)
	if res["status"] != "released" || len(res["rows"].([]any)) == 0 {
		t.Errorf("requester's result after release = %v", res)
	}
}

// TestPlannerDashboard: serve --dev ships a dashboard; a planner (who cannot write SQL) reads it,
// refreshes it through disclosure control and downloads a panel as CSV.
func TestPlannerDashboard(t *testing.T) {
	m, out := startDev(t, t.TempDir())
	if !strings.Contains(out.String(), "created the demo dashboard") {
		t.Errorf("no demo dashboard:\n%s", out.String())
	}
	planner := newClient(t, m, "planner1")
	st, body := planner.do("GET", "/api/v1/workspaces/demo/dashboards", nil, "")
	ds, _ := body["dashboards"].([]any)
	if st != 200 || len(ds) != 1 {
		t.Fatalf("dashboards = %d %v", st, body)
	}
	id := ds[0].(map[string]any)["id"].(string)
	st, body = planner.do("POST", "/api/v1/workspaces/demo/dashboards/"+id+"/refresh", nil, "")
	if st != 200 {
		t.Fatalf("refresh = %d %v", st, body)
	}
	results := body["results"].([]any)
	if len(results) != 3 {
		t.Fatalf("results = %v", results)
	}
	for _, r := range results {
		r := r.(map[string]any)
		if r["error"] != nil || r["refreshed_by"] != "planner1" || r["release"] == "" {
			t.Errorf("panel result = %v", r)
		}
	}
	// The release history keeps the start-up refresh and this one, newest first, each panel
	// with its own release.
	st, body = planner.do("GET", "/api/v1/workspaces/demo/dashboards/"+id+"/history", nil, "")
	hist, _ := body["releases"].([]any)
	if st != 200 || len(hist) != 2*len(results) {
		t.Fatalf("history = %d %v", st, body)
	}
	seen := map[any]bool{}
	for i, h := range hist {
		h := h.(map[string]any)
		if h["result"] != nil || seen[h["release"]] || h["release"] == "" {
			t.Errorf("history entry %d = %v", i, h)
		}
		seen[h["release"]] = true
		if want := map[bool]string{true: "planner1", false: "analyst1"}[i < len(results)]; h["refreshed_by"] != want {
			t.Errorf("history entry %d refreshed by %v, want %s (newest first)", i, h["refreshed_by"], want)
		}
	}
	req, _ := http.NewRequest("GET", planner.base+"/api/v1/workspaces/demo/dashboards/"+id+"/panels/0", nil)
	req.Header.Set("Authorization", "Bearer "+planner.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv" {
		t.Errorf("panel CSV = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if st, body := planner.do("GET", "/api/v1/workspaces/demo/dashboards/"+id+"/panels/first", nil, ""); st != 400 || !strings.Contains(toJSON(body), "number") {
		t.Errorf("panel not a number = %d %v", st, body)
	}
	if st, body := planner.do("GET", "/api/v1/workspaces/demo/dashboards/"+id+"/panels/9", nil, ""); st != 404 || !strings.Contains(toJSON(body), "No such panel") {
		t.Errorf("panel out of range = %d %v", st, body)
	}
	// Planners still cannot run their own SQL, nor create dashboards.
	if st, _ := planner.do("POST", "/api/v1/workspaces/demo/dashboards", map[string]any{"title": "x", "panels": []map[string]any{{"title": "p", "sql": "SELECT sex, count(*) AS n FROM patients GROUP BY sex", "chart": "table"}}}, ""); st != 403 {
		t.Errorf("planner created a dashboard: %d", st)
	}
	// A panel the analyser refuses is refused at creation, naming the panel.
	st, body = newClient(t, m, "analyst1").do("POST", "/api/v1/workspaces/demo/dashboards", map[string]any{"title": "x", "panels": []map[string]any{{"title": "p", "sql": "SELECT * FROM patients", "chart": "table"}}}, "")
	if st != 422 || !strings.Contains(toJSON(body), "Panel 1") {
		t.Errorf("refused panel = %d %v", st, body)
	}
}

// TestQueryCommand: `sde query` as an analyst at a terminal, against the running service.
func TestQueryCommand(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	url := "http://" + m.HTTP.Addr()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"query", "--url", url, "--user", "analyst1", "--data", m.Config.DataDir,
		"SELECT p.lsoa_code, count(DISTINCT e.person_id) FILTER (WHERE p.birth_month = DATE '1950-03-01') AS born_march_1950, count(DISTINCT e.person_id) AS registered FROM gp_events e JOIN patients p ON p.person_id = e.person_id WHERE e.event_type = 'diagnosis' GROUP BY p.lsoa_code"}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "lsoa_code") || !strings.Contains(out.String(), "*threshold") || !strings.Contains(out.String(), "released") {
		t.Errorf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	// Refusals come back as the service's message, exit 1; another user is refused.
	if code := run(context.Background(), []string{"query", "--url", url, "--user", "analyst1", "--data", m.Config.DataDir, "SELECT * FROM patients"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "sde query:") {
		t.Errorf("row-level query: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"query", "--url", url, "--user", "planner1", "--data", m.Config.DataDir, "SELECT sex, count(*) AS n FROM patients GROUP BY sex"}, &out, &errb); code == 0 {
		t.Errorf("planner ran a query: %s", out.String())
	}
	if code := run(context.Background(), []string{"query", "--url", url}, &out, &errb); code != 2 {
		t.Errorf("no SQL: exit %d", code)
	}
}

// TestConcurrentReleasesAreCompared: two results that differ by a few people, checked at the
// same time, must not each pass against a ledger that lacks the other; whichever is released
// second has the differing cells suppressed.
func TestConcurrentReleasesAreCompared(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	// Each query waits a moment after reading the ledger, as a busy machine might: without the
	// lock from that read to the release's record, both would pass against an empty ledger.
	m.Query.Releases = slowLedger{ReleaseService: m.Query.Releases}
	analyst := newClient(t, m, "analyst1")
	for round, day := range []string{"1950-03-01", "1961-07-01"} {
		queries := []string{
			fmt.Sprintf("SELECT ethnic_group, sex, count(*) AS n FROM patients WHERE birth_month > DATE '%s' - INTERVAL 20 YEAR GROUP BY ethnic_group, sex", day),
			fmt.Sprintf("SELECT ethnic_group, sex, count(*) AS n FROM patients WHERE birth_month > DATE '%s' - INTERVAL 20 YEAR AND birth_month <> DATE '%s' GROUP BY ethnic_group, sex", day, day),
		}
		cells := make([]string, len(queries))
		var wg sync.WaitGroup
		for i, q := range queries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": q}, "")
				if st != 200 {
					t.Errorf("round %d query %d = %d %v", round, i, st, body)
				}
				cells[i] = toJSON(body["cells"])
			}()
		}
		wg.Wait()
		if !strings.Contains(cells[0], "suppressed:differencing") && !strings.Contains(cells[1], "suppressed:differencing") {
			t.Errorf("round %d: both results were released whole although they differ by a few people:\n%s\n%s", round, cells[0], cells[1])
		}
	}
}

// TestAsyncQueryNeverStaysRunning: when a query's release cannot be recorded (here the
// workspace is archived while the query runs), nothing is released and the query is recorded
// as failed, not left "running" for the analyst to poll for ever.
func TestAsyncQueryNeverStaysRunning(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	read := make(chan struct{}, 1)
	m.Query.Releases = slowLedger{m.Query.Releases, read}
	analyst := newClient(t, m, "analyst1")
	st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries?async=true", map[string]any{"sql": "SELECT sex, count(*) AS n FROM patients GROUP BY sex"}, "")
	if st != 202 || body["state"] != "running" {
		t.Fatalf("async query = %d %v", st, body)
	}
	id := body["query_id"].(string)
	<-read // disclosure control has its ledger; the release is not yet recorded
	if st, body := analyst.do("POST", "/api/v1/workspaces/demo/archive", map[string]any{"reason": "Project ended."}, ""); st != 200 {
		t.Fatalf("archive = %d %v", st, body)
	}
	for i := 0; ; i++ {
		st, body = analyst.do("GET", "/api/v1/workspaces/demo/queries/"+id, nil, "")
		if body["state"] != "running" || i > 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st != 200 || body["state"] != "failed" || body["result"] != nil {
		t.Fatalf("query after the archive = %d %v", st, body)
	}
	if e, _ := body["error"].(map[string]any); e["code"] != sde.EFORBIDDEN {
		t.Errorf("recorded error = %v", body["error"])
	}
}

// slowLedger is the real release service with a pause after each ledger read, announced on
// read if that is set.
type slowLedger struct {
	sde.ReleaseService
	read chan<- struct{}
}

func (s slowLedger) Ledger(ctx context.Context, ws sde.WorkspaceID, key string, after int64) ([]sde.LedgerEntry, error) {
	entries, err := s.ReleaseService.Ledger(ctx, ws, key, after)
	if s.read != nil {
		s.read <- struct{}{}
	}
	time.Sleep(300 * time.Millisecond)
	return entries, err
}

// TestQueriesPerUser: one person runs at most queries_per_user queries at once, background ones
// included; another is answered 429 too_many, and once one has finished the next runs.
func TestQueriesPerUser(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	read, release := make(chan struct{}, 1), make(chan struct{})
	m.Query.MaxRunning = 1
	m.Query.Releases = gatedLedger{m.Query.Releases, read, release}
	analyst := newClient(t, m, "analyst1")
	const text = "SELECT sex, count(*) AS n FROM patients GROUP BY sex"
	st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries?async=true", map[string]any{"sql": text}, "")
	if st != 202 {
		t.Fatalf("async query = %d %v", st, body)
	}
	id := body["query_id"].(string)
	<-read // the background query is running
	st, body = analyst.do("GET", "/api/v1/workspaces/demo/dashboards", nil, "")
	if st != 200 {
		t.Fatalf("dashboards = %d %v", st, body)
	}
	refresh := "/api/v1/workspaces/demo/dashboards/" + body["dashboards"].([]any)[0].(map[string]any)["id"].(string) + "/refresh"
	for _, path := range []string{"/api/v1/workspaces/demo/queries", "/api/v1/workspaces/demo/queries?async=true", refresh} {
		var send any = map[string]any{"sql": text}
		if path == refresh {
			send = nil
		}
		st, body = analyst.do("POST", path, send, "")
		e, _ := body["error"].(map[string]any)
		if st != 429 || e["code"] != sde.ETOOMANY || !strings.Contains(fmt.Sprint(e["message"]), "1 queries running") {
			t.Errorf("%s with one query running = %d %v", path, st, body)
		}
	}
	close(release)
	for i := 0; ; i++ {
		st, body = analyst.do("GET", "/api/v1/workspaces/demo/queries/"+id, nil, "")
		if body["state"] != "running" || i > 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body["state"] != "done" {
		t.Fatalf("background query = %d %v", st, body)
	}
	if st, body := analyst.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": text}, ""); st != 200 {
		t.Errorf("after it finished = %d %v", st, body)
	}
}

// gatedLedger is the real release service whose ledger reads wait until release is closed,
// announcing each on read (if there is room).
type gatedLedger struct {
	sde.ReleaseService
	read    chan struct{}
	release chan struct{}
}

func (g gatedLedger) Ledger(ctx context.Context, ws sde.WorkspaceID, key string, after int64) ([]sde.LedgerEntry, error) {
	select {
	case g.read <- struct{}{}:
	default:
	}
	<-g.release
	return g.ReleaseService.Ledger(ctx, ws, key, after)
}
