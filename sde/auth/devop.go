package auth

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// devLoginPath is the demo sign-in page, below the issuer's path.
const devLoginPath = "/login"

// devStorage is the provider's state: pending sign-ins in memory (a restart just means signing in
// again), users from DemoUsers, one public client, one signing key.
type devStorage struct {
	d      *DevIssuer
	mu     sync.Mutex
	reqs   map[string]*devAuthRequest
	codes  map[string]string
	client *devClient
}

var _ op.Storage = (*devStorage)(nil)
var _ op.CanSetUserinfoFromRequest = (*devStorage)(nil)

func newDevStorage(d *DevIssuer) *devStorage {
	return &devStorage{
		d: d, reqs: map[string]*devAuthRequest{}, codes: map[string]string{},
		client: &devClient{redirects: d.redirect, loginURL: d.rec.Issuer + devLoginPath + "?authRequestID=", ttl: d.ttl},
	}
}

type devAuthRequest struct {
	oidc.AuthRequest
	id       string
	created  time.Time
	user     string
	done     bool
	authTime time.Time
}

func (a *devAuthRequest) GetID() string                      { return a.id }
func (a *devAuthRequest) GetACR() string                     { return "" }
func (a *devAuthRequest) GetAMR() []string                   { return nil }
func (a *devAuthRequest) GetAudience() []string              { return []string{a.ClientID} }
func (a *devAuthRequest) GetAuthTime() time.Time             { return a.authTime }
func (a *devAuthRequest) GetClientID() string                { return a.ClientID }
func (a *devAuthRequest) GetNonce() string                   { return a.Nonce }
func (a *devAuthRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *devAuthRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *devAuthRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *devAuthRequest) GetScopes() []string                { return a.Scopes }
func (a *devAuthRequest) GetState() string                   { return a.State }
func (a *devAuthRequest) GetSubject() string                 { return a.user }
func (a *devAuthRequest) Done() bool                         { return a.done }
func (a *devAuthRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: a.CodeChallengeMethod}
}

