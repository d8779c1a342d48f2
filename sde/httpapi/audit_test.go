package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
)

// signedIn is an Authenticate stand-in for unit tests: every request is analyst1.
func signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &sde.Principal{User: "analyst1", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAnalyst}}
		next.ServeHTTP(w, r.WithContext(sde.WithPrincipal(r.Context(), p)))
	})
}

// TestAuditFailClosed: when the audit log cannot be written, the request is refused with 503
// and nothing of the handler's response leaves; when it can, the record is there.
func TestAuditFailClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	log, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(&Server{Audit: log, AuditPath: path, Authenticate: signedIn})
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/me", nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if st, body := get(); st != 200 || !strings.Contains(body, "analyst1") {
		t.Fatalf("with a working log: %d %s", st, body)
	}
	log.Close() // the log can no longer be written
	st, body := get()
	if st != http.StatusServiceUnavailable || strings.Contains(body, `"user"`) {
		t.Fatalf("with a broken log: %d %s", st, body)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal([]byte(body), &e)
	if e.Error.Code != sde.EUNAVAILABLE || !strings.Contains(e.Error.Message, "audit log") || strings.Contains(e.Error.Message, path) {
		t.Errorf("error = %+v", e)
	}
	// The one record that was written is the successful request.
	reopened, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	if n, _ := reopened.Head(); n != 1 {
		t.Errorf("audit records = %d, want 1", n)
	}
}

// TestHealthzReportsBrokenAudit: health checks are not themselves audited, but with a broken
// log they answer 503, since every API request would be refused.
func TestHealthzReportsBrokenAudit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(&Server{Audit: log})
	s.SetReady()
	health := func() int {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		return rec.Code
	}
	if st := health(); st != 200 {
		t.Errorf("healthz with a working log = %d", st)
	}
	log.Close()
	if st := health(); st != 503 {
		t.Errorf("healthz with a broken log = %d", st)
	}
}
