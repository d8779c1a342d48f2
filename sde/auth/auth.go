// Package auth identifies the people who call the SDE: it verifies OIDC bearer tokens against the
// configured issuer, runs the browser sign-in (authorisation code + PKCE) with a sealed session
// cookie, and in development serves a built-in OpenID Provider with demo users.
package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/opensde/sde/sde"
)

// Default claim names. They are namespaced so they cannot collide with standard claims.
const (
	DefaultRolesClaim = "sde_roles"
	DefaultOrgClaim   = "sde_org"
	DefaultUserClaim  = "sub"
	DefaultSessionTTL = 8 * time.Hour
)

// maxTokenBytes bounds what we parse; real access tokens are a few KB.
const maxTokenBytes = 16 << 10

// Config says which issuer to trust and where in its tokens the SDE's roles and organisation are.
type Config struct {
	// Issuer is the OpenID Provider's issuer URL; discovery and JWKS are fetched from it.
	Issuer string `json:"issuer"`
	// Audience is the SDE's client ID at the issuer; every token must name it in "aud".
	Audience string `json:"audience"`
	// ClientSecretFile holds a client secret for issuers that only allow confidential clients.
	// Empty means a public client, protected by PKCE.
	ClientSecretFile string `json:"client_secret_file,omitempty"`
	// RedirectURL is where the issuer sends the browser back: https://HOST/auth/callback.
	RedirectURL string `json:"redirect_url,omitempty"`
	// Scopes requested at browser sign-in (default openid profile email).
	Scopes []string `json:"scopes,omitempty"`
	// UserClaim, RolesClaim and OrgClaim name the claims holding the user ID (default "sub"),
	// the SDE roles (default "sde_roles"; a list, or a space- or comma-separated string) and the
	// organisation code (default "sde_org"). A dotted name such as "realm_access.roles" reaches
	// into nested objects.
	UserClaim  string `json:"user_claim,omitempty"`
	RolesClaim string `json:"roles_claim,omitempty"`
	OrgClaim   string `json:"org_claim,omitempty"`
	// SessionKeyFile holds the 32-byte key sealing browser cookies (default DATA/auth/session.key;
	// created 0600 if missing). Every node of a deployment must share it.
	SessionKeyFile string `json:"session_key_file,omitempty"`
	// SessionTTL bounds a browser session (default 8h).
	SessionTTL Duration `json:"session_ttl,omitempty"`
	// SecureCookies marks cookies Secure even when the request reached us over plain HTTP, as it
	// does behind a TLS-terminating proxy. Requests that arrive over TLS always get Secure cookies.
	SecureCookies bool `json:"secure_cookies,omitempty"`

	// Now and HTTPClient are injectable for tests.
	Now        func() time.Time `json:"-"`
	HTTPClient *http.Client     `json:"-"`
}

func (c Config) withDefaults() Config {
	if c.UserClaim == "" {
		c.UserClaim = DefaultUserClaim
	}
	if c.RolesClaim == "" {
		c.RolesClaim = DefaultRolesClaim
	}
	if c.OrgClaim == "" {
		c.OrgClaim = DefaultOrgClaim
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = Duration(DefaultSessionTTL)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return c
}

// Duration is a time.Duration written as "8h" in JSON config files.
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. 8h or 30m)", b)
	}
	*d = Duration(v)
	return nil
}

// Verifier checks bearer tokens against one issuer.
type Verifier struct {
	cfg      Config
	provider *oidc.Provider
	idv      *oidc.IDTokenVerifier
	algs     map[string]bool
}

// NewVerifier discovers the issuer (its /.well-known/openid-configuration and, lazily, its JWKS)
// over HTTP. It fails if the issuer cannot be reached or names itself differently.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg = cfg.withDefaults()
	if cfg.Issuer == "" {
		return nil, sde.Errorf(sde.EINVALID, "No identity provider is configured; set auth.issuer (or use serve --dev).")
	}
	if cfg.Audience == "" {
		return nil, sde.Errorf(sde.EINVALID, "No client ID is configured; set auth.audience to the SDE's client ID at the identity provider.")
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "Cannot read the identity provider's configuration from %s.", cfg.Issuer)
	}
	var meta struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "The identity provider's configuration is not valid.")
	}
	// Asymmetric algorithms only: "none" is never a signature, and an HMAC "signed" with a
	// public key from the JWKS is the classic algorithm-confusion forgery.
	algs := map[string]bool{}
	var list []string
	for _, a := range meta.Algs {
		switch a {
		case oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA:
			algs[a] = true
			list = append(list, a)
		}
	}
	if len(list) == 0 {
		algs[oidc.RS256], list = true, []string{oidc.RS256}
	}
	idv := p.Verifier(&oidc.Config{ClientID: cfg.Audience, SupportedSigningAlgs: list, Now: cfg.Now})
	return &Verifier{cfg: cfg, provider: p, idv: idv, algs: algs}, nil
}

