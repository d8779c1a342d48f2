//go:build duckdb_arrow

package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/opensde/sde/workspaces/worker"
)

// TestHelperWorker is not a test: the supervisor in TestWorkerCommandUnderPool re-executes this
// test binary with "-test.run=^TestHelperWorker$ -- worker ..." and this turns it into
// `sde worker` through run, the real command dispatch. It never sandboxes the test process itself.
func TestHelperWorker(t *testing.T) {
	i := slices.Index(os.Args, "--")
	if i < 0 || i+1 >= len(os.Args) || os.Args[i+1] != "worker" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[i+1:], os.Stdout, os.Stderr))
}

func TestWorkerCommandUnderPool(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ws.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t AS SELECT range % 3 AS g FROM range(30)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var log bytes.Buffer
	p := &worker.Pool{
		Exe:  os.Args[0],
		Args: []string{"-test.run=^TestHelperWorker$", "--", "worker"},
		Dir:  t.TempDir(),
		Log:  &log,
	}
	defer p.Close()
	rr, err := p.Query(context.Background(), "demo", path, "SELECT g, count(*) AS n FROM t GROUP BY g ORDER BY g")
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log.String())
	}
	defer rr.Release()
	var got []string
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			got = append(got, rec.Column(0).ValueStr(i)+"="+rec.Column(1).ValueStr(i))
		}
	}
	if strings.Join(got, " ") != "0=10 1=10 2=10" {
		t.Errorf("got %v", got)
	}
	ws := p.Workers()
	if len(ws) != 1 || !ws[0].Sandbox.NoNewPrivs {
		t.Errorf("workers = %+v", ws)
	}
}

func TestWorkerCommandFlags(t *testing.T) {
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"worker"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--db and --socket are required") {
		t.Errorf("no flags: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(ctx, []string{"worker", "-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "Arrow Flight") {
		t.Errorf("-h: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(ctx, []string{"worker", "--db", "x", "--socket", "y", "--memory", "lots"}, &stdout, &stderr); code != 2 {
		t.Errorf("bad memory: exit %d, %q", code, stderr.String())
	}
	// A database that is not there: the cause (with its path) goes to the log line, the error
	// message does not carry it.
	stderr.Reset()
	missing := filepath.Join(t.TempDir(), "secret-name.duckdb")
	code := run(ctx, []string{"worker", "--db", missing, "--socket", filepath.Join(t.TempDir(), "s")}, &stdout, &stderr)
	last := strings.TrimSpace(stderr.String())
	last = last[strings.LastIndex(last, "\n")+1:]
	if code != 1 || strings.Contains(last, "secret-name") || !strings.HasPrefix(last, "sde worker: ") {
		t.Errorf("missing db: exit %d, %q", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("a failed worker printed a ready line: %q", stdout.String())
	}
	// Not advertised: only the supervisor starts it.
	if strings.Contains(usage, "worker") {
		t.Errorf("worker is in the main usage")
	}
}
