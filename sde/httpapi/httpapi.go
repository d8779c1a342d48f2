// Package httpapi serves the SDE's REST API: handlers return errors, and one function turns an
// error into a status and a user-safe JSON body while the cause goes to the log.
package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
	"github.com/opensde/sde/sde/catalog"
	"github.com/opensde/sde/sde/httperr"
	"github.com/opensde/sde/workspaces/query"
)

// Server is the HTTP face of the SDE. Fields are its dependencies; set them, then call New.
type Server struct {
	Catalog       *catalog.Catalog
	Pseudonymiser crypto.Pseudonymiser
	Organisations sde.OrganisationService
	People        sde.PersonService
	Datasets      sde.DatasetService
	Agreements    sde.AgreementService
	Workspaces    sde.WorkspaceService
	Queries       sde.QueryService
	Transparency  sde.TransparencyService
	Reviews       sde.ReviewService
	Dashboards    sde.DashboardService
	// Query runs analysts' SQL along the query path; nil disables the query endpoints' work.
	Query *query.Service
	// Audit records every API request before its response is sent; nil only in unit tests.
	Audit audit.Appender
	// AuditPath is the audit log file, for export.
	AuditPath string
	// Authenticate puts the caller's principal in the request context (bearer token or session
	// cookie) and answers 401 itself for bad credentials; nil means nobody is ever signed in.
	Authenticate func(http.Handler) http.Handler
	// Mount adds routes of other packages (the OIDC dev issuer, the login flow).
	Mount func(mux *http.ServeMux)
	// Ingest bounds uploads: memory limit and threads of each ingest, largest upload in bytes.
	IngestMemoryLimit string
	IngestThreads     int
	MaxUpload         int64
	Logger            *slog.Logger

	ready   atomic.Bool
	srv     *http.Server
	ln      net.Listener
	mux     *http.ServeMux
	authed  http.Handler
	ingests ingestJobs
}

// New wires the routes; call Listen, then SetReady once start-up work is done.
func New(s *Server) *Server {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.MaxUpload == 0 {
		s.MaxUpload = 8 << 30
	}
	s.mux = http.NewServeMux()
	for _, rt := range s.routes() {
		s.mux.HandleFunc(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	mountWeb(s.mux)
	if s.Mount != nil {
		s.Mount(s.mux)
	}
	s.authed = s.mux
	if s.Authenticate != nil {
		s.authed = s.Authenticate(s.mux)
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Listen binds addr and serves in the background. The service answers /healthz with 503
// until SetReady, so orchestrators and scripts can wait for start-up work such as the dev ingest.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return sde.Wrap(err, sde.EINVALID, "Cannot listen on %s; is another service using it?", addr)
	}
	s.ln = ln
	go s.srv.Serve(ln)
	return nil
}

// Addr is the bound address (useful with port 0 in tests).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// SetReady marks start-up complete.
func (s *Server) SetReady() { s.ready.Store(true) }

// Close stops the server, letting in-flight requests finish for a few seconds, and cancels
// running ingests (which then leave no version behind).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.ingests.stop()
	return s.srv.Shutdown(ctx)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if !s.ready.Load() {
		return sde.Errorf(sde.EUNAVAILABLE, "Starting up.")
	}
	// With a broken audit log every API request is refused, so the service is not healthy: say
	// so, and an orchestrator can restart it (reopening the log recovers from a torn write).
	if a, ok := s.Audit.(interface{ Err() error }); ok && a.Err() != nil {
		return sde.Wrap(a.Err(), sde.EUNAVAILABLE, "The audit log cannot be written.")
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Error writes {"error": {"code", "message"}} with the code's status; internal causes are logged,
// never sent.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	httperr.Write(w, r, s.Logger, "request failed", err)
}

func writeJSON(w http.ResponseWriter, status int, v any) error { return httperr.JSON(w, status, v) }
