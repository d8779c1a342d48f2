// Package duck opens private, in-memory DuckDB instances for the service's own work (ingest,
// workspace activation): one connection, settings applied before any statement, no extensions.
package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// Options configure an instance.
type Options struct {
	// MemoryLimit is DuckDB's memory limit, e.g. "4GB" (ValidMemoryLimit must accept it).
	MemoryLimit string
	// TempDir is where DuckDB may spill; empty disables spilling, so nothing the instance holds
	// (raw identifiers, linkage pseudonyms) can reach disk and too much data is an error instead.
	TempDir string
	// Threads bounds DuckDB's threads; 0 means all cores.
	Threads int
	// PreserveOrder keeps insertion order (rowid then follows the source's row order).
	PreserveOrder bool
}

var memoryRe = regexp.MustCompile(`^\d+(\.\d+)?\s*[KMGT]i?B$`)

// ValidMemoryLimit reports whether s is a size DuckDB accepts, and nothing else: it is spliced
// into a SET statement.
func ValidMemoryLimit(s string) bool { return memoryRe.MatchString(s) }

// Session is one instance and its one connection; temporary tables live as long as it does.
type Session struct {
	db   *sql.DB
	Conn *sql.Conn
}

// Open starts an instance. Errors are plain: callers say what failed in their own terms.
func Open(ctx context.Context, o Options) (*Session, error) {
	if !ValidMemoryLimit(o.MemoryLimit) {
		return nil, fmt.Errorf("duck: invalid memory limit %q", o.MemoryLimit)
	}
	temp := "''"
	if o.TempDir != "" {
		temp = "'" + escape(o.TempDir) + "'"
	}
	settings := []string{
		"SET temp_directory = " + temp,
		"SET memory_limit = '" + o.MemoryLimit + "'",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		fmt.Sprintf("SET preserve_insertion_order = %t", o.PreserveOrder),
	}
	if o.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", o.Threads))
	}
	connector, err := duckdb.NewConnector("", func(ex driver.ExecerContext) error {
		for _, q := range settings {
			if _, err := ex.ExecContext(ctx, q, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Session{db: db, Conn: conn}, nil
}

// NewConn opens another connection to the same instance (temporary tables are per connection).
func (s *Session) NewConn(ctx context.Context) (*sql.Conn, error) { return s.db.Conn(ctx) }

// Close ends the instance and frees everything it held.
func (s *Session) Close() {
	s.Conn.Close()
	s.db.Close()
}

// Ident quotes a trusted identifier (spec and dataset names, already restricted to [a-z0-9_]).
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// String quotes a value as an SQL string literal (paths, constant labels — never analyst text).
func String(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func escape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}
