package auth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/opensde/sde/sde"
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

// writeError answers in the shape package httpapi uses; the cause goes only to the log.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	code := sde.ErrorCode(err)
	status := http.StatusInternalServerError
	switch code {
	case sde.EUNAUTHORIZED:
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case sde.EFORBIDDEN:
		status = http.StatusForbidden
	case sde.EINVALID:
		status = http.StatusBadRequest
	case sde.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	var se *sde.Error
	cause := err
	if errors.As(err, &se) && se.Err != nil {
		cause = se.Err
	}
	if logger != nil {
		logger.Log(r.Context(), level, "authentication failed", "method", r.Method, "path", r.URL.Path, "code", code, "message", sde.ErrorMessage(err), "cause", cause)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{"error": map[string]string{"code": code, "message": sde.ErrorMessage(err)}})
}
