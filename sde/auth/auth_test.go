package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
)

// env is a server like the real one: the dev issuer and the sign-in handlers on one mux, the
// middleware around it, and a /whoami route that reports the principal.
type env struct {
	srv  *httptest.Server
	svc  *Service
	data string
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/whoami", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(sde.PrincipalFrom(r.Context()))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("the page")) })
	// The order serve uses: mount and wrap, listen, then start.
	svc := New()
	svc.Mount(mux)
	srv := httptest.NewServer(svc.Middleware(mux))
	t.Cleanup(srv.Close)
	data := t.TempDir()
	if err := svc.Start(context.Background(), Options{Config: cfg, DataDir: data, Dev: true, Addr: srv.Listener.Addr().String(), Logger: quietLogger()}); err != nil {
		t.Fatalf("start: %v", err)
	}
	return &env{srv: srv, svc: svc, data: data}
}

func (e *env) rec() devRecord       { return e.svc.Dev.rec }
func (e *env) key() *rsa.PrivateKey { return e.svc.Dev.key }

func TestVerifyDemoUsers(t *testing.T) {
	e := newEnv(t, Config{})
	for _, u := range DemoUsers {
		tok, err := e.svc.Dev.Token(string(u.User), 0)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Verifier.Verify(context.Background(), tok)
		if err != nil {
			t.Errorf("%s: %v", u.User, err)
			continue
		}
		want := &sde.Principal{User: u.User, Name: u.Name, Email: u.Email, Organisation: u.Organisation, Roles: u.Roles}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("%s: principal = %+v, want %+v", u.User, p, want)
		}
	}
}

func TestDemoUsers(t *testing.T) {
	want := []string{"analyst1", "analyst2", "planner1", "checker1", "checker2", "controller-gp", "controller-acute",
		"controller-community", "controller-la", "controller-vcse", "controller-ndop", "admin"}
	if got := DemoUserIDs(); !reflect.DeepEqual(got, want) {
		t.Errorf("demo users = %v", got)
	}
	orgs := map[string]sde.OrgCode{"analyst1": "RVICB", "admin": "RVICB", "controller-gp": "RVGPC", "controller-acute": "RVAPC",
		"controller-community": "R9C", "controller-la": "RVLA", "controller-vcse": "RVVCS", "controller-ndop": "NDOP"}
	for id, org := range orgs {
		if u, _ := LookupDemoUser(id); u.Organisation != org {
			t.Errorf("%s organisation = %s, want %s", id, u.Organisation, org)
		}
	}
	if u, _ := LookupDemoUser("admin"); !u.hasOnly(sde.RoleAdmin) {
		t.Errorf("admin roles = %v", u.Roles)
	}
}

func (u DemoUser) hasOnly(r sde.Role) bool { return len(u.Roles) == 1 && u.Roles[0] == r }

