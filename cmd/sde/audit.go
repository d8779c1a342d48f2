package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
)

func init() { commands["audit"] = runAudit }

const auditUsage = `Usage:
  sde audit verify [--data DIR] [--head HASH]
      Check the hash chain of DATA/audit/audit.jsonl from its first record to its last.
      Prints "ok: N records, head HASH", or names the first bad record and exits 1.
      --head HASH also requires a record with that hash (a head noted earlier) to be in the
      log, which detects records cut off the end.

  sde audit export [--data DIR] [--actor USER] [--workspace WS] [--action A] [--outcome O]
                   [--since TIME] [--until TIME]
      Write the matching records to stdout as JSON lines, exactly as stored (with their
      hashes), checking the chain as it reads; it stops with exit 1 at the first bad record.
      TIME is RFC 3339 (2026-03-01T09:00:00Z) or a UTC date (2026-03-01); --since is
      inclusive, --until exclusive, and an --until date includes that whole day.
      --action takes an exact action (query.run) or a prefix (auth.*).

Both also take --config FILE; the data directory defaults to ./sde-data.
`

// runAudit checks and exports the audit log. It only reads the file, so it can run while the
// service appends (a record being written at that moment shows as an incomplete final line).
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return sde.Errorf(sde.EINVALID, "a subcommand is required: verify or export")
	}
	switch args[0] {
	case "verify":
		return auditVerify(args[1:], stdout, stderr)
	case "export":
		return auditExport(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stderr, auditUsage)
		return errHelp
	}
	return sde.Errorf(sde.EINVALID, "unknown subcommand %q: use verify or export", args[0])
}

// auditFlags parses the flags shared by both subcommands plus the caller's, and opens the log.
func auditFlags(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*os.File, error) {
	fs := newFlags("audit "+name, stderr)
	cfg, err := configFlags(fs)
	if err != nil {
		return nil, err
	}
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage+"\nFlags:\n"); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, sde.Errorf(sde.EINVALID, "unexpected argument %q (flags only; see sde audit -h)", fs.Arg(0))
	}
	if err := cfg.load(); err != nil {
		return nil, err
	}
	f, err := os.Open(audit.Path(cfg.DataDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, sde.Wrap(err, sde.ENOTFOUND, "There is no audit log (audit/audit.jsonl) in the data directory.")
	} else if err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "Cannot read the audit log.")
	}
	return f, nil
}

func auditVerify(args []string, stdout, stderr io.Writer) error {
	var headFlag string
	f, err := auditFlags("verify", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&headFlag, "head", "", "a head hash noted earlier that must still be in the log")
	})
	if err != nil {
		return err
	}
	defer f.Close()
	var want crypto.Hash
	if headFlag != "" {
		if want, err = crypto.ParseHash(strings.ToLower(headFlag)); err != nil {
			return sde.Errorf(sde.EINVALID, "--head must be a SHA-256 hex digest")
		}
	}
	var foundAt int64
	n, head, err := audit.Scan(f, func(rec audit.Record) error {
		if headFlag != "" && foundAt == 0 && rec.Hash == want.String() {
			foundAt = rec.Seq
		}
		return nil
	})
	if err != nil {
		return chainError(err)
	}
	if headFlag != "" && foundAt == 0 {
		return sde.Errorf(sde.ECONFLICT, "the chain is intact (%d records, head %s) but does not contain the head %s: records were cut off the end, or the log was rewritten", n, head, want)
	}
	fmt.Fprintf(stdout, "ok: %d records, head %s\n", n, head)
	if headFlag != "" {
		fmt.Fprintf(stdout, "head %s is seq %d; %d records follow it\n", want, foundAt, int64(n)-foundAt)
	}
	return nil
}

func auditExport(args []string, stdout, stderr io.Writer) error {
	var filter audit.Filter
	var since, until string
	f, err := auditFlags("export", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&filter.Actor, "actor", "", "only records of this user")
		fs.StringVar(&filter.Workspace, "workspace", "", "only records about this workspace")
		fs.StringVar(&filter.Action, "action", "", "only this action (query.run) or prefix (auth.*)")
		fs.StringVar(&filter.Outcome, "outcome", "", "only this outcome: ok, refused or error")
		fs.StringVar(&since, "since", "", "only records at or after this time (RFC 3339 or YYYY-MM-DD, UTC)")
		fs.StringVar(&until, "until", "", "only records before this time; a date includes that whole day")
	})
	if err != nil {
		return err
	}
	defer f.Close()
	if filter.Since, err = parseAuditTime("--since", since, false); err != nil {
		return err
	}
	if filter.Until, err = parseAuditTime("--until", until, true); err != nil {
		return err
	}
	if !filter.Since.IsZero() && !filter.Until.IsZero() && !filter.Since.Before(filter.Until) {
		return sde.Errorf(sde.EINVALID, "--since must be before --until")
	}
	switch filter.Outcome {
	case "", audit.OutcomeOK, audit.OutcomeRefused, audit.OutcomeError:
	default:
		return sde.Errorf(sde.EINVALID, "--outcome must be ok, refused or error, not %q", filter.Outcome)
	}
	n, err := audit.Export(f, stdout, filter)
	if err != nil {
		var verr *audit.VerifyError
		if errors.As(err, &verr) {
			return chainError(err)
		}
		return sde.Wrap(err, sde.EUNAVAILABLE, "Cannot read the audit log or write the export.")
	}
	fmt.Fprintf(stderr, "exported %d records\n", n)
	return nil
}

// parseAuditTime reads an RFC 3339 time or a date (UTC midnight; the next midnight if endOfDay).
func parseAuditTime(flag, s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, sde.Errorf(sde.EINVALID, "%s %q: use RFC 3339 (2026-03-01T09:00:00Z) or a date (2026-03-01)", flag, s)
	}
	if endOfDay {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// chainError reports the first bad record of a log.
func chainError(err error) error {
	var verr *audit.VerifyError
	if !errors.As(err, &verr) {
		return sde.Wrap(err, sde.EUNAVAILABLE, "Cannot read the audit log.")
	}
	where := fmt.Sprintf("line %d", verr.Line)
	if verr.Seq > 0 {
		where += fmt.Sprintf(" (seq %d)", verr.Seq)
	}
	return sde.Wrap(err, sde.ECONFLICT, "bad record at %s: %s (%d records before it are good)", where, verr.Reason, verr.Line-1)
}
