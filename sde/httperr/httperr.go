// Package httperr writes the SDE's one HTTP error shape, {"error": {"code", "message"}}, for
// every HTTP face (the REST API, the authentication layer), logging the cause and never sending it.
package httperr

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/opensde/sde/sde"
)

// Status maps an error code to an HTTP status.
func Status(code string) int {
	switch code {
	case sde.EINVALID:
		return http.StatusBadRequest
	case sde.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case sde.EFORBIDDEN:
		return http.StatusForbidden
	case sde.ENOTFOUND:
		return http.StatusNotFound
	case sde.ECONFLICT:
		return http.StatusConflict
	case sde.EREFUSED:
		return http.StatusUnprocessableEntity
	case sde.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case sde.ETOOMANY:
		return http.StatusTooManyRequests
	case sde.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Write answers with err's status and user-safe message; the cause goes only to logger.
func Write(w http.ResponseWriter, r *http.Request, logger *slog.Logger, what string, err error) {
	code := sde.ErrorCode(err)
	status := Status(code)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	if logger != nil {
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		var se *sde.Error
		cause := err
		if errors.As(err, &se) && se.Err != nil {
			cause = se.Err
		}
		logger.Log(r.Context(), level, what, "method", r.Method, "path", r.URL.Path, "code", code, "cause", cause)
	}
	JSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": sde.ErrorMessage(err)}})
}

// JSON writes v as an uncached JSON response.
func JSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