// b64 is base64url without padding, as in JWTs.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestVerifyRefuses(t *testing.T) {
	e := newEnv(t, Config{})
	now := time.Now()
	analyst, _ := LookupDemoUser("analyst1")
	good, err := mint(e.key(), e.rec(), analyst, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	other, _ := rsa.GenerateKey(rand.Reader, 2048)

	with := func(f func(*devRecord, *DemoUser)) string {
		rec, u := e.rec(), analyst
		f(&rec, &u)
		tok, err := mint(e.key(), rec, u, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	minted := func(key *rsa.PrivateKey, rec devRecord, at time.Time, ttl time.Duration) string {
		tok, err := mint(key, rec, analyst, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	otherKid := e.rec()
	otherKid.KeyID = "someone-else"
	// alg=HS256 keyed with the issuer's public key: the algorithm-confusion forgery.
	pubDER, _ := x509.MarshalPKIXPublicKey(&e.key().PublicKey)
	hsHead := b64([]byte(`{"alg":"HS256","typ":"JWT"}`))
	mac := hmac.New(sha256.New, pubDER)
	mac.Write([]byte(hsHead + "." + parts[1]))
	// A payload that grants admin, with the analyst's signature.
	var claims map[string]any
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(pb, &claims)
	claims[DefaultRolesClaim] = []string{"admin"}
	tampered, _ := json.Marshal(claims)

	tests := []struct {
		name, token, want string
	}{
		{"wrong issuer", with(func(r *devRecord, _ *DemoUser) { r.Issuer = "http://issuer.example/oidc" }), "different identity provider"},
		{"wrong audience", with(func(r *devRecord, _ *DemoUser) { r.Audience = "another-service" }), "wrong audience"},
		{"expired", minted(e.key(), e.rec(), now.Add(-2*time.Hour), time.Hour), "expired"},
		{"not yet valid", minted(e.key(), e.rec(), now.Add(time.Hour), time.Hour), "not valid yet"},
		{"signed by another key", minted(other, e.rec(), now, time.Hour), "signature"},
		{"another key, unknown kid", minted(other, otherKid, now, time.Hour), "signature"},
		{"tampered payload", parts[0] + "." + b64(tampered) + "." + parts[2], "signature"},
		{"alg none", b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", "algorithm"},
		{"alg none, signature kept", b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + "." + parts[2], "algorithm"},
		{"HS256 with the public key", hsHead + "." + parts[1] + "." + b64(mac.Sum(nil)), "algorithm"},
		{"no known role", with(func(_ *devRecord, u *DemoUser) { u.Roles = []sde.Role{"superuser", "Analyst"} }), "no SDE role"},
		{"no roles claim", with(func(r *devRecord, _ *DemoUser) { r.RolesClaim = "groups" }), "no SDE role"},
		{"no organisation", with(func(r *devRecord, _ *DemoUser) { r.OrgClaim = "org" }), "organisation"},
		{"malformed", "not-a-token", "well-formed"},
		{"three garbage parts", "a.b.c", "well-formed"},
		{"JWE-shaped", "a.b.c.d.e", "well-formed"},
		{"garbage payload", parts[0] + ".!!!." + parts[2], "well-formed"},
		{"empty", "  ", "No token"},
		{"huge", strings.Repeat("a", maxTokenBytes+1), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.svc.Verifier.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if code := sde.ErrorCode(err); code != sde.EUNAUTHORIZED {
				t.Errorf("code = %s (%v)", code, err)
			}
			msg := sde.ErrorMessage(err)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message = %q, want it to mention %q (cause %v)", msg, tt.want, err)
			}
			if len(tt.token) > 20 && strings.Contains(msg, tt.token[len(tt.token)-20:]) {
				t.Errorf("message echoes the token: %q", msg)
			}
		})
	}

	// Unknown roles are dropped, known ones kept.
	tok := with(func(_ *devRecord, u *DemoUser) { u.Roles = []sde.Role{"superuser", sde.RolePlanner} })
	p, err := e.svc.Verifier.Verify(context.Background(), tok)
	if err != nil || !reflect.DeepEqual(p.Roles, []sde.Role{sde.RolePlanner}) {
		t.Errorf("mixed roles: %+v, %v", p, err)
	}
}

func TestVerifierClock(t *testing.T) {
	// The injectable clock decides expiry: a token valid now is expired two hours on.
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	e := newEnv(t, Config{Now: later})
	tok, _ := e.svc.Dev.Token("analyst1", time.Hour)
	if _, err := e.svc.Verifier.Verify(context.Background(), tok); err == nil || !strings.Contains(sde.ErrorMessage(err), "expired") {
		t.Errorf("err = %v", err)
	}
}

func TestNewVerifierErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := NewVerifier(ctx, Config{Audience: "sde"}); sde.ErrorCode(err) != sde.EINVALID {
		t.Errorf("no issuer: %v", err)
	}
	if _, err := NewVerifier(ctx, Config{Issuer: "https://idp.example"}); sde.ErrorCode(err) != sde.EINVALID || !strings.Contains(sde.ErrorMessage(err), "client ID") {
		t.Errorf("no audience: %v", err)
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := NewVerifier(ctx, Config{Issuer: srv.URL, Audience: "sde"}); sde.ErrorCode(err) != sde.EUNAVAILABLE {
		t.Errorf("no discovery: %v", err)
	}
	// An issuer whose discovery document names another issuer is refused.
	e := newEnv(t, Config{})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(e.srv.URL + r.URL.Path)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	if _, err := NewVerifier(ctx, Config{Issuer: proxy.URL + DevIssuerPath, Audience: "sde"}); err == nil || !strings.Contains(err.Error(), "did not match the issuer") {
		t.Errorf("issuer mismatch: %v", err)
	}
}

func TestPrincipalFromClaims(t *testing.T) {
	cfg := Config{RolesClaim: "realm_access.roles", OrgClaim: "org"}.withDefaults()
	p, err := principalFromClaims(cfg, map[string]any{
		"sub": "u1", "org": "RVLA", "realm_access": map[string]any{"roles": []any{"offline_access", "controller", 7}},
	})
	if err != nil || p.User != "u1" || p.Organisation != "RVLA" || !reflect.DeepEqual(p.Roles, []sde.Role{sde.RoleController}) {
		t.Errorf("nested: %+v %v", p, err)
	}
	cfg = Config{}.withDefaults()
	p, err = principalFromClaims(cfg, map[string]any{"sub": "u2", "sde_org": "RVICB", "sde_roles": "checker, analyst"})
	if err != nil || !reflect.DeepEqual(p.Roles, []sde.Role{sde.RoleAnalyst, sde.RoleChecker}) {
		t.Errorf("string roles: %+v %v", p, err)
	}
	for name, claims := range map[string]map[string]any{
		"no sub":         {"sde_org": "RVICB", "sde_roles": "analyst"},
		"sub with space": {"sub": "a b", "sde_org": "RVICB", "sde_roles": "analyst"},
		"control in org": {"sub": "u", "sde_org": "RV\nICB", "sde_roles": "analyst"},
		"org not string": {"sub": "u", "sde_org": 3, "sde_roles": "analyst"},
	} {
		if p, err := principalFromClaims(cfg, claims); err == nil {
			t.Errorf("%s: accepted %+v", name, p)
		}
	}
}

func TestMiddleware(t *testing.T) {
	e := newEnv(t, Config{})
	tok, _ := e.svc.Dev.Token("controller-la", 0)
	get := func(header, cookie string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/whoami", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, strings.TrimSpace(string(b))
	}

	if resp, body := get("", ""); resp.StatusCode != 200 || body != "null" {
		t.Errorf("anonymous: %d %s", resp.StatusCode, body)
	}
	if resp, body := get("Bearer "+tok, ""); resp.StatusCode != 200 || !strings.Contains(body, `"user":"controller-la"`) || !strings.Contains(body, `"organisation":"RVLA"`) {
		t.Errorf("bearer: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("bearer "+tok, ""); resp.StatusCode != 200 {
		t.Errorf("lower-case scheme: %d", resp.StatusCode)
	}
	expired, _ := mint(e.key(), e.rec(), DemoUsers[0], time.Now().Add(-3*time.Hour), time.Hour)
	for name, header := range map[string]string{
		"expired": "Bearer " + expired, "garbage": "Bearer " + tok[:len(tok)-4] + "AAAA", "basic": "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "empty bearer": "Bearer ",
	} {
		resp, body := get(header, "")
		if resp.StatusCode != 401 {
			t.Errorf("%s: status %d", name, resp.StatusCode)
		}
		var got struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.Error.Code != "unauthorized" || got.Error.Message == "" {
			t.Errorf("%s: body %s", name, body)
		}
		if strings.Contains(body, expired[20:60]) || strings.Contains(body, tok[20:60]) {
			t.Errorf("%s: body echoes the token", name)
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", name)
		}
	}

	// A forged session cookie is refused and cleared; an expired one too.
	resp, _ := get("", sessionCookie+"=AAAA")
	if resp.StatusCode != 401 || !clearsCookie(resp, sessionCookie) {
		t.Errorf("forged session: %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	expiredSession := sealedSession(t, e.svc.Sessions, time.Now().Add(-time.Minute))
	resp, body := get("", sessionCookie+"="+expiredSession)
	if resp.StatusCode != 401 || !strings.Contains(body, "expired") {
		t.Errorf("expired session: %d %s", resp.StatusCode, body)
	}
	live := sealedSession(t, e.svc.Sessions, time.Now().Add(time.Hour))
	if resp, body := get("", sessionCookie+"="+live); resp.StatusCode != 200 || !strings.Contains(body, `"user":"checker1"`) {
		t.Errorf("live session: %d %s", resp.StatusCode, body)
	}
	// A session sealed under another key is forged as far as we are concerned.
	otherKey := make([]byte, 32)
	otherKey[0] = 1
	foreign, _ := NewSessions(otherKey, SessionOptions{})
	if resp, _ := get("", sessionCookie+"="+sealedSession(t, foreign, time.Now().Add(time.Hour))); resp.StatusCode != 401 {
		t.Errorf("foreign session: %d", resp.StatusCode)
	}
	// A login-state cookie's value is not a session, though sealed with the same key.
	st, _ := e.svc.Sessions.seal("login", session{Principal: &sde.Principal{User: "x", Roles: []sde.Role{sde.RoleAdmin}}, Expires: time.Now().Add(time.Hour).Unix()})
	if resp, _ := get("", sessionCookie+"="+st); resp.StatusCode != 401 {
		t.Errorf("login state as session: %d", resp.StatusCode)
	}
}

func sealedSession(t *testing.T, s *Sessions, exp time.Time) string {
	t.Helper()
	u, _ := LookupDemoUser("checker1")
	v, err := s.seal("session", session{Principal: &sde.Principal{User: u.User, Organisation: u.Organisation, Roles: u.Roles}, IssuedNS: time.Now().UnixNano(), Expires: exp.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func clearsCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestDevIssuerFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev-issuer")
	if _, err := DevToken(dir, "analyst1", 0, time.Now()); sde.ErrorCode(err) != sde.ENOTFOUND || !strings.Contains(sde.ErrorMessage(err), "serve --dev") {
		t.Errorf("before serve: %v", err)
	}
	d1, err := OpenDevIssuer(DevIssuerOptions{Dir: dir, Issuer: "http://127.0.0.1:1/oidc"})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := OpenDevIssuer(DevIssuerOptions{Dir: dir, Issuer: "http://127.0.0.1:2/oidc"})
	if err != nil {
		t.Fatal(err)
	}
	if d1.rec.KeyID != d2.rec.KeyID || !d1.key.Equal(d2.key) {
		t.Error("the signing key changed across restarts")
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", st.Mode().Perm())
	}
	for _, f := range []string{devKeyFile, devRecordFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st.Mode().Perm(), err)
		}
	}
	// The record follows the latest start, so offline tokens name the running server.
	tok, err := DevToken(dir, "planner1", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	pb, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	json.Unmarshal(pb, &claims)
	if claims["iss"] != "http://127.0.0.1:2/oidc" || claims["sub"] != "planner1" || claims["aud"] == nil {
		t.Errorf("claims = %v", claims)
	}
	if _, err := DevToken(dir, "mallory", 0, time.Now()); sde.ErrorCode(err) != sde.EINVALID || !strings.Contains(sde.ErrorMessage(err), "analyst1") {
		t.Errorf("unknown user: %v", err)
	}
	// A key file others can read is refused.
	os.Chmod(filepath.Join(dir, devKeyFile), 0o644)
	if _, err := OpenDevIssuer(DevIssuerOptions{Dir: dir, Issuer: "http://127.0.0.1:2/oidc"}); err == nil || !strings.Contains(sde.ErrorMessage(err), "readable by other users") {
		t.Errorf("world-readable key: %v", err)
	}
	os.Chmod(filepath.Join(dir, devKeyFile), 0o600)
	os.WriteFile(filepath.Join(dir, devKeyFile), []byte("not a key"), 0o600)
	if _, err := OpenDevIssuer(DevIssuerOptions{Dir: dir, Issuer: "http://127.0.0.1:2/oidc"}); err == nil || !strings.Contains(sde.ErrorMessage(err), "damaged") {
		t.Errorf("damaged key file: %v", err)
	}
	for _, bad := range []string{"", "/oidc", "http://h", "http://h/", "http://h/oidc/", "http://h/oidc?x=1"} {
		if _, err := OpenDevIssuer(DevIssuerOptions{Dir: dir, Issuer: bad}); sde.ErrorCode(err) != sde.EINVALID {
			t.Errorf("issuer %q: %v", bad, err)
		}
	}
}

func TestDevIssuerURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/oidc",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/oidc",
		":8080":          "http://127.0.0.1:8080/oidc",
		"[::]:9000":      "http://127.0.0.1:9000/oidc",
		"[::1]:9000":     "http://[::1]:9000/oidc",
		"localhost:80":   "http://localhost:80/oidc",
	} {
		if got := DevIssuerURL(addr); got != want {
			t.Errorf("DevIssuerURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "session.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil || len(k1) != 32 {
		t.Fatal(k1, err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || string(k1) != string(k2) {
		t.Errorf("reload: %v", err)
	}
	refused := func(what, want string) {
		t.Helper()
		if _, err := LoadOrCreateKey(path); sde.ErrorCode(err) != sde.EINVALID || !strings.Contains(sde.ErrorMessage(err), want) {
			t.Errorf("%s: %v; want invalid with %q", what, err, want)
		}
	}
	os.Chmod(path, 0o640)
	refused("group-readable key", "readable by other users")
	os.Chmod(path, 0o600)
	os.Chmod(filepath.Dir(path), 0o777)
	refused("key in a world-writable directory", "directory holding")
	os.Chmod(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte("short\n"), 0o600)
	refused("short key", "32 bytes in hex")
	if _, err := NewSessions(make([]byte, 16), SessionOptions{}); sde.ErrorCode(err) != sde.EINVALID {
		t.Errorf("16-byte session key: %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"issuer":"https://id.example","session_ttl":"30m"}`), &c); err != nil || time.Duration(c.SessionTTL) != 30*time.Minute {
		t.Errorf("%+v %v", c, err)
	}
	if err := json.Unmarshal([]byte(`{"session_ttl":"soon"}`), &c); err == nil {
		t.Error("bad duration accepted")
	}
}

func TestServiceBeforeStart(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/whoami", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	svc := New()
	svc.Mount(mux)
	srv := httptest.NewServer(svc.Middleware(mux))
	defer srv.Close()
	for _, tt := range []struct {
		path, auth string
		want       int
	}{
		{"/api/whoami", "", 200},
		{"/api/whoami", "Bearer x.y.z", 503},
		{LoginPath, "", 503},
		{DevIssuerPath + "/.well-known/openid-configuration", "", 503},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %q: %d, want %d", tt.path, tt.auth, resp.StatusCode, tt.want)
		}
	}
}

func TestServiceExternalIssuer(t *testing.T) {
	// Another server's dev issuer stands in for an external identity provider.
	idp := newEnv(t, Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("/api/whoami", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(sde.PrincipalFrom(r.Context()))
	})
	svc := New()
	svc.Mount(mux)
	srv := httptest.NewServer(svc.Middleware(mux))
	defer srv.Close()
	o := Options{Config: Config{Issuer: idp.svc.Dev.Issuer(), Audience: DevClientID}, DataDir: t.TempDir(), Logger: quietLogger()}
	if err := svc.Start(context.Background(), o); sde.ErrorCode(err) != sde.EINVALID || !strings.Contains(sde.ErrorMessage(err), "redirect_url") {
		t.Fatalf("without a redirect URL: %v", err)
	}
	o.Config.RedirectURL = srv.URL + CallbackPath
	if err := svc.Start(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if svc.Dev != nil {
		t.Error("a dev issuer runs outside --dev")
	}
	tok, _ := idp.svc.Dev.Token("checker2", 0)
	req, _ := http.NewRequest("GET", srv.URL+"/api/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"user":"checker2"`) {
		t.Errorf("whoami = %d %s", resp.StatusCode, b)
	}
	// Without --dev there is no issuer at /oidc.
	resp, _ = http.Get(srv.URL + DevIssuerPath + "/.well-known/openid-configuration")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/oidc without --dev: %d", resp.StatusCode)
	}
}
