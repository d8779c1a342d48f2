package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/opensde/sde/sde"
)

// Limits bound each worker and each query.
type Limits struct {
	Memory  string        // DuckDB memory_limit per worker (default 2GB)
	Threads int           // DuckDB threads per worker (default 2)
	Timeout time.Duration // per query (default 60s)
	MaxRows int64         // rows a result may have (default 1,000,000); more is ETOOLARGE
}

// Pool supervises one worker process per workspace. The zero value is not usable: set Dir.
type Pool struct {
	Exe         string        // the sde binary; default os.Executable()
	Args        []string      // arguments before the worker's own flags; default ["worker"]
	Dir         string        // sockets live here, one 0700 subdirectory per worker
	IdleTimeout time.Duration // stop a worker unused this long (default 5m)
	Limits      Limits
	Log         io.Writer     // workers' stderr, prefixed; default os.Stderr
	StartWait   time.Duration // how long a worker may take to become ready (default 30s)

	mu      sync.Mutex
	workers map[sde.WorkspaceID]*proc
	closed  bool
}

// proc is one running (or starting) worker.
type proc struct {
	ws     sde.WorkspaceID
	db     string
	dir    string
	cmd    *exec.Cmd
	ready  chan struct{} // closed when started or failed
	err    error         // start failure, valid after ready
	exited chan struct{} // closed when the process has been reaped
	sb     Sandbox
	conn   *grpc.ClientConn
	client flight.Client

	// guarded by Pool.mu
	inflight int
	lastUsed time.Time
	idle     *time.Timer
	stopping bool
}

// WorkerInfo describes a running worker.
type WorkerInfo struct {
	Workspace sde.WorkspaceID
	PID       int
	Sandbox   Sandbox
}

func (p *Pool) defaults() {
	if p.Exe == "" {
		if exe, err := os.Executable(); err == nil {
			p.Exe = exe
		}
	}
	if p.Args == nil {
		p.Args = []string{"worker"}
	}
	if p.IdleTimeout <= 0 {
		p.IdleTimeout = 5 * time.Minute
	}
	if p.StartWait <= 0 {
		p.StartWait = 30 * time.Second
	}
	if p.Limits.Memory == "" {
		p.Limits.Memory = "2GB"
	}
	if p.Limits.Threads <= 0 {
		p.Limits.Threads = 2
	}
	if p.Limits.Timeout <= 0 {
		p.Limits.Timeout = 60 * time.Second
	}
	if p.Limits.MaxRows <= 0 {
		p.Limits.MaxRows = 1_000_000
	}
	if p.Log == nil {
		p.Log = os.Stderr
	}
	if p.workers == nil {
		p.workers = map[sde.WorkspaceID]*proc{}
	}
}

const errUnavailable = "The workspace's query engine stopped unexpectedly; the query did not complete. Try again."

// Query runs sql (already analysed and rewritten) in ws's worker over the database at dbPath and
// returns the whole result. It starts the worker if none runs, and replaces one that crashed or
// that serves a different database file (a re-activated workspace).
func (p *Pool) Query(ctx context.Context, ws sde.WorkspaceID, dbPath, sql string) (array.RecordReader, error) {
	if len(sql) > maxSQL {
		return nil, sde.Errorf(sde.ETOOLARGE, "The query text is too long.")
	}
	w, err := p.acquire(ctx, ws, dbPath)
	if err != nil {
		return nil, err
	}
	defer p.release(w)

	// The worker enforces the time limit; the supervisor allows a grace period on top and treats a
	// worker that overruns it as hung.
	callCtx, cancel := context.WithTimeout(ctx, p.Limits.Timeout+10*time.Second)
	defer cancel()
	tk, _ := json.Marshal(ticket{SQL: sql})
	schema, recs, err := p.fetch(callCtx, w, tk)
	if err == nil {
		rr, err := array.NewRecordReader(schema, recs)
		for _, r := range recs {
			r.Release()
		}
		if err != nil {
			return nil, sde.Wrap(err, sde.EINTERNAL, "The query result could not be read.")
		}
		return rr, nil
	}
	for _, r := range recs {
		r.Release()
	}
	return nil, p.failure(ctx, callCtx, w, err)
}

