//go:build duckdb_arrow

package worker

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// The tests run real worker processes by re-executing the test binary: TestMain turns into
// `sde worker` when its first argument is "worker", exactly as the supervisor calls the real
// binary. That keeps the tests hermetic (no go build of ./cmd/sde in the test) and exercises the
// same Flags and Serve that cmd/sde wires up.
// leakCanary is set in the test process by tests that check the worker gets a clean environment.
const leakCanary = "SDE_TEST_ENV_CANARY"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if os.Getenv(leakCanary) != "" {
			fmt.Fprintln(os.Stderr, "worker: inherited the service's environment")
			os.Exit(3)
		}
		fs := flag.NewFlagSet("worker", flag.ExitOnError)
		o := Flags(fs)
		fs.Parse(os.Args[2:])
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		if err := Serve(ctx, *o, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// makeDB writes a small workspace database: 30 people in area A (each with two events), 12 in B.
func makeDB(t testing.TB, name string, extra ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := append([]string{
		`CREATE TABLE events AS
		   SELECT 'p' || i AS person_id, CASE WHEN i < 30 THEN 'A' ELSE 'B' END AS area, 10 * i AS cost
		   FROM range(42) r(i), range(2) k(j) WHERE i < 30 OR j = 0`,
		`CHECKPOINT`,
	}, extra...)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path
}
