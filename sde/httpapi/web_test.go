package httpapi

import (
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