func (p *Pool) fetch(ctx context.Context, w *proc, tk []byte) (*arrow.Schema, []arrow.RecordBatch, error) {
	stream, err := w.client.DoGet(ctx, &flight.Ticket{Ticket: tk})
	if err != nil {
		return nil, nil, err
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return nil, nil, err
	}
	defer rdr.Release()
	var recs []arrow.RecordBatch
	var rows int64
	for rdr.Next() {
		r := rdr.RecordBatch()
		rows += r.NumRows()
		if rows > p.Limits.MaxRows {
			return nil, recs, errTooManyRows
		}
		r.Retain()
		recs = append(recs, r)
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, recs, err
	}
	return rdr.Schema(), recs, nil
}

var errTooManyRows = errors.New("too many rows")

// failure turns a failed call into a user-safe error, deciding whether the worker is at fault.
func (p *Pool) failure(ctx, callCtx context.Context, w *proc, err error) error {
	if errors.Is(err, errTooManyRows) {
		return sde.Errorf(sde.ETOOLARGE, "The query returns more than %d rows; aggregate further.", p.Limits.MaxRows)
	}
	if cancelled(ctx) {
		return sde.Wrap(ctxErr(ctx), sde.EUNAVAILABLE, "The query was cancelled.")
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codeInvalid:
		return sde.Wrap(err, sde.EINVALID, "%s", st.Message())
	case codeRefused:
		return sde.Wrap(err, sde.EREFUSED, "%s", st.Message())
	case codeTooLarge:
		return sde.Wrap(err, sde.ETOOLARGE, "%s", st.Message())
	}
	// Anything else is the worker's fault: a crash, a hang, or a bug. Find out which.
	select {
	case <-w.exited:
		return sde.Wrap(err, sde.EUNAVAILABLE, "%s", errUnavailable)
	case <-time.After(500 * time.Millisecond):
	}
	if cancelled(ctx) {
		return sde.Wrap(ctxErr(ctx), sde.EUNAVAILABLE, "The query was cancelled.")
	}
	if cancelled(callCtx) {
		fmt.Fprintf(p.Log, "worker %s: no answer within the time limit; stopping it\n", w.ws)
		p.stop(w)
		return sde.Wrap(err, sde.EUNAVAILABLE, "%s", errUnavailable)
	}
	return sde.Wrap(err, sde.EINTERNAL, "The query failed unexpectedly.")
}

// acquire returns a ready worker for ws, starting one if needed, and counts the query in flight.
func (p *Pool) acquire(ctx context.Context, ws sde.WorkspaceID, dbPath string) (*proc, error) {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "The workspace database cannot be found.")
	}
	for {
		p.mu.Lock()
		p.defaults()
		if p.closed {
			p.mu.Unlock()
			return nil, sde.Errorf(sde.EUNAVAILABLE, "The query service is shutting down.")
		}
		w := p.workers[ws]
		if w != nil && (w.db != abs || w.stopping || isClosed(w.exited)) {
			// Crashed, stopping, or over an old database version: replace it.
			delete(p.workers, ws)
			go p.stop(w)
			w = nil
		}
		starting := w == nil
		if starting {
			w = &proc{ws: ws, db: abs, ready: make(chan struct{}), exited: make(chan struct{})}
			p.workers[ws] = w
		}
		w.inflight++
		if w.idle != nil {
			w.idle.Stop()
		}
		p.mu.Unlock()

		if starting {
			w.err = p.start(w)
			close(w.ready)
		}
		select {
		case <-w.ready:
		case <-ctx.Done():
			p.release(w)
			return nil, sde.Wrap(ctx.Err(), sde.EUNAVAILABLE, "The query was cancelled.")
		}
		if w.err != nil {
			p.release(w)
			p.mu.Lock()
			if p.workers[ws] == w {
				delete(p.workers, ws)
			}
			p.mu.Unlock()
			if starting {
				return nil, w.err
			}
			continue // another caller's start failed; try our own
		}
		return w, nil
	}
}

// release ends a query's use of w and arms the idle stop once nothing is in flight.
func (p *Pool) release(w *proc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.inflight--
	w.lastUsed = time.Now()
	if w.inflight == 0 && !p.closed {
		if w.idle == nil {
			w.idle = time.AfterFunc(p.IdleTimeout, func() { p.idleStop(w) })
		} else {
			w.idle.Reset(p.IdleTimeout)
		}
	}
}

func (p *Pool) idleStop(w *proc) {
	p.mu.Lock()
	if w.inflight > 0 || time.Since(w.lastUsed) < p.IdleTimeout {
		p.mu.Unlock()
		return
	}
	if p.workers[w.ws] == w {
		delete(p.workers, w.ws)
	}
	p.mu.Unlock()
	p.stop(w)
}

