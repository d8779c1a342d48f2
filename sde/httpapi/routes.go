package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
)

// route is one endpoint. The table in routes() is the single list of endpoints: the mux, the
// authorisation matrix test and the OpenAPI consistency test all read it.
type route struct {
	Method  string
	Pattern string // net/http pattern, e.g. "/api/v1/workspaces/{ws}"
	// Action names the audit record; every request to an API route is audited, reads included,
	// because who looked at what is part of the record.
	Action string
	// Public routes need no sign-in (health, the OpenAPI document, the transparency page).
	Public bool
	Handle func(w http.ResponseWriter, r *http.Request) error
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", "", true, s.healthz},
		{"GET", "/api/v1/openapi.yaml", "", true, s.openapi},
		{"GET", "/api/v1/transparency", "", true, s.transparency},
		{"GET", "/transparency", "", true, s.transparencyPage},
		{"GET", "/api/v1/me", "me.read", false, s.me},

		{"GET", "/api/v1/organisations", "organisation.list", false, s.listOrganisations},
		{"POST", "/api/v1/organisations", "organisation.register", false, s.registerOrganisation},
		{"GET", "/api/v1/people", "person.list", false, s.listPeople},
		{"POST", "/api/v1/people", "person.register", false, s.registerPerson},

		{"GET", "/api/v1/datasets", "dataset.list", false, s.listDatasets},
		{"POST", "/api/v1/datasets", "dataset.register", false, s.registerDataset},
		{"GET", "/api/v1/datasets/{name}", "dataset.read", false, s.getDataset},
		{"GET", "/api/v1/datasets/{name}/usage", "dataset.usage", false, s.datasetUsage},
		{"POST", "/api/v1/datasets/{name}/versions", "dataset.upload", false, s.uploadVersion},
		{"GET", "/api/v1/ingests/{id}", "ingest.read", false, s.getIngest},

		{"GET", "/api/v1/agreements", "agreement.list", false, s.listAgreements},
		{"POST", "/api/v1/agreements", "agreement.create", false, s.createAgreement},
		{"GET", "/api/v1/agreements/{id}", "agreement.read", false, s.getAgreement},
		{"POST", "/api/v1/agreements/{id}/sign", "agreement.sign", false, s.signAgreement},
		{"POST", "/api/v1/agreements/{id}/revoke", "agreement.revoke", false, s.revokeAgreement},

		{"GET", "/api/v1/workspaces", "workspace.list", false, s.listWorkspaces},
		{"POST", "/api/v1/workspaces", "workspace.request", false, s.requestWorkspace},
		{"GET", "/api/v1/workspaces/{ws}", "workspace.read", false, s.getWorkspace},
		{"GET", "/api/v1/workspaces/{ws}/history", "workspace.history", false, s.workspaceHistory},
		{"POST", "/api/v1/workspaces/{ws}/decisions", "workspace.decide", false, s.decideWorkspace},
		{"POST", "/api/v1/workspaces/{ws}/members", "workspace.member.add", false, s.addMember},
		{"POST", "/api/v1/workspaces/{ws}/members/{user}/confirm", "workspace.member.confirm", false, s.confirmMember},
		{"DELETE", "/api/v1/workspaces/{ws}/members/{user}", "workspace.member.remove", false, s.removeMember},
		{"POST", "/api/v1/workspaces/{ws}/archive", "workspace.archive", false, s.archiveWorkspace},
		{"GET", "/api/v1/workspaces/{ws}/tables", "workspace.tables", false, s.listTables},
		{"POST", "/api/v1/workspaces/{ws}/queries", "query.run", false, s.runQuery},
		{"GET", "/api/v1/workspaces/{ws}/queries", "query.list", false, s.listQueries},
		{"GET", "/api/v1/workspaces/{ws}/queries/{id}", "query.read", false, s.getQuery},
		{"POST", "/api/v1/workspaces/{ws}/dashboards", "dashboard.create", false, s.createDashboard},
		{"GET", "/api/v1/workspaces/{ws}/dashboards", "dashboard.list", false, s.listDashboards},
		{"GET", "/api/v1/workspaces/{ws}/dashboards/{id}", "dashboard.read", false, s.getDashboard},
		{"POST", "/api/v1/workspaces/{ws}/dashboards/{id}/refresh", "dashboard.refresh", false, s.refreshDashboard},
		{"GET", "/api/v1/workspaces/{ws}/dashboards/{id}/history", "dashboard.history", false, s.dashboardHistory},
		{"GET", "/api/v1/workspaces/{ws}/dashboards/{id}/panels/{panel}", "dashboard.download", false, s.panelCSV},

		{"GET", "/api/v1/reviews", "review.queue", false, s.reviewQueue},
		{"POST", "/api/v1/reviews/{id}", "review.decide", false, s.reviewDecide},

		{"GET", "/api/v1/audit", "audit.export", false, s.exportAudit},
	}
}

