package auth

import (
	"log/slog"
	"net/http"
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
				next.ServeHTTP(w, r.WithContext(sde.WithPrincipal(r.Context(), p)))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// writeError answers in the service's one error shape; the cause goes only to the log.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	httperr.Write(w, r, logger, "authentication failed", err)
}