// start launches the worker process and waits for its ready line.
func (p *Pool) start(w *proc) (err error) {
	fail := func(cause error) error {
		return sde.Wrap(cause, sde.EUNAVAILABLE, "The workspace's query engine could not start; try again later.")
	}
	if p.Exe == "" {
		return fail(errors.New("no executable for the worker"))
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fail(err)
	}
	// Whoever can reach a socket can run queries in its workspace: only our user may.
	if err := os.Chmod(p.Dir, 0o700); err != nil {
		return fail(err)
	}
	w.dir, err = os.MkdirTemp(p.Dir, "w")
	if err != nil {
		return fail(err)
	}
	sock := filepath.Join(w.dir, "s")
	if len(sock) > 100 { // sun_path is 108 bytes on Linux, 104 on the BSDs
		os.RemoveAll(w.dir)
		return fail(fmt.Errorf("socket path %s too long; use a shorter Pool.Dir", sock))
	}
	args := append(append([]string{}, p.Args...),
		"--db", w.db, "--socket", sock,
		"--memory", p.Limits.Memory,
		"--threads", fmt.Sprint(p.Limits.Threads),
		"--timeout", p.Limits.Timeout.String())
	cmd := exec.Command(p.Exe, args...)
	// Nothing from the service's environment (Vault tokens, client secrets) reaches the worker.
	// Its Go side only relays requests and batches; DuckDB's own threads do the work, and a
	// second Go processor spinning for work took CPU from them: one query over 1M rows took
	// 34-36 ms through the worker with two, 27-31 ms with one (2-core machine).
	cmd.Env = []string{"LC_ALL=C", "GOMAXPROCS=1"}
	cmd.Dir = w.dir
	cmd.Stderr = &prefixWriter{w: p.Log, prefix: "worker " + string(w.ws) + ": "}
	cmd.SysProcAttr = sysProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(w.dir)
		return fail(err)
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(w.dir)
		return fail(err)
	}
	w.cmd = cmd
	go func() {
		cmd.Wait()
		os.RemoveAll(w.dir)
		close(w.exited)
	}()

	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
	}()
	var ready string
	select {
	case l, ok := <-line:
		if !ok {
			<-w.exited
			return fail(fmt.Errorf("worker exited before ready: %v", cmd.ProcessState))
		}
		ready = l
	case <-time.After(p.StartWait):
		p.kill(w)
		return fail(errors.New("worker not ready in time"))
	}
	if err := json.Unmarshal([]byte(ready), &w.sb); err != nil {
		p.kill(w)
		return fail(fmt.Errorf("bad ready line %q: %w", ready, err))
	}
	w.conn, err = grpc.NewClient("unix://"+sock,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		p.kill(w)
		return fail(err)
	}
	w.client = flight.NewClientFromConn(w.conn, nil)
	return nil
}

// stop asks w to finish (SIGTERM), then kills its process group if it has not after 5s.
func (p *Pool) stop(w *proc) {
	<-w.ready
	p.mu.Lock()
	w.stopping = true
	if w.idle != nil {
		w.idle.Stop()
	}
	p.mu.Unlock()
	if w.cmd == nil {
		return
	}
	if w.conn != nil {
		w.conn.Close()
	}
	signalGroup(w.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(5 * time.Second):
		p.kill(w)
	}
}

func (p *Pool) kill(w *proc) {
	signalGroup(w.cmd.Process.Pid, syscall.SIGKILL)
	<-w.exited
}

// Workers lists the running workers.
func (p *Pool) Workers() []WorkerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []WorkerInfo
	for ws, w := range p.workers {
		if isClosed(w.ready) && w.err == nil && !isClosed(w.exited) {
			out = append(out, WorkerInfo{Workspace: ws, PID: w.cmd.Process.Pid, Sandbox: w.sb})
		}
	}
	return out
}

// Close stops every worker and refuses further queries.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var all []*proc
	for ws, w := range p.workers {
		all = append(all, w)
		delete(p.workers, ws)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range all {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(w) }()
	}
	wg.Wait()
	return nil
}

// cancelled reports whether ctx is done or past its deadline: the worker's report of a
// deadline can arrive before the caller's own timer has fired, and a healthy worker must not be
// mistaken for a hung one then.
func cancelled(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return context.DeadlineExceeded
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// prefixWriter prefixes each line a worker writes to stderr, so the service log says whose it is.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.buf = append(pw.buf, b...)
	for {
		i := strings.IndexByte(string(pw.buf), '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(pw.w, "%s%s\n", pw.prefix, pw.buf[:i])
		pw.buf = pw.buf[i+1:]
	}
	return len(b), nil
}
