//go:build duckdb_arrow

package worker

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"
)

// engine is the worker's one DuckDB instance over the workspace database.
type engine struct {
	db *sql.DB

	// selects holds the digests of texts already prepared and found to be one SELECT. The
	// database is read-only and its configuration locked, so a text's verdict cannot change;
	// a repeat (a dashboard refresh, a re-run) skips the check's second planning (≈ 1 ms).
	mu      sync.Mutex
	selects map[[sha256.Size]byte]bool
}

// maxSelects bounds the verdicts kept; past it they are forgotten and checked again.
const maxSelects = 4096

// settings returns the configuration applied, in order, before lock_configuration. Each entry is
// a setting and the value duckdb_settings() must report afterwards.
func settings(o Options, private string) [][2]string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	// enable_external_access goes after the directories: once it is off DuckDB refuses to change
	// them, which is the point of turning it off.
	return [][2]string{
		{"autoinstall_known_extensions", "false"},
		{"autoload_known_extensions", "false"},
		{"allow_community_extensions", "false"},
		{"allow_persistent_secrets", "false"},
		{"secret_directory", q(private)},
		{"home_directory", q(private)},
		{"extension_directory", q(private)},
		{"temp_directory", q("")},
		{"max_temp_directory_size", q("0B")},
		{"memory_limit", q(o.Memory)},
		{"threads", fmt.Sprint(o.Threads)},
		// With external access off DuckDB still lets table functions read the database file
		// itself (read_blob on it returns the raw pages, every row); no local file system at all
		// closes that. The database is already open, and its handle stays open.
		{"enable_external_access", "false"},
		{"disabled_filesystems", q("LocalFileSystem")},
	}
}

func openEngine(ctx context.Context, o Options, private string) (*engine, error) {
	connector, err := duckdb.NewConnector(o.DB+"?access_mode=READ_ONLY", nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.DB, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(o.Concurrency + 1)
	db.SetMaxIdleConns(o.Concurrency + 1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", o.DB, err)
	}
	defer conn.Close()
	// Settings are global to the instance, so one connection configures it; the lock comes last
	// so nothing after it, the analyst's SQL included, can undo any of them.
	for _, s := range settings(o, private) {
		if _, err := conn.ExecContext(ctx, "SET GLOBAL "+s[0]+" = "+s[1]); err != nil {
			db.Close()
			return nil, fmt.Errorf("SET %s: %w", s[0], err)
		}
	}
	if _, err := conn.ExecContext(ctx, "SET GLOBAL lock_configuration = true"); err != nil {
		db.Close()
		return nil, fmt.Errorf("lock configuration: %w", err)
	}
	if err := verify(ctx, conn, o, private); err != nil {
		db.Close()
		return nil, err
	}
	return &engine{db: db, selects: map[[sha256.Size]byte]bool{}}, nil
}

// verify reads the settings back: a name DuckDB silently ignored or renamed would otherwise
// leave a door open without anyone noticing.
func verify(ctx context.Context, conn *sql.Conn, o Options, private string) error {
	want := map[string]string{"lock_configuration": "true", "access_mode": "read_only"}
	for _, s := range settings(o, private) {
		want[s[0]] = strings.Trim(s[1], "'")
	}
	// memory_limit and max_temp_directory_size come back formatted by DuckDB; check they are set.
	delete(want, "memory_limit")
	delete(want, "max_temp_directory_size")
	// duckdb_settings() shows disabled_filesystems empty even when set; probe it instead.
	delete(want, "disabled_filesystems")
	for name, v := range want {
		var got sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT value FROM duckdb_settings() WHERE name = $1", name).Scan(&got); err != nil {
			return fmt.Errorf("read setting %s: %w", name, err)
		}
		if !strings.EqualFold(got.String, v) {
			return fmt.Errorf("setting %s is %q, want %q", name, got.String, v)
		}
	}
	// Reading the database file through a table function must fail: that is the one file DuckDB
	// would otherwise still open for a query.
	var n int
	err := conn.QueryRowContext(ctx, "SELECT count(*) FROM read_blob($1)", o.DB).Scan(&n)
	if err == nil {
		return errors.New("read_blob can read the database file")
	}
	return nil
}

func (e *engine) close() error { return e.db.Close() }

// query runs one SELECT and hands its Arrow result to emit. DuckDB materialises the result inside
// QueryContext, where duckdb-go interrupts the query when ctx ends; emit only streams batches.
func (e *engine) query(ctx context.Context, text string, emit func(array.RecordReader) error) error {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		if err := e.checkSelect(dc.(driver.Conn), text); err != nil {
			return err
		}
		a, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rr, err := a.QueryContext(ctx, text)
		if err != nil {
			return err
		}
		defer rr.Release()
		return emit(rr)
	})
}

// checkSelect refuses text unless it is exactly one SELECT. Prepare (without a context) refuses
// text holding more than one statement, and preparing does not execute; so nothing but a single
// SELECT ever runs.
func (e *engine) checkSelect(dc driver.Conn, text string) error {
	sum := sha256.Sum256([]byte(text))
	e.mu.Lock()
	ok := e.selects[sum]
	e.mu.Unlock()
	if ok {
		return nil
	}
	st, err := dc.Prepare(text)
	if err != nil {
		var de *duckdb.Error
		if !errors.As(err, &de) {
			return errNotSelect // duckdb-go's "more than one statement"
		}
		return err
	}
	typ, err := st.(*duckdb.Stmt).StatementType()
	st.Close()
	if err != nil {
		return err
	}
	if typ != duckdb.STATEMENT_TYPE_SELECT {
		return errNotSelect
	}
	e.mu.Lock()
	if len(e.selects) >= maxSelects {
		clear(e.selects)
	}
	e.selects[sum] = true
	e.mu.Unlock()
	return nil
}

var errNotSelect = errors.New("not a single SELECT statement")
