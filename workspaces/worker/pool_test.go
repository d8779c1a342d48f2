//go:build duckdb_arrow

package worker

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/opensde/sde/internal/testkit"
	"github.com/opensde/sde/sde"
)

func newPool(t *testing.T, lim Limits) (*Pool, *testkit.SyncBuffer) {
	t.Helper()
	log := &testkit.SyncBuffer{}
	lim.Threads = 1
	p := &Pool{Exe: os.Args[0], Dir: t.TempDir(), Limits: lim, Log: log, IdleTimeout: time.Minute}
	t.Cleanup(func() {
		p.Close()
		if t.Failed() {
			t.Logf("worker log:\n%s", log)
		}
	})
	return p, log
}

// rows reads a whole result as strings, one slice per row.
func rows(t *testing.T, rr array.RecordReader) [][]string {
	t.Helper()
	defer rr.Release()
	var out [][]string
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			var row []string
			for j := 0; j < int(rec.NumCols()); j++ {
				row = append(row, rec.Column(j).ValueStr(i))
			}
			out = append(out, row)
		}
	}
	return out
}

func query(t *testing.T, p *Pool, ws sde.WorkspaceID, db, q string) [][]string {
	t.Helper()
	rr, err := p.Query(context.Background(), ws, db, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows(t, rr)
}

func pidOf(t *testing.T, p *Pool, ws sde.WorkspaceID) int {
	t.Helper()
	for _, w := range p.Workers() {
		if w.Workspace == ws {
			return w.PID
		}
	}
	return 0
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

func TestQueryReturnsArrow(t *testing.T) {
	p, _ := newPool(t, Limits{})
	db := makeDB(t, "ws_one")
	rr, err := p.Query(context.Background(), "one", db,
		"SELECT area, count(*) AS n, count(DISTINCT person_id) AS persons, sum(cost) AS cost FROM events GROUP BY area ORDER BY area")
	if err != nil {
		t.Fatal(err)
	}
	if got := rr.Schema().String(); !strings.Contains(got, "area: type=utf8") || !strings.Contains(got, "n: type=int64") {
		t.Errorf("schema = %s", got)
	}
	got := rows(t, rr)
	want := [][]string{{"A", "60", "30", "8700"}, {"B", "12", "12", "4260"}}
	if len(got) != len(want) {
		t.Fatalf("rows = %v, want %v", got, want)
	}
	for i := range want {
		if strings.Join(got[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("row %d = %v, want %v", i, got[i], want[i])
		}
	}
	// An empty result still carries its schema.
	rr, err = p.Query(context.Background(), "one", db, "SELECT area FROM events WHERE false")
	if err != nil {
		t.Fatal(err)
	}
	if rr.Schema().NumFields() != 1 || len(rows(t, rr)) != 0 {
		t.Errorf("empty result wrong")
	}
}

// TestWorkerRefuses covers what the worker itself stops, whatever the analyser let through.
func TestWorkerRefuses(t *testing.T) {
	p, log := newPool(t, Limits{})
	db := makeDB(t, "ws_secret_name")
	for _, tc := range []struct {
		name, sql, code string
	}{
		{"read a file", "SELECT * FROM read_csv('/etc/passwd')", sde.EREFUSED},
		// External access off: DuckDB does not even try the path as a file.
		{"replacement scan of a path", "SELECT * FROM '/etc/passwd'", sde.EINVALID},
		{"read the db's own file", "SELECT * FROM read_blob('" + db + "')", sde.EREFUSED},
		{"attach", "ATTACH '/tmp/x.duckdb' AS x", sde.EREFUSED},
		{"set", "SET enable_external_access = true", sde.EREFUSED},
		{"reset lock", "RESET lock_configuration", sde.EREFUSED},
		{"call enable_logging", "CALL enable_logging()", sde.EREFUSED},
		{"create table", "CREATE TABLE t2 AS SELECT 1", sde.EREFUSED},
		{"copy out", "COPY events TO '/tmp/out.csv'", sde.EREFUSED},
		{"install", "INSTALL httpfs", sde.EREFUSED},
		{"load", "LOAD httpfs", sde.EREFUSED},
		{"two statements", "SELECT 1; SELECT 2", sde.EREFUSED},
		{"hidden second statement", "SELECT 1 /* ; */; DROP TABLE events", sde.EREFUSED},
		{"syntax", "SELEC 1", sde.EINVALID},
		{"unknown table", "SELECT * FROM nosuch", sde.EINVALID},
		{"conversion quotes data", "SELECT CAST(person_id AS INTEGER) FROM events", sde.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: a verdict the worker keeps must never turn a refusal into a pass.
			_, err := p.Query(context.Background(), "one", db, tc.sql)
			if _, again := p.Query(context.Background(), "one", db, tc.sql); again == nil || sde.ErrorCode(again) != sde.ErrorCode(err) {
				t.Errorf("the second time: %v (first %v)", again, err)
			}
			if err == nil {
				t.Fatalf("ran")
			}
			if got := sde.ErrorCode(err); got != tc.code {
				t.Errorf("code = %s, want %s (%v)", got, tc.code, err)
			}
			msg := sde.ErrorMessage(err)
			for _, leak := range []string{"/etc", "/tmp", db, "ws_secret_name", "p1", "p0", "enable_external_access", "lock_configuration", "temp_directory"} {
				if strings.Contains(msg, leak) {
					t.Errorf("message %q leaks %q", msg, leak)
				}
			}
			t.Logf("%s: %s", sde.ErrorCode(err), msg)
		})
	}
	if strings.Contains(log.String(), "p1") || strings.Contains(log.String(), "/etc/passwd") {
		t.Errorf("worker log holds data or query text:\n%s", log)
	}
	// The worker survived all of that.
	if got := query(t, p, "one", db, "SELECT count(*) FROM events"); got[0][0] != "72" {
		t.Errorf("count = %v", got)
	}
}

// TestSelectOnlyEscapes documents what a SELECT can still reach at the DuckDB level in the worker.
// They reach only the worker's own instance; the analyser refuses these functions anyway.
func TestSelectOnlyEscapes(t *testing.T) {
	p, _ := newPool(t, Limits{})
	db := makeDB(t, "ws_one")
	// duckdb_settings() still answers: settings are readable, just not writable. It shows the
	// private empty directory, which is why the analyser blocks duckdb_* functions.
	got := query(t, p, "one", db, "SELECT value FROM duckdb_settings() WHERE name = 'lock_configuration'")
	if len(got) != 1 || got[0][0] != "true" {
		t.Errorf("lock_configuration = %v", got)
	}
	got = query(t, p, "one", db, "SELECT value FROM duckdb_settings() WHERE name = 'enable_external_access'")
	if got[0][0] != "false" {
		t.Errorf("enable_external_access = %v", got)
	}
	// enable_logging as a table function: whatever DuckDB does, it must not write files.
	if _, err := p.Query(context.Background(), "one", db, "SELECT * FROM enable_logging(storage := 'file', storage_path := '/tmp/sde-worker-log-test')"); err == nil {
		t.Log("enable_logging() as a table function ran inside the worker")
	} else {
		t.Logf("enable_logging() as a table function: %s: %s", sde.ErrorCode(err), sde.ErrorMessage(err))
	}
	// In-memory logging through a SELECT: DuckDB allows it despite lock_configuration. It only
	// ever shows this workspace's own queries, because nothing else runs in this process.
	if _, err := p.Query(context.Background(), "one", db, "SELECT * FROM enable_logging()"); err != nil {
		t.Logf("SELECT * FROM enable_logging(): %s: %s", sde.ErrorCode(err), sde.ErrorMessage(err))
	} else {
		query(t, p, "one", db, "SELECT 'marker-3f2'")
		got := query(t, p, "one", db, "SELECT count(*) FROM duckdb_logs WHERE message LIKE '%marker-3f2%'")
		t.Logf("SELECT * FROM enable_logging() ran; duckdb_logs lines holding an earlier query: %s", got[0][0])
	}
	if _, err := os.Stat("/tmp/sde-worker-log-test"); err == nil {
		os.RemoveAll("/tmp/sde-worker-log-test")
		t.Errorf("the worker wrote a log file")
	}
}

func TestSandboxStatus(t *testing.T) {
	// The worker's environment is not the service's: a worker that inherits this variable
	// refuses to start (see TestMain), so the first query fails.
	t.Setenv(leakCanary, "service secret")
	p, _ := newPool(t, Limits{})
	db := makeDB(t, "ws_one")
	query(t, p, "one", db, "SELECT 1")
	ws := p.Workers()
	if len(ws) != 1 {
		t.Fatalf("workers = %v", ws)
	}
	sb := ws[0].Sandbox
	t.Logf("sandbox: %+v", sb)
	if !sb.NoNewPrivs || sb.Dumpable {
		t.Errorf("no_new_privs=%v dumpable=%v", sb.NoNewPrivs, sb.Dumpable)
	}
	if sb.LandlockABI == 0 {
		t.Skip("no Landlock on this kernel")
	}
	for probe, want := range map[string]string{"read /etc/passwd": "denied", "write " + os.TempDir(): "denied"} {
		if sb.Probes[probe] != want {
			t.Errorf("%s: %q, want %q", probe, sb.Probes[probe], want)
		}
	}
	if sb.LandlockABI >= 4 && sb.Probes["tcp connect 127.0.0.1"] != "denied" {
		t.Errorf("tcp connect: %q", sb.Probes["tcp connect 127.0.0.1"])
	}
	// Where /proc allows (as root), the environment is exactly the one variable the pool sets.
	if env, err := os.ReadFile("/proc/" + strconv.Itoa(ws[0].PID) + "/environ"); err == nil && string(env) != "LC_ALL=C\x00GOMAXPROCS=1\x00" {
		t.Errorf("worker environment = %q", env)
	}
}

const longQuery = "SELECT sum(i * i % 7) FROM range(1000000000000) t(i)"

func TestTimeout(t *testing.T) {
	p, _ := newPool(t, Limits{Timeout: time.Second})
	db := makeDB(t, "ws_one")
	query(t, p, "one", db, "SELECT 1")
	pid := pidOf(t, p, "one")
	start := time.Now()
	_, err := p.Query(context.Background(), "one", db, longQuery)
	took := time.Since(start)
	if sde.ErrorCode(err) != sde.ETOOLARGE || !strings.Contains(sde.ErrorMessage(err), "time limit (1s)") {
		t.Fatalf("err = %v", err)
	}
	if took > 5*time.Second {
		t.Errorf("timeout took %s", took)
	}
	if got := query(t, p, "one", db, "SELECT count(*) FROM events"); got[0][0] != "72" {
		t.Errorf("after timeout: %v", got)
	}
	if pidOf(t, p, "one") != pid {
		t.Errorf("the worker was replaced after a timeout; it should have survived it")
	}
}

func TestCancel(t *testing.T) {
	p, _ := newPool(t, Limits{Timeout: time.Minute})
	db := makeDB(t, "ws_one")
	query(t, p, "one", db, "SELECT 1")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Query(ctx, "one", db, longQuery)
	if !errors.Is(err, context.DeadlineExceeded) || sde.ErrorCode(err) != sde.EUNAVAILABLE {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("cancel took %s", time.Since(start))
	}
	// The worker stopped the query (it answers at once, with its one thread free).
	start = time.Now()
	if got := query(t, p, "one", db, "SELECT sum(cost) FROM events"); got[0][0] != "12960" {
		t.Errorf("after cancel: %v", got)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("next query waited %s: the cancelled one kept running", time.Since(start))
	}
}

func TestCrashMidQuery(t *testing.T) {
	p, log := newPool(t, Limits{Timeout: time.Minute})
	db := makeDB(t, "ws_one")
	query(t, p, "one", db, "SELECT 1")
	pid := pidOf(t, p, "one")
	done := make(chan error, 1)
	go func() {
		_, err := p.Query(context.Background(), "one", db, longQuery)
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if sde.ErrorCode(err) != sde.EUNAVAILABLE {
			t.Fatalf("err = %v", err)
		}
		t.Logf("%s", sde.ErrorMessage(err))
	case <-time.After(10 * time.Second):
		t.Fatal("query did not return after its worker was killed")
	}
	if got := query(t, p, "one", db, "SELECT count(*) FROM events"); got[0][0] != "72" {
		t.Errorf("after crash: %v", got)
	}
	if np := pidOf(t, p, "one"); np == pid || np == 0 {
		t.Errorf("pid after restart = %d, before %d", np, pid)
	}
	_ = log
}

func TestCrashBetweenQueries(t *testing.T) {
	p, _ := newPool(t, Limits{})
	db := makeDB(t, "ws_one")
	query(t, p, "one", db, "SELECT 1")
	pid := pidOf(t, p, "one")
	syscall.Kill(pid, syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond)
	if got := query(t, p, "one", db, "SELECT 2"); got[0][0] != "2" {
		t.Errorf("got %v", got)
	}
}

func TestIdleStop(t *testing.T) {
	p, _ := newPool(t, Limits{})
	p.IdleTimeout = 300 * time.Millisecond
	db := makeDB(t, "ws_one")
	query(t, p, "one", db, "SELECT 1")
	pid := pidOf(t, p, "one")
	if !alive(pid) {
		t.Fatal("no worker")
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) || len(p.Workers()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("worker %d still running after idle timeout", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The socket directory goes with it (removed once the process has been reaped, which on
	// a loaded machine can trail the worker's leaving the pool by a moment).
	for {
		ents, _ := os.ReadDir(p.Dir)
		if len(ents) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: %v", ents)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And the next query starts a new one.
	if got := query(t, p, "one", db, "SELECT 3"); got[0][0] != "3" {
		t.Errorf("got %v", got)
	}
}

func TestWorkspacesDoNotShare(t *testing.T) {
	p, _ := newPool(t, Limits{})
	a := makeDB(t, "ws_a")
	b := makeDB(t, "ws_b", "CREATE TABLE only_b AS SELECT 42 AS x", "CHECKPOINT")
	query(t, p, "a", a, "SELECT 1")
	query(t, p, "b", b, "SELECT 1")
	pa, pb := pidOf(t, p, "a"), pidOf(t, p, "b")
	if pa == 0 || pb == 0 || pa == pb {
		t.Fatalf("pids a=%d b=%d", pa, pb)
	}
	if got := query(t, p, "b", b, "SELECT x FROM only_b"); got[0][0] != "42" {
		t.Errorf("b: %v", got)
	}
	_, err := p.Query(context.Background(), "a", a, "SELECT x FROM only_b")
	if sde.ErrorCode(err) != sde.EINVALID {
		t.Errorf("a sees b's table: %v", err)
	}
	// Each instance has exactly one database besides DuckDB's own system and temp catalogs.
	got := query(t, p, "a", a, "SELECT count(*) FROM duckdb_databases() WHERE NOT internal")
	if got[0][0] != "1" {
		t.Errorf("databases in a's worker: %v", got)
	}
}

func TestNewDatabaseVersionReplacesWorker(t *testing.T) {
	p, _ := newPool(t, Limits{})
	v1 := makeDB(t, "ws_v1")
	v2 := makeDB(t, "ws_v2", "CREATE TABLE added AS SELECT 1 AS x", "CHECKPOINT")
	query(t, p, "one", v1, "SELECT 1")
	pid := pidOf(t, p, "one")
	if got := query(t, p, "one", v2, "SELECT x FROM added"); got[0][0] != "1" {
		t.Errorf("v2: %v", got)
	}
	if pidOf(t, p, "one") == pid {
		t.Errorf("worker over v1 still serves v2")
	}
}

func TestConcurrentFirstQueriesStartOneWorker(t *testing.T) {
	p, _ := newPool(t, Limits{})
	db := makeDB(t, "ws_one")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			rr, err := p.Query(context.Background(), "one", db, "SELECT count(*) FROM events")
			if err == nil {
				rr.Release()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(p.Workers()); n != 1 {
		t.Errorf("%d workers for one workspace", n)
	}
}

func TestRowCap(t *testing.T) {
	p, _ := newPool(t, Limits{MaxRows: 10})
	db := makeDB(t, "ws_one")
	_, err := p.Query(context.Background(), "one", db, "SELECT * FROM events")
	if sde.ErrorCode(err) != sde.ETOOLARGE {
		t.Errorf("err = %v", err)
	}
}

func TestCloseStopsAll(t *testing.T) {
	p, _ := newPool(t, Limits{})
	a, b := makeDB(t, "ws_a"), makeDB(t, "ws_b")
	query(t, p, "a", a, "SELECT 1")
	query(t, p, "b", b, "SELECT 1")
	pa, pb := pidOf(t, p, "a"), pidOf(t, p, "b")
	p.Close()
	time.Sleep(100 * time.Millisecond)
	if alive(pa) || alive(pb) {
		t.Errorf("workers alive after Close: %v %v", alive(pa), alive(pb))
	}
	if _, err := p.Query(context.Background(), "a", a, "SELECT 1"); sde.ErrorCode(err) != sde.EUNAVAILABLE {
		t.Errorf("query after Close: %v", err)
	}
}

func TestStartFailure(t *testing.T) {
	p, _ := newPool(t, Limits{})
	_, err := p.Query(context.Background(), "one", "/nonexistent/ws.duckdb", "SELECT 1")
	if sde.ErrorCode(err) != sde.EUNAVAILABLE || strings.Contains(sde.ErrorMessage(err), "nonexistent") {
		t.Errorf("err = %v", err)
	}
}

// Query text over the limit is ETOOLARGE whether the supervisor or the worker notices: the
// worker checks the ticket, which is a little longer than the SQL it carries.
func TestQueryTooLong(t *testing.T) {
	p, _ := newPool(t, Limits{})
	db := makeDB(t, "ws_one")
	for name, n := range map[string]int{"supervisor": maxSQL + 1, "worker": maxSQL - 8} {
		sql := "SELECT 1 --" + strings.Repeat("x", n-11)
		if _, err := p.Query(context.Background(), "one", db, sql); sde.ErrorCode(err) != sde.ETOOLARGE {
			t.Errorf("%s: %v, want too_large", name, err)
		}
	}
	query(t, p, "one", db, "SELECT 1") // the worker still serves
}