func unauthorized(cause error, msg string) *sde.Error {
	return &sde.Error{Code: sde.EUNAUTHORIZED, Message: msg, Err: cause}
}

// Verify checks a bearer token (signature by the issuer's key, issuer, audience, expiry) and
// returns the caller. Errors are *sde.Error with code EUNAUTHORIZED (EUNAVAILABLE if the issuer's
// keys cannot be fetched) and a message that never repeats the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (*sde.Principal, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, unauthorized(nil, "No token was given.")
	}
	if len(raw) > maxTokenBytes {
		return nil, unauthorized(nil, "The token is too long.")
	}
	alg, err := headerAlg(raw)
	if err != nil {
		return nil, unauthorized(err, "The token is not a well-formed JWT.")
	}
	if !v.algs[alg] {
		return nil, unauthorized(fmt.Errorf("alg %q", alg), "The token's signing algorithm is not accepted.")
	}
	tok, err := v.idv.Verify(oidc.ClientContext(ctx, v.cfg.HTTPClient), raw)
	if err != nil {
		return nil, classify(err)
	}
	return v.principalFrom(tok)
}

func (v *Verifier) principalFrom(tok *oidc.IDToken) (*sde.Principal, error) {
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, unauthorized(err, "The token's claims cannot be read.")
	}
	return principalFromClaims(v.cfg, claims)
}

// headerAlg reads the alg of a compact JWS without trusting anything else in it.
func headerAlg(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("%d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	return h.Alg, nil
}

// classify turns go-oidc's errors into messages a caller can act on. go-oidc has a type only for
// expiry; the rest are matched on its (stable, tested) wording, falling back to a generic message.
func classify(err error) *sde.Error {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return unauthorized(err, "The token is expired.")
	case strings.Contains(msg, "issued by a different provider"):
		return unauthorized(err, "The token was issued by a different identity provider.")
	case strings.Contains(msg, "expected audience"):
		return unauthorized(err, "The token is not meant for this service (wrong audience).")
	case strings.Contains(msg, "before the nbf"):
		return unauthorized(err, "The token is not valid yet.")
	case strings.Contains(msg, "fetching keys"):
		return sde.Wrap(err, sde.EUNAVAILABLE, "The identity provider's keys cannot be fetched; try again later.")
	case strings.Contains(msg, "failed to verify signature"):
		return unauthorized(err, "The token's signature is not valid.")
	case strings.Contains(msg, "malformed jwt"), strings.Contains(msg, "unmarshal claims"):
		return unauthorized(err, "The token is not a well-formed JWT.")
	}
	return unauthorized(err, "The token is not valid.")
}

// principalFromClaims maps verified claims to a principal. Unknown roles are dropped (an issuer
// may carry roles for other services); a token without any SDE role, or without a user or an
// organisation, is refused.
func principalFromClaims(cfg Config, claims map[string]any) (*sde.Principal, error) {
	user, _ := lookup(claims, cfg.UserClaim).(string)
	if !safeID(user) {
		return nil, unauthorized(nil, fmt.Sprintf("The token has no usable %q claim.", cfg.UserClaim))
	}
	var roles []sde.Role
	have := map[sde.Role]bool{}
	for _, s := range stringList(lookup(claims, cfg.RolesClaim)) {
		have[sde.Role(s)] = true
	}
	for _, r := range sde.Roles {
		if have[r] {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		return nil, unauthorized(nil, "The token carries no SDE role; ask your administrator for access.")
	}
	org, _ := lookup(claims, cfg.OrgClaim).(string)
	if !safeID(org) {
		return nil, unauthorized(nil, "The token does not name an organisation.")
	}
	p := &sde.Principal{User: sde.UserID(user), Organisation: sde.OrgCode(org), Roles: roles}
	if s, ok := claims["name"].(string); ok && safeText(s) {
		p.Name = s
	}
	if s, ok := claims["email"].(string); ok && safeText(s) {
		p.Email = s
	}
	return p, nil
}

// lookup finds a claim by name, or by a dotted path into nested objects.
func lookup(claims map[string]any, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = claims
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.FieldsFunc(x, func(r rune) bool { return r == ' ' || r == ',' })
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// safeID accepts identifiers we are willing to write into logs and the audit trail.
func safeID(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func safeText(s string) bool {
	if len(s) > 200 {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