func (s *devStorage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if len(req.Prompt) == 1 && req.Prompt[0] == oidc.PromptNone {
		return nil, oidc.ErrLoginRequired()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range s.reqs {
		if time.Since(r.created) > loginTTL {
			delete(s.reqs, id)
		}
	}
	r := &devAuthRequest{AuthRequest: *req, id: randomString(), created: time.Now()}
	s.reqs[r.id] = r
	return r, nil
}

func (s *devStorage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.reqs[id]; ok {
		return r, nil
	}
	return nil, errors.New("auth request not found")
}

func (s *devStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or expired")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *devStorage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *devStorage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.reqs, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// complete marks a pending sign-in as done for a demo user.
func (s *devStorage) complete(id, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	if !ok || time.Since(r.created) > loginTTL {
		return errors.New("sign-in request not found or expired")
	}
	r.user, r.done, r.authTime = user, true, time.Now()
	return nil
}

func (s *devStorage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return randomString(), time.Now().Add(s.d.ttl), nil
}

func (s *devStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("refresh tokens are not supported")
}

func (s *devStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *devStorage) TerminateSession(context.Context, string, string) error { return nil }

func (s *devStorage) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (s *devStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

type devSigningKey struct{ d *DevIssuer }

func (k devSigningKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k devSigningKey) Key() any                                    { return k.d.key }
func (k devSigningKey) ID() string                                  { return k.d.rec.KeyID }

type devPublicKey struct{ d *DevIssuer }

func (k devPublicKey) ID() string                         { return k.d.rec.KeyID }
func (k devPublicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k devPublicKey) Use() string                        { return "sig" }
func (k devPublicKey) Key() any                           { return &k.d.key.PublicKey }

func (s *devStorage) SigningKey(context.Context) (op.SigningKey, error) {
	return devSigningKey{s.d}, nil
}

func (s *devStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *devStorage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{devPublicKey{s.d}}, nil
}

func (s *devStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.d.rec.Audience {
		return nil, errors.New("client not found")
	}
	return s.client, nil
}

func (s *devStorage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return errors.New("the development issuer has only a public client")
}

func (s *devStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *devStorage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	return s.setUserinfo(info, req.GetSubject())
}

func (s *devStorage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	return s.setUserinfo(info, subject)
}

func (s *devStorage) setUserinfo(info *oidc.UserInfo, subject string) error {
	u, ok := LookupDemoUser(subject)
	if !ok {
		return errors.New("user not found")
	}
	info.Subject = string(u.User)
	info.Name = u.Name
	info.Email = u.Email
	info.EmailVerified = true
	info.PreferredUsername = string(u.User)
	for k, v := range demoClaims(s.d.rec, u) {
		switch k {
		case "name", "email", "preferred_username":
		default:
			info.AppendClaims(k, v)
		}
	}
	return nil
}

func (s *devStorage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, _, subject, _ string) error {
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, subject); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	return nil
}

func (s *devStorage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	u, ok := LookupDemoUser(userID)
	if !ok {
		return nil, errors.New("user not found")
	}
	return demoClaims(s.d.rec, u), nil
}

func (s *devStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile grants are not supported")
}

func (s *devStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile grants are not supported")
}

func (s *devStorage) Health(context.Context) error { return nil }

// devClient is the SDE web app: a public client that must use PKCE, receiving JWT access tokens
// so the API verifies them like any other bearer token.
type devClient struct {
	redirects []string
	loginURL  string
	ttl       time.Duration
}

func (c *devClient) GetID() string                       { return DevClientID }
func (c *devClient) RedirectURIs() []string              { return c.redirects }
func (c *devClient) PostLogoutRedirectURIs() []string    { return nil }
func (c *devClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *devClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodNone }
func (c *devClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *devClient) GrantTypes() []oidc.GrantType         { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *devClient) LoginURL(id string) string            { return c.loginURL + id }
func (c *devClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *devClient) IDTokenLifetime() time.Duration       { return c.ttl }
func (c *devClient) DevMode() bool                        { return true } // allows http:// redirect URLs
func (c *devClient) IsScopeAllowed(string) bool           { return false }
func (c *devClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *devClient) ClockSkew() time.Duration             { return 0 }
func (c *devClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *devClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

var devLoginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SDE development sign-in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#212b32}
.warn{background:#ffeb3b;border:3px solid #212b32;padding:1rem;font-weight:600}
table{border-collapse:collapse;width:100%;margin-top:1rem}td,th{text-align:left;padding:.4rem;border-bottom:1px solid #d8dde0}
button{font:inherit;padding:.3rem .8rem;cursor:pointer}
</style></head><body>
<p class="warn" role="alert">DEVELOPMENT ISSUER — not for real data. Anyone who can open this page can sign in as any
demo user without a password. It runs only under <code>sde serve --dev</code>.</p>
<h1>Sign in as a demo user</h1>
{{if .Error}}<p role="alert"><strong>{{.Error}}</strong></p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<table><thead><tr><th>User</th><th>Name</th><th>Organisation</th><th>Roles</th><th></th></tr></thead><tbody>
{{range .Users}}<tr><td><code>{{.User}}</code></td><td>{{.Name}}</td><td>{{.OrganisationName}} ({{.Organisation}})</td>
<td>{{range $i, $r := .Roles}}{{if $i}}, {{end}}{{$r}}{{end}}</td>
<td><button type="submit" name="user" value="{{.User}}">Sign in as {{.User}}</button></td></tr>
{{end}}</tbody></table></form></body></html>
`))

// loginPage lists the demo users (GET) and completes a pending sign-in for the chosen one (POST).
func (d *DevIssuer) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	render := func(status int, id, msg string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		devLoginTemplate.Execute(w, map[string]any{"Action": d.prefix + devLoginPath, "ID": id, "Error": msg, "Users": DemoUsers})
	}
	switch r.Method {
	case http.MethodGet:
		id := r.URL.Query().Get("authRequestID")
		if _, err := d.store.AuthRequestByID(r.Context(), id); err != nil {
			render(http.StatusBadRequest, "", "This sign-in request is unknown or has expired; start again from the application.")
			return
		}
		render(http.StatusOK, id, "")
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		id, user := r.PostFormValue("authRequestID"), r.PostFormValue("user")
		if _, ok := LookupDemoUser(user); !ok {
			render(http.StatusBadRequest, id, "Choose one of the demo users.")
			return
		}
		if err := d.store.complete(id, user); err != nil {
			render(http.StatusBadRequest, "", "This sign-in request is unknown or has expired; start again from the application.")
			return
		}
		d.logger.Info("dev issuer: signed in demo user", "user", user)
		http.Redirect(w, r, op.AuthCallbackURL(d.provider)(op.ContextWithIssuer(r.Context(), d.rec.Issuer), id), http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
