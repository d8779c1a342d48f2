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
	t     *testing.T
	base  string
	token string
}

func newClient(t *testing.T, m *Main, user string) *client {
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
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
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
