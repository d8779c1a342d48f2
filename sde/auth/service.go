package auth

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opensde/sde/sde"
)

// Options configure Service.Start.
type Options struct {
	Config  Config
	DataDir string // default home of the session key and the dev issuer
	Dev     bool   // run the built-in development issuer on the service's own server
	Addr    string // the address the service listens on (names the dev issuer's URL)
	Logger  *slog.Logger
	// Audit, if set, records each browser sign-in and sign-out ("auth.signin", "auth.signout")
	// before the response; an error refuses the sign-in (fail closed).
	Audit func(r *http.Request, p *sde.Principal, action string) error
}

// Service is identity for a running server. It exists in two steps because in development the
// issuer is the server itself: Mount and Middleware are wired into the server before it listens,
// and Start, once it listens, brings up the issuer and discovers it over HTTP like any external
// one. Until then sign-in paths answer 503 and credentials are not yet checkable.
type Service struct {
	// Set by Start.
	Verifier *Verifier
	Sessions *Sessions
	Login    *Login
	Dev      *DevIssuer // nil unless Options.Dev

	routes atomic.Pointer[http.ServeMux]
	mw     atomic.Pointer[func(http.Handler) http.Handler]
}

// New returns a service to Mount and wrap with Middleware, then Start.
func New() *Service { return &Service{} }

// Mount routes the sign-in paths (/auth/...) and the development issuer's (/oidc/...) to the
// service.
func (s *Service) Mount(mux *http.ServeMux) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := s.routes.Load(); m != nil {
			m.ServeHTTP(w, r)
			return
		}
		writeError(w, r, nil, sde.Errorf(sde.EUNAVAILABLE, "Starting up."))
	})
	mux.Handle(loginPrefix, h)
	mux.Handle(DevIssuerPath+"/", h)
}

// Middleware identifies callers (see the package function Middleware). Before Start, anonymous
// requests pass and requests with credentials are answered 503.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mw := s.mw.Load(); mw != nil {
			(*mw)(next).ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") != "" {
			writeError(w, r, nil, sde.Errorf(sde.EUNAVAILABLE, "Starting up; try again shortly."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Start brings identity up on a server that is listening on o.Addr (with Mount and Middleware
// already in place): in development it opens the issuer under DATA/dev-issuer and serves it at
// /oidc, then discovers the issuer, loads (or creates) the session key and enables sign-in.
func (s *Service) Start(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg := o.Config
	routes := http.NewServeMux()
	if o.Dev {
		issuer := DevIssuerURL(o.Addr)
		callback := strings.TrimSuffix(issuer, DevIssuerPath) + CallbackPath
		dev, err := OpenDevIssuer(DevIssuerOptions{
			Dir: DevIssuerDir(o.DataDir), Issuer: issuer, RedirectURLs: []string{callback},
			RolesClaim: cfg.RolesClaim, OrgClaim: cfg.OrgClaim, Logger: o.Logger,
		})
		if err != nil {
			return err
		}
		routes.Handle(dev.Pattern(), dev)
		s.routes.Store(routes) // the verifier below fetches discovery from it
		dc := dev.Config()
		cfg.Issuer, cfg.Audience, cfg.RedirectURL, cfg.ClientSecretFile = dc.Issuer, dc.Audience, dc.RedirectURL, ""
		s.Dev = dev
	}
	keyFile := cfg.SessionKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(o.DataDir, "auth", "session.key")
	}
	key, err := LoadOrCreateKey(keyFile)
	if err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	sessions, err := NewSessions(key, SessionOptions{TTL: time.Duration(cfg.SessionTTL), Secure: cfg.SecureCookies, Now: cfg.Now})
	if err != nil {
		return err
	}
	v, err := NewVerifier(ctx, cfg)
	if err != nil {
		return err
	}
	login, err := NewLogin(v, sessions)
	if err != nil {
		return err
	}
	login.Logger, login.Audit = o.Logger, o.Audit
	// A fresh mux: ServeMux routes may be added while serving, but a mux that is only ever
	// published complete is simpler to reason about.
	full := http.NewServeMux()
	if s.Dev != nil {
		full.Handle(s.Dev.Pattern(), s.Dev)
	}
	login.Register(full)
	s.Verifier, s.Sessions, s.Login = v, sessions, login
	mw := middleware(v, sessions, o.Logger)
	s.mw.Store(&mw)
	s.routes.Store(full)
	return nil
}
