package auth

import (
	"net/http/httptest"
	"testing"
)

// TestCookieRequestsNeedSameOrigin: a cookie-authenticated change must come from this site's
// pages (second security review, F5), and nothing but the sign-in flow may be started by another
// site (third review, F1, F4); bearer-token requests are unaffected.
func TestCookieRequestsNeedSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		ok      bool
	}{
		{"GET needs nothing", "GET", "", nil, true},
		{"GET from our pages", "GET", "", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"GET typed in the address bar", "GET", "", map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"download another site started", "GET", "/api/v1/workspaces/demo/queries/q-1?format=csv", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"read from a sibling site", "GET", "", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"sign-out another site started", "GET", LogoutPath, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"sign-out by a cross-site form", "POST", LogoutPath, map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-www-form-urlencoded"}, false},
		{"sign-out from our page", "POST", LogoutPath, map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"}, true},
		{"same-origin fetch", "POST", "", map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, true},
		{"cross-site fetch", "POST", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, false},
		{"same-site other port", "POST", "", map[string]string{"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, false},
		{"old browser, own origin", "POST", "", map[string]string{"Origin": "http://sde.example", "Content-Type": "application/json"}, true},
		{"old browser, other origin", "POST", "", map[string]string{"Origin": "http://127.0.0.1:9999", "Content-Type": "application/json"}, false},
		{"no origin at all", "POST", "", nil, false},
		{"form content type", "POST", "", map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"}, false},
	} {
		path := tc.path
		if path == "" {
			path = "/api/v1/workspaces/demo/decisions"
		}
		r := httptest.NewRequest(tc.method, "http://sde.example"+path, nil)
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		if err := sameOrigin(r); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestCookieSpeaksForAPIAndSignOutOnly: pages, assets and the sign-in flow take no authority
// from the session cookie (a provider's redirect back arrives "cross-site"), so the checks
// above never apply there.
func TestCookieSpeaksForAPIAndSignOutOnly(t *testing.T) {
	for path, want := range map[string]bool{
		"/api/v1/me": true, "/api/v1/workspaces/demo/queries/q-1": true, LogoutPath: true,
		"/": false, "/static/app.js": false, "/transparency": false, LoginPath: false, CallbackPath: false,
	} {
		if got := cookieScoped(httptest.NewRequest("GET", "http://sde.example"+path, nil)); got != want {
			t.Errorf("%s: cookie scoped %v, want %v", path, got, want)
		}
	}
}
