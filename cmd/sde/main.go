// Command sde is the secure data environment's one binary: the service, its worker, and the
// tools around it (synthetic data, ingest, output checking, audit).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/opensde/sde/sde"
)

const usage = `sde — a secure data environment for integrated care.

Usage:
  sde serve --dev [--data DIR] [--addr 127.0.0.1:8080]   run the service on embedded defaults
  sde synth --seed S --people N --out DIR                 write synthetic integrated-care sources as CSV
  sde ingest --spec FILE --file FILE [--data DIR]         pseudonymise and store a new dataset version
  sde query [--workspace W] [--user U | --token T] SQL    run SQL in a workspace through a running service
  sde check [--policy FILE] FILE.csv                      run disclosure control on a table from elsewhere
  sde audit verify|export [--data DIR]                    check the audit log's hash chain, or export records
  sde dev token USER [--data DIR]                         print a bearer token for a demo user (serve --dev)

Run "sde COMMAND -h" for a command's flags.
`

// command is one subcommand: it parses its own flags and returns an error whose sde.ErrorMessage
// is safe to print.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands = map[string]command{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and turns its error into a message and an exit status:
// 2 for usage and input errors, 1 for everything else.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sde: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	if err == nil {
		return 0
	}
	if err == errHelp {
		return 0
	}
	fmt.Fprintf(stderr, "sde %s: %s\n", args[0], sde.ErrorMessage(err))
	if os.Getenv("SDE_DEBUG") != "" {
		fmt.Fprintf(stderr, "  cause: %v\n", err)
	}
	switch sde.ErrorCode(err) {
	case sde.EINVALID, sde.ETOOLARGE:
		return 2
	}
	return 1
}
