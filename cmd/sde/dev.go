package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/auth"
)

func init() { commands["dev"] = runDev }

const devUsage = `Usage: sde dev token USER [--data DIR] [--ttl 1h]

Prints a bearer token for a demo user of the development issuer that
"sde serve --dev" runs (start it first, with the same --data):

  curl -H "Authorization: Bearer $(sde dev token analyst1)" http://127.0.0.1:8080/...

Demo users: %s
`

// runDev is `sde dev`: tools for the embedded development set-up.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, devUsage, strings.Join(auth.DemoUserIDs(), ", "))
		if len(args) == 0 {
			return sde.Errorf(sde.EINVALID, "say which dev command: token")
		}
		return errHelp
	}
	switch args[0] {
	case "token":
		return runDevToken(ctx, args[1:], stdout, stderr)
	}
	return sde.Errorf(sde.EINVALID, "unknown dev command %q; the only one is token", args[0])
}

// runDevToken signs an access token with the dev issuer's key for the issuer URL the last
// `serve --dev` recorded, so the running server accepts it without a browser sign-in.
func runDevToken(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev token", stderr)
	cfg, _ := configFlags(fs)
	ttl := fs.Duration("ttl", auth.DefaultDevTTL, "token lifetime")
	fs.Usage = func() {
		fmt.Fprintf(stderr, devUsage+"\n", strings.Join(auth.DemoUserIDs(), ", "))
		fs.PrintDefaults()
	}
	// The user may come before or after the flags: `sde dev token analyst1 --data DIR`.
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fs.Usage()
		return sde.Errorf(sde.EINVALID, "say which demo user, e.g. sde dev token analyst1")
	}
	if *ttl <= 0 || *ttl > 24*time.Hour {
		return sde.Errorf(sde.EINVALID, "--ttl must be between 1s and 24h")
	}
	if err := cfg.load(); err != nil {
		return err
	}
	tok, err := auth.DevToken(auth.DevIssuerDir(cfg.DataDir), pos[0], *ttl, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
