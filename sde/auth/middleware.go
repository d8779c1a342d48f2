package auth

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/httperr"
)

// Middleware identifies the caller of every request from an "Authorization: Bearer" token or,
// failing that, the browser session cookie, and puts the principal in the request's context
// (sde.PrincipalFrom). Requests without credentials pass through anonymously so that public pages
// work and each handler decides what needs a principal. Credentials that are present but bad are
// answered 401 with {"error": {"code": "unauthorized", "message"}}: a caller who sent a token
// wants to know it was refused, rather than silently getting the anonymous view.
//
// A bad session cookie is cleared in the same response, so a browser whose session lapsed can
// sign in again; on the sign-in paths themselves (/auth/...) it is ignored rather than refused.
func Middleware(v *Verifier, sessions *Sessions) func(http.Handler) http.Handler {
	return middleware(v, sessions, nil)
}

func middleware(v *Verifier, sessions *Sessions, logger *slog.Logger) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h := r.Header.Get("Authorization"); h != "" {
				scheme, tok, _ := strings.Cut(h, " ")
				if !strings.EqualFold(scheme, "Bearer") {
					writeError(w, r, logger, unauthorized(nil, "Send the token as \"Authorization: Bearer TOKEN\"."))
					return
				}
				p, err := v.Verify(r.Context(), tok)
				if err != nil {
					writeError(w, r, logger, err)
					return
				}
				next.ServeHTTP(w, r.WithContext(sde.WithPrincipal(r.Context(), p)))
				return
			}
			if sessions != nil && sessions.has(r) && !cookieScoped(r) {
				// Pages, assets and the sign-in flow grant nothing by cookie: a bad one is just
				// cleared, and a link from another site (or the identity provider's redirect
				// back through the callback to the page) is served like any visit.
				if _, err := sessions.Principal(r); err != nil {
					sessions.Clear(w, r)
				}
				next.ServeHTTP(w, r)
				return
			}
			if sessions != nil && sessions.has(r) {
				p, err := sessions.Principal(r)
				if err != nil {
					sessions.Clear(w, r)
					if strings.HasPrefix(r.URL.Path, loginPrefix) {
						next.ServeHTTP(w, r)
						return
					}
					writeError(w, r, logger, err)
					return
				}
				if err := sameOrigin(r); err != nil {
					writeError(w, r, logger, err)
					return
				}
				next.ServeHTTP(w, r.WithContext(sde.WithPrincipal(r.Context(), p)))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// cookieScoped reports whether the session cookie speaks for the person on this path: the API,
// and sign-out (which ends the session).
func cookieScoped(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == LogoutPath
}

// sameOrigin judges a request the session cookie speaks for (cookieScoped): one that changes
// something must come from this site's own pages, as a browser sends the cookie with requests
// other sites make it send (second security review, F5); and reads, downloads and sign-out that
// another site started are refused where the browser says so (Sec-Fetch-Site), since each is
// audited as the person's own act (third review, F1, F4). Bearer tokens are never sent by a
// browser on its own, so they need no such check.
func sameOrigin(r *http.Request) error {
	forbidden := sde.Errorf(sde.EFORBIDDEN, "This request did not come from the SDE's own pages; reload the page and try again.")
	switch site := r.Header.Get("Sec-Fetch-Site"); {
	case site == "cross-site" || site == "same-site":
		return forbidden
	case r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions:
		return nil
	case r.URL.Path == LogoutPath:
		return nil // a POST from a form of ours; an old browser's cross-site sign-out is harmless
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
	case "":
		// Older browsers: the Origin header must name this host.
		origin := r.Header.Get("Origin")
		if origin == "" {
			return forbidden
		}
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return forbidden
		}
	default:
		return forbidden
	}
	// The content types a plain HTML form can send are never what the API takes from a browser.
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	switch ct {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return forbidden
	}
	return nil
}

// writeError answers in the service's one error shape; the cause goes only to the log.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	httperr.Write(w, r, logger, "authentication failed", err)
}
