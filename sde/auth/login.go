package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
)

// Browser sign-in paths.
const (
	loginPrefix  = "/auth/"
	LoginPath    = "/auth/login"    // ?next=/local/path starts a sign-in
	CallbackPath = "/auth/callback" // the issuer sends the browser back here
	LogoutPath   = "/auth/logout"   // ends the session
)

// loginTTL bounds how long a person may take at the issuer's sign-in page.
const loginTTL = 10 * time.Minute

// Mux is where handlers are mounted; *http.ServeMux is one.
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// Login runs the browser sign-in: authorisation code with PKCE against the verifier's issuer,
// then a sealed session cookie.
type Login struct {
	v         *Verifier
	s         *Sessions
	oauth     oauth2.Config
	canonical *url.URL
	Logger    *slog.Logger
	// Audit records sign-ins and sign-outs (see Options.Audit).
	Audit func(r *http.Request, p *sde.Principal, action string) error
}

// NewLogin prepares the browser sign-in. The verifier's Config must have a RedirectURL ending in
// /auth/callback, registered at the issuer for the client Audience.
func NewLogin(v *Verifier, s *Sessions) (*Login, error) {
	cfg := v.cfg
	u, err := url.Parse(cfg.RedirectURL)
	if cfg.RedirectURL == "" || err != nil || !u.IsAbs() || u.Path != CallbackPath {
		return nil, sde.Errorf(sde.EINVALID, "Set auth.redirect_url to this service's %s URL (e.g. https://sde.example.org%s).", CallbackPath, CallbackPath)
	}
	ep := v.provider.Endpoint()
	var secret string
	if cfg.ClientSecretFile != "" {
		b, err := os.ReadFile(cfg.ClientSecretFile)
		if err != nil {
			return nil, sde.Wrap(err, sde.EINVALID, "Cannot read the client secret file.")
		}
		secret = strings.TrimSpace(string(b))
	} else {
		// A public client has no secret to send; an empty Basic password would be refused.
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &Login{
		v: v, s: s, canonical: u,
		oauth: oauth2.Config{ClientID: cfg.Audience, ClientSecret: secret, Endpoint: ep, RedirectURL: cfg.RedirectURL, Scopes: cfg.Scopes},
	}, nil
}

// Register mounts GET /auth/login, GET /auth/callback and GET or POST /auth/logout.
func (l *Login) Register(mux Mux) {
	mux.Handle("GET "+LoginPath, http.HandlerFunc(l.login))
	mux.Handle("GET "+CallbackPath, http.HandlerFunc(l.callback))
	mux.Handle("GET "+LogoutPath, http.HandlerFunc(l.logout))
	mux.Handle("POST "+LogoutPath, http.HandlerFunc(l.logout))
}

// loginState travels in a sealed cookie from /auth/login to /auth/callback, so the server keeps
// nothing between the two.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"next"`
	Expires  int64  `json:"exp"`
}

func (l *Login) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, l.Logger, err)
}

func (l *Login) login(w http.ResponseWriter, r *http.Request) {
	// Cookies are per host: a sign-in started on another name for this server would lose its
	// state cookie on the way back to the registered redirect URL.
	if r.Host != l.canonical.Host {
		u := *l.canonical
		u.Path, u.RawQuery = LoginPath, r.URL.RawQuery
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	st := loginState{
		State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expires: l.s.now().Add(loginTTL).Unix(),
	}
	val, err := l.s.seal("login", st)
	if err != nil {
		l.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: val, Path: CallbackPath, MaxAge: int(loginTTL / time.Second),
		HttpOnly: true, Secure: l.s.secureFor(r), SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, l.oauth.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusFound)
}

func (l *Login) callback(w http.ResponseWriter, r *http.Request) {
	restart := sde.Errorf(sde.EINVALID, "The sign-in expired or was started in another browser; start again at %s.", LoginPath)
	c, err := r.Cookie(loginCookie)
	if err != nil {
		l.fail(w, r, restart)
		return
	}
	// One use only, whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: CallbackPath, MaxAge: -1,
		HttpOnly: true, Secure: l.s.secureFor(r), SameSite: http.SameSiteLaxMode})
	var st loginState
	if err := l.s.open("login", c.Value, &st); err != nil || !l.s.now().Before(time.Unix(st.Expires, 0)) {
		restart.Err = err
		l.fail(w, r, restart)
		return
	}
	q := r.URL.Query()
	if q.Get("error") != "" {
		// The issuer's description is not echoed: it is text a third party chose.
		l.fail(w, r, unauthorized(nil, "The identity provider did not sign you in."))
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		l.fail(w, r, sde.Errorf(sde.EINVALID, "The sign-in state does not match; start again at %s.", LoginPath))
		return
	}
	code := q.Get("code")
	if code == "" {
		l.fail(w, r, sde.Errorf(sde.EINVALID, "The identity provider sent no authorisation code."))
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, l.v.cfg.HTTPClient)
	tok, err := l.oauth.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		l.fail(w, r, unauthorized(err, "The identity provider did not accept the sign-in."))
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		l.fail(w, r, unauthorized(nil, "The identity provider sent no ID token."))
		return
	}
	idt, err := l.v.idv.Verify(ctx, rawID)
	if err != nil {
		l.fail(w, r, classify(err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		l.fail(w, r, unauthorized(nil, "The ID token does not belong to this sign-in."))
		return
	}
	p, err := l.v.principalFrom(idt)
	if err != nil && tok.AccessToken != "" {
		// Some issuers put roles only in the access token.
		if pa, aerr := l.v.Verify(ctx, tok.AccessToken); aerr == nil {
			p, err = pa, nil
		}
	}
	if err != nil {
		l.fail(w, r, err)
		return
	}
	if l.Audit != nil {
		if err := l.Audit(r, p, audit.ActionSignIn); err != nil {
			l.fail(w, r, err)
			return
		}
	}
	if err := l.s.Set(w, r, p); err != nil {
		l.fail(w, r, err)
		return
	}
	if l.Logger != nil {
		l.Logger.Info("signed in", "user", p.User, "organisation", p.Organisation, "roles", p.Roles)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, st.Next, http.StatusSeeOther)
}

func (l *Login) logout(w http.ResponseWriter, r *http.Request) {
	if p, err := l.s.Principal(r); err == nil && p != nil {
		if l.Audit != nil {
			if err := l.Audit(r, p, audit.ActionSignOut); err != nil {
				l.fail(w, r, err)
				return
			}
		}
		// A copy of the cookie kept elsewhere must not outlive the sign-out.
		l.s.Revoke(p.User)
	}
	l.s.Clear(w, r)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// safeNext keeps post-sign-in redirects on this site: a local absolute path, never "//host" or
// "/\host" (which browsers treat as another site).
func safeNext(next string) string {
	// Backslashes are refused outright (browsers read them as slashes), and the path is judged
	// after cleaning, as http.Redirect will clean it: "/./\\evil" and "/a/../\\evil" became
	// "/\\evil", another site (second security review, F1).
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') || len(next) > 2000 {
		return "/"
	}
	p, query, _ := strings.Cut(next, "?")
	if cleaned := path.Clean(p); strings.HasPrefix(cleaned, "//") {
		return "/"
	} else {
		next = cleaned
		if query != "" {
			next += "?" + query
		}
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
