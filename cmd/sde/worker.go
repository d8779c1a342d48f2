package main

import (
	"context"
	"fmt"
	"io"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/workspaces/worker"
)

// `sde worker` is not in the main usage: only the query supervisor (worker.Pool, inside serve)
// starts it, one process per active workspace.
func init() { commands["worker"] = runWorker }

const workerUsage = `Usage: sde worker --db FILE --socket PATH [--memory 2GB] [--threads 2] [--timeout 60s]

Serves one workspace's database, read-only and sandboxed, over Arrow Flight on a Unix socket.
Started by "sde serve"; not meant to be run by hand. Prints one JSON line describing the sandbox
it enforces once it is ready, and stops on SIGTERM.
`

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", stderr)
	fs.Usage = func() { io.WriteString(stderr, workerUsage); fs.PrintDefaults() }
	o := worker.Flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.Check(); err != nil {
		return sde.Errorf(sde.EINVALID, "%v", err)
	}
	if err := worker.Serve(ctx, *o, stdout, stderr); err != nil {
		// stderr is the service log (the supervisor copies it there): the cause goes to it, the
		// message stays free of paths.
		fmt.Fprintf(stderr, "cause: %v\n", err)
		return sde.Wrap(err, sde.EUNAVAILABLE, "The worker could not start or stopped unexpectedly.")
	}
	return nil
}
