package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
)

// oneDataset is a DatasetService stand-in for HTTP unit tests: one dataset controlled by RVGPC.
type oneDataset struct{ sde.DatasetService }

func (oneDataset) Get(ctx context.Context, name sde.DatasetName) (*sde.Dataset, error) {
	return &sde.Dataset{Name: name, Controller: "RVGPC", Spec: []byte(`{"name":"gp_events","title":"t","controller":{"code":"RVGPC","name":"GP"},"columns":[{"name":"n","type":"INTEGER"}]}`)}, nil
}

func TestUploadLimitAndBadAuditTimes(t *testing.T) {
	controller := &sde.Principal{User: "controller-gp", Organisation: "RVGPC", Roles: []sde.Role{sde.RoleController}}
	admin := &sde.Principal{User: "admin", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAdmin}}
	for _, tc := range []struct {
		name       string
		who        *sde.Principal
		method     string
		path, body string
		status     int
		msg        string
	}{
		{"upload over the limit", controller, "POST", "/api/v1/datasets/gp_events/versions?format=csv", strings.Repeat("x", 100), 413, "larger than the limit"},
		{"upload without a format", controller, "POST", "/api/v1/datasets/gp_events/versions", "n\n1\n", 400, "Content-Type"},
		{"bad format", controller, "POST", "/api/v1/datasets/gp_events/versions?format=xlsx", "n\n1\n", 400, "format must be"},
		{"audit export with a bad time", admin, "GET", "/api/v1/audit?since=yesterday", "", 400, "since must be a date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(&Server{Datasets: oneDataset{}, MaxUpload: 50, Authenticate: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(w, r.WithContext(sde.WithPrincipal(r.Context(), tc.who)))
				})
			}})
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Errorf("%d %s; want %d and %q", rec.Code, rec.Body.String(), tc.status, tc.msg)
			}
		})
	}
}
