package auth

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// Options configure Start.
type Options struct {
	Config  Config
	DataDir string // default home of the session key and the dev issuer
	Dev     bool   // run the built-in development issuer on the service's own server
	Addr    string // the address the service listens on (names the dev issuer's URL)
	Logger  *slog.Logger
}

// Service is identity for a running server: the verifier, sessions and sign-in handlers, and in
// development the issuer.
type Service struct {
	Verifier *Verifier
	Sessions *Sessions
	Login    *Login
	Dev      *DevIssuer // nil unless Options.Dev
	logger   *slog.Logger
}

// Start sets up identity on mux. The server must already be listening: with Dev, the issuer is
// mounted on mux first and the verifier then discovers it over HTTP like any external issuer.
func Start(ctx context.Context, mux Mux, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg := o.Config
	svc := &Service{logger: o.Logger}
	if o.Dev {
		issuer := DevIssuerURL(o.Addr)
		callback := strings.TrimSuffix(issuer, DevIssuerPath) + CallbackPath
		dev, err := OpenDevIssuer(DevIssuerOptions{
			Dir: DevIssuerDir(o.DataDir), Issuer: issuer, RedirectURLs: []string{callback},
			RolesClaim: cfg.RolesClaim, OrgClaim: cfg.OrgClaim, Logger: o.Logger,
		})
		if err != nil {
			return nil, err
		}
		mux.Handle(dev.Pattern(), dev)
		dc := dev.Config()
		cfg.Issuer, cfg.Audience, cfg.RedirectURL, cfg.ClientSecretFile = dc.Issuer, dc.Audience, dc.RedirectURL, ""
		svc.Dev = dev
	}
	keyFile := cfg.SessionKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(o.DataDir, "auth", "session.key")
	}
	key, err := LoadOrCreateKey(keyFile)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	sessions, err := NewSessions(key, SessionOptions{TTL: time.Duration(cfg.SessionTTL), Secure: cfg.SecureCookies, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	v, err := NewVerifier(ctx, cfg)
	if err != nil {
		return nil, err
	}
	login, err := NewLogin(v, sessions)
	if err != nil {
		return nil, err
	}
	login.Logger = o.Logger
	login.Register(mux)
	svc.Verifier, svc.Sessions, svc.Login = v, sessions, login
	return svc, nil
}

// Middleware identifies callers (see the package function Middleware), logging refusals.
func (s *Service) Middleware() func(http.Handler) http.Handler {
	return middleware(s.Verifier, s.Sessions, s.logger)
}
