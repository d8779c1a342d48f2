package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/sde/audit"
	"github.com/opensde/sde/sde/auth"
	"github.com/opensde/sde/sde/synth"
)

// client calls the running service as one demo user ("" = anonymous).
type client struct {
	t     testing.TB
	base  string
	token string
}

func newClient(t testing.TB, m *Main, user string) *client {
	t.Helper()
	c := &client{t: t, base: "http://" + m.HTTP.Addr()}
	if user != "" {
		tok, err := auth.DevToken(auth.DevIssuerDir(m.Config.DataDir), user, time.Hour, time.Now())
		if err != nil {
			t.Fatalf("token for %s: %v", user, err)
		}
		c.token = tok
	}
	return c
}

// do sends a request and returns the status and decoded JSON body (nil if not JSON).
func (c *client) do(method, path string, body any, contentType string) (int, map[string]any) {
	c.t.Helper()
	st, raw := c.send(method, path, body, contentType)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return st, out
}

// send is do without decoding the response: its status and body as received.
func (c *client) send(method, path string, body any, contentType string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
		contentType = "application/json"
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// TestAPIGovernanceFlow drives the REST API as the demo users would.
func TestAPIGovernanceFlow(t *testing.T) {
	data := t.TempDir()
	m, _ := startDev(t, data)
	analyst, gp, anon := newClient(t, m, "analyst1"), newClient(t, m, "controller-gp"), newClient(t, m, "")

	if st, body := anon.do("GET", "/api/v1/me", nil, ""); st != 401 || errCode(body) != "unauthorized" {
		t.Errorf("anonymous /me = %d %v", st, body)
	}
	if st, body := analyst.do("GET", "/api/v1/me", nil, ""); st != 200 || body["user"] != "analyst1" {
		t.Errorf("/me = %d %v", st, body)
	}
	bad := &client{t: t, base: analyst.base, token: analyst.token[:len(analyst.token)-4] + "AAAA"}
	if st, _ := bad.do("GET", "/api/v1/me", nil, ""); st != 401 {
		t.Errorf("tampered token = %d", st)
	}

	// The catalogue: every synthetic dataset with its lineage, no data.
	st, body := analyst.do("GET", "/api/v1/datasets", nil, "")
	ds, _ := body["datasets"].([]any)
	if st != 200 || len(ds) != len(synth.Specs()) {
		t.Fatalf("datasets = %d, %d entries", st, len(ds))
	}
	first := ds[0].(map[string]any)
	if vs, _ := first["versions"].([]any); len(vs) != 1 {
		t.Errorf("dataset %v has versions %v", first["name"], first["versions"])
	}

	// The demo workspace is active with analyst1 as a member.
	st, body = analyst.do("GET", "/api/v1/workspaces/demo", nil, "")
	if st != 200 || body["state"] != "active" {
		t.Errorf("demo workspace = %d %v", st, body["state"])
	}

	// The workspace's tables name the dataset versions they hold.
	gpEventsVersion := func() any {
		t.Helper()
		st, body := analyst.do("GET", "/api/v1/workspaces/demo/tables", nil, "")
		tables, _ := body["tables"].([]any)
		for _, tb := range tables {
			if tb := tb.(map[string]any); tb["dataset"] == "gp_events" {
				return tb["version"]
			}
		}
		t.Fatalf("tables = %d %v", st, body)
		return nil
	}
	if v := gpEventsVersion(); v != 1.0 {
		t.Errorf("gp_events in the workspace is version %v, want 1", v)
	}

	// The GP controller uploads a new version of patients; an analyst may not.
	src := t.TempDir()
	if _, err := synth.Generate(context.Background(), synth.Options{Seed: 3, People: 300, Out: src}); err != nil {
		t.Fatal(err)
	}
	csvBytes, _ := os.ReadFile(filepath.Join(src, "gp_events.csv"))
	if st, body := analyst.do("POST", "/api/v1/datasets/gp_events/versions?wait=true", csvBytes, "text/csv"); st != 403 {
		t.Errorf("analyst upload = %d %v", st, body)
	}
	st, body = gp.do("POST", "/api/v1/datasets/gp_events/versions?wait=true&filename=extract.csv", csvBytes, "text/csv")
	rep, _ := body["report"].(map[string]any)
	if st != 200 || body["state"] != "done" || rep == nil || rep["version"] != 2.0 {
		t.Fatalf("upload = %d %v", st, body)
	}
	if rows := rep["rows"].(map[string]any); rows["quarantined"].(float64) == 0 || rep["source"].(map[string]any)["name"] != "extract.csv" {
		t.Errorf("report = %v", rep)
	}
	// The workspace now holds the new version: its database was made again, not served from
	// what was read before.
	if v := gpEventsVersion(); v != 2.0 {
		t.Errorf("after the upload gp_events in the workspace is version %v, want 2", v)
	}
	// Asynchronous upload: 202 and a job to poll.
	st, body = gp.do("POST", "/api/v1/datasets/gp_events/versions", csvBytes, "text/csv")
	if st != 202 {
		t.Fatalf("async upload = %d %v", st, body)
	}
	job := body["id"].(string)
	for i := 0; ; i++ {
		st, body = gp.do("GET", "/api/v1/ingests/"+job, nil, "")
		if body["state"] != "running" || i > 200 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body["state"] != "done" || len(body["progress"].([]any)) == 0 {
		t.Errorf("job = %v", body)
	}
	if st, _ := analyst.do("GET", "/api/v1/ingests/"+job, nil, ""); st != 404 {
		t.Errorf("another user sees the job: %d", st)
	}
	// Bad uploads: no format; garbage Parquet.
	if st, body := gp.do("POST", "/api/v1/datasets/gp_events/versions", csvBytes, ""); st != 400 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "Content-Type") {
		t.Errorf("upload without format = %d %v", st, body)
	}
	st, body = gp.do("POST", "/api/v1/datasets/gp_events/versions?wait=true&format=parquet", []byte("PAR1garbage"), "")
	if st != 400 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "Parquet") {
		t.Errorf("garbage parquet = %d %v", st, body)
	}

	// The GP controller sees where patients is used: the demo workspace, approved, with the
	// releases of the demo dashboard the analyst made.
	st, body = gp.do("GET", "/api/v1/datasets/patients/usage", nil, "")
	wsu, _ := body["workspaces"].([]any)
	if st != 200 || len(wsu) != 1 {
		t.Fatalf("usage = %d %v", st, body)
	}
	u := wsu[0].(map[string]any)
	if u["workspace"] != "demo" || u["approval"] != "approved" || u["releases"].(float64) < 1 || !strings.Contains(toJSON(u["users"]), `"analyst1"`) {
		t.Errorf("demo usage = %v", u)
	}
	if st, _ := newClient(t, m, "controller-la").do("GET", "/api/v1/datasets/patients/usage", nil, ""); st != 403 {
		t.Errorf("another organisation's controller reads usage: %d", st)
	}

	// Every request above is in the audit log, which verifies.
	m.Close()
	f, err := os.Open(audit.Path(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var all bytes.Buffer
	if _, err := audit.Export(f, &all, audit.Filter{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"auth.refused"`, `"me.read"`, `"dataset.upload"`, `"dataset.version.create"`, `"analyst1"`, `"controller-gp"`} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	f.Seek(0, 0)
	if n, _, verr := audit.Verify(f); verr != nil || n < 10 {
		t.Errorf("audit verify: %d records, %v", n, verr)
	}
}

// TestAPIBadInputChangesNothing: each bad request gets a clear 4xx and leaves the agreements
// and workspaces exactly as they were.
func TestAPIBadInputChangesNothing(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	as := func(u string) *client { return newClient(t, m, u) }
	future := func(days int) string { return time.Now().AddDate(0, 0, days).UTC().Format(time.RFC3339) }
	agreement := func(edit func(map[string]any)) map[string]any {
		a := map[string]any{
			"title": "Bad input", "lawful_basis_art6": "6(1)(e) public task", "condition_art9": "9(2)(h) health or social care",
			"purpose_category": "planning", "purpose": "Test.", "parties": []string{"RVGPC", "RVLA"},
			"datasets":         []map[string]any{{"dataset": "patients"}, {"dataset": "social_care"}},
			"escalation_route": "IG group", "review_date": future(100), "expiry": future(400),
		}
		if edit != nil {
			edit(a)
		}
		return a
	}
	workspace := func(edit func(map[string]any)) map[string]any {
		w := map[string]any{"id": "bad", "name": "bad", "purpose": "Test.", "agreement": "demo-planning",
			"datasets": []map[string]any{{"dataset": "patients"}}, "end_date": future(100)}
		if edit != nil {
			edit(w)
		}
		return w
	}
	// An agreement that is in force for a day, then expires (signed by both parties).
	st, body := as("controller-gp").do("POST", "/api/v1/agreements", agreement(func(a map[string]any) { a["title"] = "Short"; a["review_date"] = future(1); a["expiry"] = future(2) }), "")
	if st != 201 {
		t.Fatalf("short agreement: %d %v", st, body)
	}
	short := body["id"].(string)
	// The analyst's own pending request, for the self-approval case.
	if st, body := as("analyst1").do("POST", "/api/v1/workspaces", workspace(func(w map[string]any) { w["id"], w["name"] = "pending", "pending" }), ""); st != 201 {
		t.Fatalf("pending workspace: %d %v", st, body)
	}

	snapshot := func() string {
		_, a := as("admin").do("GET", "/api/v1/agreements", nil, "")
		_, w := as("controller-gp").do("GET", "/api/v1/workspaces", nil, "")
		_, d := as("admin").do("GET", "/api/v1/datasets", nil, "")
		js, _ := json.Marshal([]any{a, w, d})
		return string(js)
	}
	cases := []struct {
		name, user, method, path string
		body                     any
		status                   int
		msg                      string
	}{
		{"agreement missing fields", "controller-gp", "POST", "/api/v1/agreements", agreement(func(a map[string]any) { delete(a, "lawful_basis_art6"); delete(a, "escalation_route") }), 400, "Article 6, escalation route"},
		{"agreement with an unknown dataset", "controller-gp", "POST", "/api/v1/agreements", agreement(func(a map[string]any) { a["datasets"] = []map[string]any{{"dataset": "no_such"}} }), 400, "no_such"},
		{"agreement with an unknown column", "controller-gp", "POST", "/api/v1/agreements", agreement(func(a map[string]any) {
			a["datasets"] = []map[string]any{{"dataset": "patients", "columns": []string{"nhs_number"}}}
		}), 400, "nhs_number"},
		{"agreement that is not JSON", "controller-gp", "POST", "/api/v1/agreements", []byte("{"), 400, "not valid JSON"},
		{"agreement with an unknown field", "controller-gp", "POST", "/api/v1/agreements", map[string]any{"titel": "x"}, 400, "unknown field"},
		{"duplicate workspace name", "analyst1", "POST", "/api/v1/workspaces", workspace(func(w map[string]any) { w["id"], w["name"] = "demo", "demo" }), 409, ""},
		{"workspace with unknown dataset", "analyst1", "POST", "/api/v1/workspaces", workspace(func(w map[string]any) { w["datasets"] = []map[string]any{{"dataset": "no_such"}} }), 400, "no_such"},
		{"workspace with a column outside the agreement", "analyst1", "POST", "/api/v1/workspaces", workspace(func(w map[string]any) {
			w["datasets"] = []map[string]any{{"dataset": "patients", "columns": []string{"given_name"}}}
		}), 400, "given_name"},
		{"approval by a controller of another organisation", "controller-la", "POST", "/api/v1/workspaces/pending/decisions", map[string]any{"dataset": "patients", "verdict": "approved"}, 404, ""},
		{"approval of a dataset of another organisation", "controller-acute", "POST", "/api/v1/workspaces/demo/decisions", map[string]any{"dataset": "patients", "verdict": "withdrawn", "reason": "x"}, 403, ""},
		{"a requester approving their own request", "analyst1", "POST", "/api/v1/workspaces/pending/decisions", map[string]any{"dataset": "patients", "verdict": "approved"}, 403, ""},
		{"refusal without a reason", "controller-gp", "POST", "/api/v1/workspaces/pending/decisions", map[string]any{"dataset": "patients", "verdict": "refused"}, 400, "reason"},
		{"duplicate organisation", "admin", "POST", "/api/v1/organisations", map[string]any{"code": "RVGPC", "name": "Again", "kind": "gp"}, 409, ""},
		{"duplicate dataset", "admin", "POST", "/api/v1/datasets", map[string]any{"spec": json.RawMessage(synth.Specs()[0].JSON)}, 409, ""},
		{"bad dataset spec", "admin", "POST", "/api/v1/datasets", map[string]any{"spec": map[string]any{"name": "x"}}, 400, ""},
		{"dataset without a spec", "admin", "POST", "/api/v1/datasets", map[string]any{}, 400, "Send the dataset spec"},
		{"empty request body", "admin", "POST", "/api/v1/organisations", []byte{}, 400, "body is empty"},
		{"request body over 1 MiB", "admin", "POST", "/api/v1/organisations", []byte(`{"name": "` + strings.Repeat("x", 1<<20) + `"}`), 413, "larger than 1024 KiB"},
	}
	before := snapshot()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := as(tc.user).do(tc.method, tc.path, tc.body, "")
			e, _ := body["error"].(map[string]any)
			msg, _ := e["message"].(string)
			if st != tc.status || msg == "" || !strings.Contains(msg, tc.msg) {
				t.Errorf("%d %q; want %d and a message containing %q", st, msg, tc.status, tc.msg)
			}
			if strings.Contains(msg, m.Config.DataDir) || strings.Contains(msg, "sqlite") || strings.Contains(msg, "SQL") {
				t.Errorf("message leaks internals: %q", msg)
			}
			if after := snapshot(); after != before {
				t.Errorf("state changed")
			}
		})
	}

	// A request against an expired agreement: move the clock past expiry by waiting is not
	// possible here, so revoke it instead (the same refusal path: not in force).
	as("controller-gp").do("POST", "/api/v1/agreements/"+short+"/revoke", map[string]any{"reason": "Test."}, "")
	st, body = as("analyst1").do("POST", "/api/v1/workspaces", workspace(func(w map[string]any) { w["agreement"] = short; w["id"], w["name"] = "late", "late" }), "")
	if st != 409 {
		t.Errorf("request against a revoked agreement: %d %v", st, body)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTransparencyPage: anyone can read how data is used — agreements, approved work, what was
// released — with no sign-in, no script, and nobody named.
func TestTransparencyPage(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	resp, err := http.Get("http://" + m.HTTP.Addr() + "/transparency")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"North Riverside population health planning", "6(1)(e) public task", "9(2)(h)", "demo", "NHS England National Data Opt-out Service", "in force", "active", "Riverside City Council Adult Social Care"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, never := range []string{"analyst1", "planner1", "controller-", "@", "<script"} {
		if strings.Contains(page, never) {
			t.Errorf("page contains %q", never)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
}
