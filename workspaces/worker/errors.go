package worker

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"google.golang.org/grpc/codes"
)

// Worker errors travel as gRPC status codes whose messages are already user-safe. The supervisor
// passes through only the codes below; anything else (transport failures, Internal) it replaces.
const (
	codeInvalid  = codes.InvalidArgument   // sde.EINVALID: the query is wrong
	codeRefused  = codes.PermissionDenied  // sde.EREFUSED: files, network, extensions, settings
	codeTooLarge = codes.ResourceExhausted // sde.ETOOLARGE: memory or time limit
	codeCanceled = codes.Canceled          // the caller went away
)

// classify maps a query failure to a status code and a message the analyst may see. DuckDB
// messages can carry file paths, settings and — for conversion errors — a row's value, so only
// the classes about the query text and the workspace's own schema keep their text.
func classify(ctx, client context.Context, err error, timeout time.Duration, stem string) (codes.Code, string) {
	if client.Err() != nil {
		return codeCanceled, "The query was cancelled."
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return codeTooLarge, "The query ran longer than the workspace's time limit (" + timeout.String() + ") and was stopped; narrow it or aggregate earlier."
	}
	if errors.Is(err, errNotSelect) {
		return codeRefused, "Only a single SELECT statement can run in a workspace."
	}
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return codes.Internal, "The query failed unexpectedly."
	}
	switch de.Type {
	case duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax, duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog,
		duckdb.ErrorTypeParameterNotResolved, duckdb.ErrorTypeParameterNotAllowed, duckdb.ErrorTypeMismatchType,
		duckdb.ErrorTypeNotImplemented:
		if strings.HasPrefix(de.Msg, "Binder Error: Prepared statement") {
			return codeRefused, "Only a single SELECT statement can run in a workspace."
		}
		return codeInvalid, scrub(de.Msg, stem)
	case duckdb.ErrorTypeConversion, duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeInvalidInput,
		duckdb.ErrorTypeDivideByZero, duckdb.ErrorTypeDecimal, duckdb.ErrorTypeConstraint,
		duckdb.ErrorTypeInvalidType, duckdb.ErrorTypeSequence:
		// These quote the offending value, which is a row's data.
		return codeInvalid, "The query failed on a value in the data (a conversion, overflow, division or invalid input). The message is withheld because it can show a row's value; guard the expression, e.g. with TRY_CAST or NULLIF."
	case duckdb.ErrorTypePermission, duckdb.ErrorTypeIO, duckdb.ErrorTypeSettings, duckdb.ErrorTypeInvalidConfiguration,
		duckdb.ErrorTypeMissingExtension, duckdb.ErrorTypeAutoLoad, duckdb.ErrorTypeHTTP, duckdb.ErrorTypeNetwork,
		duckdb.ErrorTypeConnection, duckdb.ErrorTypeTransaction:
		return codeRefused, "The query tried to use files, the network, extensions, settings or writes, which a workspace does not allow."
	case duckdb.ErrorTypeOutOfMemory:
		return codeTooLarge, "The query needs more memory than the workspace's limit; aggregate earlier or narrow it."
	}
	return codes.Internal, "The query failed unexpectedly."
}

var (
	// Absolute paths: a slash-led token with at least two components, or a drive letter.
	pathRe   = regexp.MustCompile(`(?:[A-Za-z]:\\|/)[^\s'"]*[/\\][^\s'"]*`)
	lineTail = regexp.MustCompile(`\s+$`)
)

// scrub removes file paths and the database's catalog name (the file's stem) from a message.
func scrub(msg, stem string) string {
	msg = pathRe.ReplaceAllString(msg, "…")
	if stem != "" {
		msg = strings.ReplaceAll(msg, `"`+stem+`".`, "")
		msg = strings.ReplaceAll(msg, stem+".", "")
	}
	return lineTail.ReplaceAllString(msg, "")
}

// dbStem is DuckDB's catalog name for a database file: its base name without extension.
func dbStem(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// logLine is what the worker logs about a failure: the DuckDB error class, never its message,
// which may quote data.
func logLine(err error) string {
	var de *duckdb.Error
	switch {
	case errors.As(err, &de):
		return "duckdb error type " + errorTypeName(de)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err.Error()
	case errors.Is(err, errNotSelect):
		return err.Error()
	}
	return "non-DuckDB error"
}

func errorTypeName(de *duckdb.Error) string {
	// The message starts with DuckDB's class name ("Binder Error: ..."); keep only that.
	if i := strings.Index(de.Msg, ":"); i > 0 && i < 40 {
		return de.Msg[:i]
	}
	return "unknown"
}
