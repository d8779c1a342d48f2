package auth

import (
	"net/http/httptest"
	"testing"
)

// TestCookieRequestsNeedSameOrigin: a cookie-authenticated change must come from this site's
// pages (second security review, F5); bearer-token requests are unaffected.
func TestCookieRequestsNeedSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		headers map[string]string
		ok      bool
	}{
		{"GET needs nothing", "GET", nil, true},
		{"same-origin fetch", "POST", map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, true},
		{"cross-site fetch", "POST", map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, false},
		{"same-site other port", "POST", map[string]string{"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, false},
		{"old browser, own origin", "POST", map[string]string{"Origin": "http://sde.example", "Content-Type": "application/json"}, true},
		{"old browser, other origin", "POST", map[string]string{"Origin": "http://127.0.0.1:9999", "Content-Type": "application/json"}, false},
		{"no origin at all", "POST", nil, false},
		{"form content type", "POST", map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"}, false},
	} {
		r := httptest.NewRequest(tc.method, "http://sde.example/api/v1/workspaces/demo/decisions", nil)
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		if err := sameOrigin(r); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
