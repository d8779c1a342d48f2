package main

import (
	"errors"
	"flag"
	"io"

	"github.com/opensde/sde/sde"
)

// errHelp is returned when the user asked for -h; run exits 0 without an error message.
var errHelp = errors.New("help requested")

// newFlags returns a FlagSet that prints its usage to stderr and does not exit the process.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sde "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and maps flag errors to user errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return sde.Errorf(sde.EINVALID, "%v", err)
	}
	return nil
}
