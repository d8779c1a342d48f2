package auth

import (
	"crypto/tls"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
)

// recorder keeps every response so tests can inspect the Set-Cookie headers along redirects.
type recorder struct {
	mu    sync.Mutex
	resps []*http.Response
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.resps = append(r.resps, resp)
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) setCookies(name string) []*http.Cookie {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*http.Cookie
	for _, resp := range r.resps {
		for _, c := range resp.Cookies() {
			if c.Name == name {
				out = append(out, c)
			}
		}
	}
	return out
}

func browser() (*http.Client, *recorder) {
	jar, _ := cookiejar.New(nil)
	rec := &recorder{}
	return &http.Client{Jar: jar, Transport: rec, Timeout: 10 * time.Second}, rec
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	formID     = regexp.MustCompile(`name="authRequestID" value="([^"]*)"`)
)

// signIn drives the sign-in as a person would: open /auth/login, land on the dev issuer's page,
// press the button for user, and follow the redirects home.
func signIn(t *testing.T, c *http.Client, base, user, next string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(base + LoginPath + "?next=" + url.QueryEscape(next))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "DEVELOPMENT ISSUER") {
		t.Fatalf("login page: %d %s", resp.StatusCode, page)
	}
	for _, u := range DemoUsers {
		if !strings.Contains(string(page), `value="`+string(u.User)+`"`) {
			t.Errorf("login page does not offer %s", u.User)
		}
	}
	action, id := formAction.FindStringSubmatch(string(page)), formID.FindStringSubmatch(string(page))
	if action == nil || id == nil || id[1] == "" {
		t.Fatalf("no form on the login page:\n%s", page)
	}
	target := resp.Request.URL.ResolveReference(&url.URL{Path: html.UnescapeString(action[1])})
	resp, err = c.PostForm(target.String(), url.Values{"authRequestID": {html.UnescapeString(id[1])}, "user": {user}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestBrowserSignIn(t *testing.T) {
	e := newEnv(t, Config{})
	c, rec := browser()
	resp, body := signIn(t, c, e.srv.URL, "controller-acute", "/api/whoami?x=1")
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/api/whoami" || resp.Request.URL.RawQuery != "x=1" {
		t.Fatalf("ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
	var p sde.Principal
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.User != "controller-acute" || p.Organisation != "RVAPC" || len(p.Roles) != 1 || p.Roles[0] != sde.RoleController || p.Name != "Grace Hughes" {
		t.Fatalf("principal after sign-in = %s (%v)", body, err)
	}

	// The session cookie: HttpOnly, SameSite=Lax, whole site, bounded life, not Secure over http.
	cs := rec.setCookies(sessionCookie)
	if len(cs) != 1 {
		t.Fatalf("session cookies set: %v", cs)
	}
	sc := cs[0]
	if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Secure || sc.Domain != "" {
		t.Errorf("session cookie attributes: %+v", sc)
	}
	if sc.MaxAge != int(DefaultSessionTTL/time.Second) || time.Until(sc.Expires) > DefaultSessionTTL+time.Minute || time.Until(sc.Expires) < DefaultSessionTTL-time.Minute {
		t.Errorf("session cookie lifetime: max-age %d, expires %v", sc.MaxAge, sc.Expires)
	}
	if strings.Contains(sc.Value, "controller") || strings.Contains(sc.Value, "RVAPC") {
		t.Error("the session cookie is readable")
	}
	// The login-state cookie was scoped to the callback, short-lived, and spent there.
	ls := rec.setCookies(loginCookie)
	if len(ls) != 2 || ls[0].Path != CallbackPath || !ls[0].HttpOnly || ls[0].SameSite != http.SameSiteLaxMode || ls[0].MaxAge != 600 || ls[1].MaxAge >= 0 {
		t.Errorf("login cookies: %+v", ls)
	}
	// The authorize request carried PKCE (S256), a state and a nonce.
	var sawAuthorize bool
	for _, r := range rec.resps {
		if strings.HasSuffix(r.Request.URL.Path, "/oidc/authorize") {
			q := r.Request.URL.Query()
			sawAuthorize = q.Get("code_challenge_method") == "S256" && q.Get("code_challenge") != "" && q.Get("state") != "" && q.Get("nonce") != ""
		}
	}
	if !sawAuthorize {
		t.Error("no PKCE authorize request seen")
	}

	// The cookie alone now identifies the browser to the middleware.
	resp, err := c.Get(e.srv.URL + "/api/whoami")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"user":"controller-acute"`) {
		t.Errorf("whoami with cookie: %s", b)
	}

	// The page a real identity provider's redirect lands on after the callback arrives
	// "cross-site" (browsers judge the whole redirect chain); pages take no authority from the
	// cookie, so they are served (review of the web workbench, finding 1).
	req, _ := http.NewRequest("GET", e.srv.URL+"/", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := c.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "the page" {
			t.Errorf("page after a cross-site redirect = %d %s", resp.StatusCode, b)
		}
	}
	// The API is not: the same request there is refused.
	req, _ = http.NewRequest("GET", e.srv.URL+"/api/whoami", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := c.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("API read another site started = %d", resp.StatusCode)
		}
	}

	// Keep a copy of the session cookie, as an attacker who stole it would.
	u, _ := url.Parse(e.srv.URL)
	var stolen *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			stolen = ck
		}
	}
	if stolen == nil {
		t.Fatal("no session cookie to keep")
	}

	// Sign-out clears it.
	resp, err = c.Post(e.srv.URL+LogoutPath, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, _ = c.Get(e.srv.URL + "/api/whoami")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(b)) != "null" {
		t.Errorf("after logout: %s", b)
	}
	// And the kept copy no longer works (second security review, F5).
	req, _ = http.NewRequest("GET", e.srv.URL+"/api/whoami", nil)
	req.AddCookie(stolen)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a session cookie replayed after sign-out: %d", resp.StatusCode)
		}
	}
	// On a page the dead cookie is cleared and the page served, so the workbench can offer
	// sign-in instead of an error (review of the web workbench, finding 2).
	req, _ = http.NewRequest("GET", e.srv.URL+"/", nil)
	req.AddCookie(stolen)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		cleared := false
		for _, ck := range resp.Cookies() {
			cleared = cleared || (ck.Name == sessionCookie && ck.MaxAge < 0)
		}
		if resp.StatusCode != 200 || !cleared {
			t.Errorf("page with a dead session cookie = %d, cleared %v", resp.StatusCode, cleared)
		}
	}
}

func TestSignInEveryDemoUser(t *testing.T) {
	e := newEnv(t, Config{})
	for _, u := range DemoUsers {
		c, _ := browser()
		resp, body := signIn(t, c, e.srv.URL, string(u.User), "/api/whoami")
		if resp.StatusCode != 200 || !strings.Contains(body, `"user":"`+string(u.User)+`"`) || !strings.Contains(body, `"organisation":"`+string(u.Organisation)+`"`) {
			t.Errorf("%s: %d %s", u.User, resp.StatusCode, body)
		}
	}
}

func TestCallbackRefuses(t *testing.T) {
	e := newEnv(t, Config{})
	noFollow := func(c *http.Client) *http.Client {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return c
	}
	status := func(c *http.Client, u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Without the login-state cookie (another browser, or expired).
	c, _ := browser()
	if code, body := status(noFollow(c), e.srv.URL+CallbackPath+"?code=x&state=y"); code != 400 || !strings.Contains(body, "start again") {
		t.Errorf("no state cookie: %d %s", code, body)
	}

	// With the cookie but a forged state.
	c, _ = browser()
	c = noFollow(c)
	resp, err := c.Get(e.srv.URL + LoginPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/oidc/authorize") {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, body := status(c, e.srv.URL+CallbackPath+"?code=x&state=forged"); code != 400 || !strings.Contains(body, "state does not match") {
		t.Errorf("forged state: %d %s", code, body)
	}
	// The state cookie is single-use: the failed attempt spent it.
	if code, _ := status(c, e.srv.URL+CallbackPath+"?code=x&state=forged"); code != 400 {
		t.Errorf("second use: %d", code)
	}

	// The right state with a code the issuer never issued.
	resp, _ = c.Get(e.srv.URL + LoginPath)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	state := loc.Query().Get("state")
	if code, body := status(c, e.srv.URL+CallbackPath+"?code=made-up&state="+url.QueryEscape(state)); code != 401 {
		t.Errorf("made-up code: %d %s", code, body)
	}

	// The right state but no code at all.
	resp, _ = c.Get(e.srv.URL + LoginPath)
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if code, body := status(c, e.srv.URL+CallbackPath+"?state="+url.QueryEscape(loc.Query().Get("state"))); code != 400 || !strings.Contains(body, "no authorisation code") {
		t.Errorf("no code: %d %s", code, body)
	}

	// The issuer reported an error.
	resp, _ = c.Get(e.srv.URL + LoginPath)
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if code, body := status(c, e.srv.URL+CallbackPath+"?error=access_denied&error_description=%3Cscript%3E&state="+url.QueryEscape(loc.Query().Get("state"))); code != 401 || strings.Contains(body, "script") {
		t.Errorf("issuer error: %d %s", code, body)
	}
}

func TestLoginRedirectsToCanonicalHost(t *testing.T) {
	e := newEnv(t, Config{})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	u := strings.Replace(e.srv.URL, "127.0.0.1", "localhost", 1) + LoginPath + "?next=/x"
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := e.srv.URL + LoginPath + "?next=/x"; resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("redirect = %d %q, want %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

func TestSecureCookies(t *testing.T) {
	key := make([]byte, 32)
	p := &sde.Principal{User: "u", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAnalyst}}
	for _, tt := range []struct {
		name   string
		secure bool
		tls    bool
		want   string
	}{
		{"plain http", false, false, sessionCookie},
		{"over TLS", false, true, secureSessionCookie},
		{"behind a TLS proxy", true, false, secureSessionCookie},
	} {
		s, _ := NewSessions(key, SessionOptions{Secure: tt.secure, TTL: time.Hour})
		r := httptest.NewRequest("GET", "/auth/callback", nil)
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		if err := s.Set(w, r, p); err != nil {
			t.Fatal(err)
		}
		cs := w.Result().Cookies()
		if len(cs) != 1 || cs[0].Name != tt.want || cs[0].Secure != (tt.want == secureSessionCookie) || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteLaxMode || cs[0].MaxAge != 3600 {
			t.Errorf("%s: %+v", tt.name, cs)
			continue
		}
		// And it reads back.
		r2 := httptest.NewRequest("GET", "/", nil)
		r2.AddCookie(cs[0])
		if got, err := s.Principal(r2); err != nil || got.User != "u" {
			t.Errorf("%s: read back %+v %v", tt.name, got, err)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "/",
		"/":                    "/",
		"/workspaces/demo?q=1": "/workspaces/demo?q=1",
		"//evil.example/":      "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"javascript:alert(1)":  "/",
		"relative":             "/",
		"/a\r\nSet-Cookie: x":  "/",
		// Second security review, F1: paths that clean to /\host or //host.
		"/./\\evil.example":    "/",
		"/a/../\\evil.example": "/",
		"/.//evil.example":     "/evil.example", // a path on this site
		"/a/..//evil.example":  "/evil.example",
		"/workspaces/./demo":   "/workspaces/demo",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDevLoginPage(t *testing.T) {
	e := newEnv(t, Config{})
	resp, err := http.Get(e.srv.URL + DevIssuerPath + devLoginPath + "?authRequestID=nope")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "DEVELOPMENT ISSUER") || !strings.Contains(string(b), "expired") {
		t.Errorf("unknown request: %d %s", resp.StatusCode, b)
	}
	resp, _ = http.PostForm(e.srv.URL+DevIssuerPath+devLoginPath, url.Values{"authRequestID": {"nope"}, "user": {"analyst1"}})
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("completing an unknown request: %d", resp.StatusCode)
	}
	// Discovery advertises PKCE and the JWKS under the issuer's path.
	resp, err = http.Get(e.srv.URL + DevIssuerPath + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer  string   `json:"issuer"`
		JWKS    string   `json:"jwks_uri"`
		Methods []string `json:"code_challenge_methods_supported"`
	}
	json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if disc.Issuer != e.srv.URL+DevIssuerPath || disc.JWKS != e.srv.URL+DevIssuerPath+"/keys" || len(disc.Methods) == 0 {
		t.Errorf("discovery: %+v", disc)
	}
}

// TestSignInAndOutAreAudited: the audit hook sees each sign-in and sign-out, and a failing hook
// refuses the sign-in (second security review, F6).
func TestSignInAndOutAreAudited(t *testing.T) {
	e := newEnv(t, Config{})
	var events []string
	fail := false
	e.svc.Login.Audit = func(r *http.Request, p *sde.Principal, action string) error {
		if fail {
			return sde.Errorf(sde.EUNAVAILABLE, "The audit log cannot be written.")
		}
		events = append(events, action+" "+string(p.User))
		return nil
	}
	c, _ := browser()
	if resp, body := signIn(t, c, e.srv.URL, "checker1", "/api/whoami"); resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/auth/logout", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if strings.Join(events, ",") != "auth.signin checker1,auth.signout checker1" {
		t.Errorf("audited %v", events)
	}
	fail = true
	c2, _ := browser()
	if resp, _ := signIn(t, c2, e.srv.URL, "checker2", "/api/whoami"); resp.StatusCode == 200 {
		t.Error("signed in although the audit log could not be written")
	}
}
