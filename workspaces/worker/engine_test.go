//go:build duckdb_arrow

package worker

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/opensde/sde/sde/sqlrows"
)

// TestEngineSettings checks DuckDB's own defences in-process, without the worker's statement check
// or the sandbox, so each is seen to hold on its own.
func TestEngineSettings(t *testing.T) {
	ctx := context.Background()
	db := makeDB(t, "ws_engine")
	private := t.TempDir()
	e, err := openEngine(ctx, Options{DB: db, Memory: "256MB", Threads: 1, Concurrency: 1}, private)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	const locked, readOnly, noFS = "the configuration has been locked", "read-only mode", "LocalFileSystem has been disabled"
	for _, tc := range []struct{ name, sql, want string }{
		{"configuration is locked", "SET enable_external_access = true", locked},
		{"limits are locked", "SET GLOBAL memory_limit = '100GB'", locked},
		{"lock cannot be reset", "RESET lock_configuration", locked},
		{"no spilling", "SET temp_directory = '/tmp'", locked},
		{"read-only", "CREATE TABLE t2 AS SELECT 1", readOnly},
		{"read-only insert", "INSERT INTO events VALUES ('x', 'A', 1)", readOnly},
		{"no files", "SELECT * FROM read_csv('/etc/passwd')", noFS},
		{"not even the database file", "SELECT * FROM read_blob('" + db + "')", noFS},
		{"no attach", "ATTACH '" + t.TempDir() + "/x.duckdb' AS x", noFS},
		{"no copy", "COPY events TO '" + t.TempDir() + "/out.csv'", noFS},
		{"no extensions", "LOAD httpfs", "Loading external extensions is disabled"},
		{"no install", "INSTALL httpfs", noFS},
	} {
		// Each statement must fail for the reason named, not for an unrelated one (a typo, a
		// missing extension) that would hide a defence that is not there.
		if _, err := e.db.ExecContext(ctx, tc.sql); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %s gave %v; want an error containing %q", tc.name, tc.sql, err, tc.want)
		}
	}
	// Persistent secrets cannot be created without an extension that defines a secret type; the
	// setting that forbids them is read back by verify() when the engine opens.

	// What still works at the DuckDB level, and why the analyser must block it.
	// 1. Settings are readable: the private directory's path shows.
	var home string
	if err := e.db.QueryRowContext(ctx, "SELECT current_setting('home_directory')").Scan(&home); err != nil || home != private {
		t.Errorf("home_directory = %q, %v", home, err)
	}
	// 2. enable_logging works despite lock_configuration (DESIGN.md) and then shows this
	//    instance's own SQL. One instance per workspace is what keeps other workspaces' SQL out.
	if _, err := e.db.ExecContext(ctx, "CALL enable_logging()"); err != nil {
		t.Logf("CALL enable_logging(): %v", err)
	} else {
		e.db.ExecContext(ctx, "SELECT 'marker-7d1' AS m")
		var n int
		if err := e.db.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_logs WHERE message LIKE '%marker-7d1%'").Scan(&n); err != nil {
			t.Logf("duckdb_logs: %v", err)
		}
		t.Logf("CALL enable_logging() ran under lock_configuration; duckdb_logs lines with an earlier query's text: %d", n)
		// Logging to a file is refused: there is no local file system.
		if _, err := e.db.ExecContext(ctx, "CALL enable_logging(storage := 'file', storage_path := '"+t.TempDir()+"')"); err == nil {
			t.Errorf("enable_logging to a file was accepted")
		}
	}
	// 3. Each instance sees exactly its own database.
	names, err := sqlrows.Strings(ctx, e.db, "SELECT database_name FROM duckdb_databases() WHERE NOT internal")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "ws_engine" {
		t.Errorf("databases = %v", names)
	}
}

// TestEngineKeepsOnlySelectVerdicts: a text found to be one SELECT is not planned twice again;
// refusals are never kept, and the kept verdicts are bounded.
func TestEngineKeepsOnlySelectVerdicts(t *testing.T) {
	ctx := context.Background()
	e, err := openEngine(ctx, Options{DB: makeDB(t, "ws_verdicts"), Memory: "256MB", Threads: 1, Concurrency: 1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	drain := func(rr array.RecordReader) error {
		for rr.Next() {
		}
		return rr.Err()
	}
	for i := 0; i < 2; i++ {
		for _, bad := range []string{"SELECT 1; SELECT 2", "SET threads = 1", "SELECT 1 /* ; */; DROP TABLE events"} {
			if err := e.query(ctx, bad, drain); err == nil {
				t.Errorf("round %d: %q ran", i, bad)
			}
		}
		if err := e.query(ctx, "SELECT count(*) FROM events", drain); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.selects) != 1 {
		t.Errorf("%d verdicts kept, want 1 (the SELECT)", len(e.selects))
	}
	for i := 0; i <= maxSelects; i++ {
		if err := e.query(ctx, fmt.Sprintf("SELECT %d", i), drain); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.selects) > maxSelects {
		t.Errorf("%d verdicts kept, over the bound %d", len(e.selects), maxSelects)
	}
}
