package sde

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status and one exit code; the set is deliberately small.
const (
	EINVALID      = "invalid"      // the request or input is malformed or breaks a rule
	ENOTFOUND     = "not_found"    // the thing asked for does not exist (or the caller may not know it does)
	ECONFLICT     = "conflict"     // the change clashes with current state
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EFORBIDDEN    = "forbidden"    // authenticated, but not allowed
	EREFUSED      = "refused"      // a safety rule refused the request (SQL analyser, disclosure policy)
	EUNAVAILABLE  = "unavailable"  // a dependency (Vault, a worker) cannot be reached; try again later
	ETOOLARGE     = "too_large"    // the input exceeds a configured limit
	ETOOMANY      = "too_many"     // the caller already has as much under way as one person may
	EINTERNAL     = "internal"     // a bug or an unexpected failure; details only in logs
)

// Error separates what a user may see (Code, Message) from the cause, which is only logged.
// Messages must never contain file paths, settings, other users' SQL or internal errors.
type Error struct {
	Code    string
	Message string
	Err     error // cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns a user-facing error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a logged-only cause to a user-facing error.
func Wrap(err error, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of err; anything that is not an *Error is
// reported generically so internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
