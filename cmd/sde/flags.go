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

// configFlags are the flags every command that touches the data directory shares: --config
// loads a file, --data overrides its data directory.
type configFlagSet struct {
	Config
	path, data, memory string
}

func configFlags(fs *flag.FlagSet) (*configFlagSet, error) {
	c := &configFlagSet{Config: DefaultConfig()}
	fs.StringVar(&c.path, "config", "", "config file (JSON; see deploy/sde.example.json)")
	fs.StringVar(&c.data, "data", "", "data directory (default ./sde-data)")
	fs.StringVar(&c.memory, "memory-limit", "", "memory limit for an ingest, e.g. 4GB (default 8GB)")
	return c, nil
}

// load applies the config file and then the flags, in that order.
func (c *configFlagSet) load() error {
	if c.path != "" {
		loaded, err := LoadConfig(c.path)
		if err != nil {
			return err
		}
		c.Config = loaded
	}
	if c.data != "" {
		c.DataDir = c.data
	}
	if c.memory != "" {
		c.Ingest.MemoryLimit = c.memory
	}
	return nil
}
