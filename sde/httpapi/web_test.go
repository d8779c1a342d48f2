package httpapi

import (
	"encoding/json"
	"github.com/opensde/sde/workspaces/query"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWebAssets: the workbench page and its assets are served to anyone, with a policy that
// allows only this site's scripts; nothing outside the embedded tree is reachable.
func TestWebAssets(t *testing.T) {
	s := New(&Server{})
	cases := []struct {
		path, ctype, contains string
		status                int
	}{
		{"/", "text/html", `<script src="/static/app.js" defer></script>`, 200},
		{"/static/app.js", "javascript", "use strict", 200},
		{"/static/app.css", "text/css", ":root", 200},
		{"/static/vendor/echarts.min.js", "javascript", "echarts", 200},
		{"/static/nope.js", "", "", 404},
		{"/static/", "", "", 404},
		{"/static/vendor/", "", "", 404},
		{"/static/../web.go", "", "", 404},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != c.status && !(c.status == 404 && rec.Code >= 300 && rec.Code < 400) {
			t.Errorf("%s = %d, want %d", c.path, rec.Code, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, c.ctype) {
			t.Errorf("%s content type %q", c.path, ct)
		}
		if !strings.Contains(string(body), c.contains) {
			t.Errorf("%s lacks %q", c.path, c.contains)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s CSP = %q", c.path, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s lacks nosniff", c.path)
		}
	}
	// The page is a shell: no data, and the same for everyone.
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if strings.Contains(rec.Body.String(), "person_id") {
		t.Error("the page shell holds data")
	}
}

// TestSpreadsheetSafe: text that a spreadsheet would run as a formula is quoted in CSV
// downloads; numbers, negative ones included, are left alone.
func TestSpreadsheetSafe(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("https://evil.example")`: `'=HYPERLINK("https://evil.example")`,
		"+1":                                 "'+1",
		"-2+3":                               "'-2+3",
		"@SUM(A1)":                           "'@SUM(A1)",
		"\tx":                                "'\tx",
		"E02900001":                          "E02900001",
		"":                                   "",
	} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
	res := &query.Result{Columns: []query.Column{{Name: "=label"}, {Name: "n"}}, Rows: [][]any{{"=1+1", int64(-5)}, {nil, int64(3)}}}
	rec := httptest.NewRecorder()
	if err := writeResult(rec, formatCSV, res); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.Body.String(), "'=label,n\n'=1+1,-5\n,3\n"; got != want {
		t.Errorf("CSV = %q, want %q", got, want)
	}
}

// TestAPIResponsesAreNotCached: every API answer, downloads included, is marked as data a
// browser must neither cache nor run.
func TestAPIResponsesAreNotCached(t *testing.T) {
	s := New(&Server{})
	for _, path := range []string{"/api/v1/me", "/api/v1/workspaces/demo/queries/q-1?format=csv"} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		h := rec.Header()
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%s: headers %v", path, h)
		}
	}
}

// TestCSVNumbers: large counts and sums download as digits, from a fresh result and from a
// stored one alike.
func TestCSVNumbers(t *testing.T) {
	res := &query.Result{Columns: []query.Column{{Name: "n"}, {Name: "cost"}}, Rows: [][]any{{int64(1234567), 1234567.5}, {int64(-3), -0.25}}}
	rec := httptest.NewRecorder()
	if err := writeResult(rec, formatCSV, res); err != nil {
		t.Fatal(err)
	}
	want := "n,cost\n1234567,1234567.5\n-3,-0.25\n"
	if rec.Body.String() != want {
		t.Errorf("fresh CSV = %q, want %q", rec.Body.String(), want)
	}
	stored, _ := json.Marshal(res)
	var back query.Result
	if err := decodeResult(stored, &back); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	if err := writeResult(rec, formatCSV, &back); err != nil {
		t.Fatal(err)
	}
	if rec.Body.String() != want {
		t.Errorf("stored CSV = %q, want %q", rec.Body.String(), want)
	}
}