// reqInfo travels in the request context so the outermost handler, which writes the audit
// record, learns what the inner layers found: the caller and what the request touched.
type reqInfo struct {
	principal *sde.Principal
	action    string
	workspace sde.WorkspaceID
	target    string
	details   map[string]any
	err       error
}

type reqInfoKey struct{}

func info(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	if ri == nil {
		return &reqInfo{} // outside ServeHTTP (unit tests of a handler): a throwaway
	}
	return ri
}

// target records what a request touched, for the audit record.
func target(r *http.Request, ws sde.WorkspaceID, t string) {
	ri := info(r.Context())
	ri.workspace, ri.target = ws, t
}

// detail adds a fact to the audit record.
func detail(r *http.Request, k string, v any) {
	ri := info(r.Context())
	if ri.details == nil {
		ri.details = map[string]any{}
	}
	ri.details[k] = v
}

// wrap turns a route into a handler: it demands sign-in where needed and records the caller.
func (s *Server) wrap(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ri := info(r.Context())
		ri.action = rt.Action
		ri.principal = sde.PrincipalFrom(r.Context())
		var err error
		if !rt.Public && ri.principal == nil {
			err = sde.Errorf(sde.EUNAUTHORIZED, "Sign in first: send an OIDC bearer token.")
		} else {
			err = rt.Handle(w, r)
		}
		if err != nil {
			ri.err = err
			s.Error(w, r, err)
		}
	}
}

// ServeHTTP authenticates, routes, and writes an audit record for every API request before any
// of the response leaves: the response is buffered, and if the record cannot be written the
// client gets 503 instead (fail closed, as Vault's audit devices do).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ri := &reqInfo{}
	r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
	bw := &bufferedWriter{header: http.Header{}}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		// API answers (JSON, CSV, Arrow, the audit export) are data: never cached, never
		// sniffed into something a browser runs, never framed (third review, F3).
		h := bw.header
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Vary", "Accept, Cookie, Authorization")
	}
	s.authed.ServeHTTP(bw, r)
	if s.audited(r, ri, bw.status) {
		ev := audit.FromPrincipal(ri.principal, ri.action, outcome(bw.status))
		if ev.Action == "" {
			ev.Action = audit.ActionAuthRefused // the authentication layer answered before any route
		}
		ev.Workspace, ev.Target, ev.Details = ri.workspace, ri.target, ri.details
		ev.RemoteAddr = r.RemoteAddr
		if ri.err != nil {
			if ev.Details == nil {
				ev.Details = map[string]any{}
			}
			ev.Details["error"] = sde.ErrorCode(ri.err)
		}
		ev.Details = withMethod(ev.Details, r)
		if _, err := s.Audit.Append(r.Context(), ev); err != nil {
			s.Error(w, r, sde.Wrap(err, sde.EUNAVAILABLE, "The audit log cannot be written, so the request was refused. Try again later."))
			return
		}
	}
	bw.flush(w)
}

// audited reports whether a request gets an audit record: every API request, and any refusal.
func (s *Server) audited(r *http.Request, ri *reqInfo, status int) bool {
	if s.Audit == nil {
		return false
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return true
	}
	return ri.action != "" && strings.HasPrefix(r.URL.Path, "/api/")
}

func outcome(status int) string {
	switch {
	case status < 400:
		return audit.OutcomeOK
	case status < 500:
		return audit.OutcomeRefused
	}
	return audit.OutcomeError
}

func withMethod(d map[string]any, r *http.Request) map[string]any {
	if d == nil {
		d = map[string]any{}
	}
	d["method"] = r.Method
	d["path"] = r.URL.Path
	return d
}

// bufferedWriter holds a response until the audit record is safely written.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedWriter) flush(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	w.Write(b.body.Bytes())
}

// Routes lists every endpoint as "METHOD pattern" (public ones marked " public"), so tests
// outside this package can check they cover them all.
func Routes() []string {
	var out []string
	for _, rt := range (&Server{}).routes() {
		r := rt.Method + " " + rt.Pattern
		if rt.Public {
			r += " public"
		}
		out = append(out, r)
	}
	return out
}
