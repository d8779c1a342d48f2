package worker

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Options configure one worker process.
type Options struct {
	DB          string        // the workspace database, opened read-only
	Socket      string        // Unix socket path to serve Flight on; created by the worker
	Memory      string        // DuckDB memory_limit, e.g. "2GB"
	Threads     int           // DuckDB threads
	Timeout     time.Duration // per query
	Concurrency int           // queries run at once; more wait
}

// Flags registers the worker's flags on fs (shared by `sde worker` and the tests' re-exec).
func Flags(fs *flag.FlagSet) *Options {
	o := &Options{}
	fs.StringVar(&o.DB, "db", "", "workspace database file (opened read-only)")
	fs.StringVar(&o.Socket, "socket", "", "Unix socket to serve Arrow Flight on")
	fs.StringVar(&o.Memory, "memory", "2GB", "DuckDB memory limit")
	fs.IntVar(&o.Threads, "threads", 2, "DuckDB threads")
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "per-query time limit")
	fs.IntVar(&o.Concurrency, "concurrency", 2, "queries run at once")
	return o
}

var memoryRe = regexp.MustCompile(`^\d+(\.\d+)?\s*[KMGT]i?B$`)

// Check reports flag values a worker cannot start with.
func (o *Options) Check() error {
	switch {
	case o.DB == "" || o.Socket == "":
		return errors.New("--db and --socket are required")
	case !memoryRe.MatchString(o.Memory):
		return fmt.Errorf("invalid --memory %q; use a size such as 2GB", o.Memory)
	case o.Threads < 1 || o.Concurrency < 1 || o.Timeout <= 0:
		return errors.New("--threads, --concurrency and --timeout must be positive")
	}
	return nil
}

// ticket is the DoGet ticket: the (already analysed) SQL to run.
type ticket struct {
	SQL string `json:"sql"`
}

// Serve runs the worker until ctx is done. Once it is serving it writes one line to ready: the
// Sandbox it measured, as JSON. Logs go to log; they never hold data values.
func Serve(ctx context.Context, o Options, ready, log io.Writer) error {
	if err := o.Check(); err != nil {
		return err
	}
	db, err := filepath.Abs(o.DB)
	if err != nil {
		return err
	}
	if st, err := os.Stat(db); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("database %s is not a readable file", db)
	}
	lis, err := net.Listen("unix", o.Socket)
	if err != nil {
		return err
	}
	defer lis.Close()
	if err := os.Chmod(o.Socket, 0o600); err != nil {
		return err
	}
	// An empty directory for DuckDB's secret, home and extension directories; under Landlock the
	// worker cannot even read it. The supervisor removes the socket's directory with it.
	private, err := os.MkdirTemp(filepath.Dir(o.Socket), "empty-")
	if err != nil {
		return err
	}
	// DuckDB starts before the sandbox: its start-up reads /proc/self/cgroup and the cgroup
	// files to size itself and aborts if it cannot. No analyst SQL has run by then, and the
	// sandbox reaches the threads it already started (Landlock TSYNC from ABI 8; below that
	// go-landlock's libpsx signals every thread listed in /proc/self/task).
	eng, err := openEngine(ctx, Options{DB: db, Memory: o.Memory, Threads: o.Threads, Concurrency: o.Concurrency}, private)
	if err != nil {
		return err
	}
	defer eng.close()
	sb, err := restrict()
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	// The engine must still work inside the sandbox before the worker says it is ready.
	if err := eng.query(ctx, "SELECT 1", func(array.RecordReader) error { return nil }); err != nil {
		return fmt.Errorf("engine fails inside the sandbox: %w", err)
	}

	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxSQL + 1024))
	svc := &service{eng: eng, o: o, sb: sb, log: log, sem: make(chan struct{}, o.Concurrency), stem: dbStem(db)}
	flight.RegisterFlightServiceServer(srv, svc)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	line, _ := json.Marshal(sb)
	if _, err := fmt.Fprintf(ready, "%s\n", line); err != nil {
		srv.Stop()
		return err
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Idle stops happen with nothing in flight; on shutdown give running queries a moment.
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop()
	}
	return nil
}

// maxSQL bounds the ticket; the analyser refuses far smaller texts already.
const maxSQL = 1 << 20

type service struct {
	flight.BaseFlightServer
	eng  *engine
	o    Options
	sb   Sandbox
	log  io.Writer
	sem  chan struct{}
	stem string
}

func (s *service) DoGet(t *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	var tk ticket
	if len(t.GetTicket()) > maxSQL {
		return status.Error(codeTooLarge, "The query text is too long.")
	}
	if err := json.Unmarshal(t.GetTicket(), &tk); err != nil || tk.SQL == "" {
		return status.Error(codes.InvalidArgument, "The worker received a malformed request.")
	}
	ctx, cancel := context.WithTimeout(stream.Context(), s.o.Timeout)
	defer cancel()
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return s.fail(ctx, stream.Context(), ctx.Err())
	}
	start := time.Now()
	err := s.eng.query(ctx, tk.SQL, func(rr array.RecordReader) error {
		w := flight.NewRecordWriter(stream, ipc.WithSchema(rr.Schema()))
		defer w.Close()
		for rr.Next() {
			if err := w.Write(rr.RecordBatch()); err != nil {
				return err
			}
		}
		return rr.Err()
	})
	if err != nil {
		return s.fail(ctx, stream.Context(), err)
	}
	fmt.Fprintf(s.log, "query ok in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// fail logs the class of a failure (never its data) and returns the user-safe status.
func (s *service) fail(ctx, client context.Context, err error) error {
	code, msg := classify(ctx, client, err, s.o.Timeout, s.stem)
	fmt.Fprintf(s.log, "query failed: %s: %s\n", code, logLine(err))
	return status.Error(code, msg)
}

// DoAction answers "sandbox" with what the worker enforces on itself.
func (s *service) DoAction(a *flight.Action, stream flight.FlightService_DoActionServer) error {
	if a.GetType() != "sandbox" {
		return status.Error(codes.Unimplemented, "unknown action")
	}
	body, _ := json.Marshal(s.sb)
	return stream.Send(&flight.Result{Body: body})
}
