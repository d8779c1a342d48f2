package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/catalog"
)

func init() { commands["ingest"] = runIngest }

// runIngest is `sde ingest`: one source file in, one new dataset version out, with a report.
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ingest", stderr)
	specPath := fs.String("spec", "", "dataset spec (JSON); see sde/synth/specs for examples")
	file := fs.String("file", "", "source file: CSV with a header row, Parquet, or Arrow IPC")
	format := fs.String("format", "", "csv, parquet or arrow (default: from the file name)")
	refDate := fs.String("reference-date", "", "date age bands are computed at, YYYY-MM-DD (default today)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cfg, err := configFlags(fs)
	if err != nil {
		return err
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sde ingest --spec SPEC.json --file SOURCE [--data DIR]\n\nPseudonymises person identifiers, drops direct identifiers, generalises quasi-identifiers\nand stores a new immutable dataset version. Bad rows are quarantined and reported.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.load(); err != nil {
		return err
	}
	if *specPath == "" || *file == "" {
		fs.Usage()
		return sde.Errorf(sde.EINVALID, "--spec and --file are required.")
	}
	var ref time.Time
	if *refDate != "" {
		if ref, err = time.Parse("2006-01-02", *refDate); err != nil {
			return sde.Errorf(sde.EINVALID, "--reference-date must be YYYY-MM-DD.")
		}
	}
	spec, err := catalog.LoadSpec(*specPath)
	if err != nil {
		return err
	}
	c := cfg.Config
	cat, err := catalog.Open(c.DataDir)
	if err != nil {
		return err
	}
	ps, err := c.Pseudonymiser(ctx)
	if err != nil {
		return err
	}
	rep, err := cat.Ingest(ctx, catalog.IngestOptions{
		Spec: spec, Path: *file, Format: *format, Pseudonymiser: ps, ReferenceDate: ref,
		MemoryLimit: c.Ingest.MemoryLimit, Threads: c.Ingest.Threads, Progress: stderr, CreatedBy: "cli",
	})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printReport(stdout, rep)
	return nil
}

// printReport writes the ingest report for a person at a terminal.
func printReport(w io.Writer, r *catalog.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "dataset\t%s version %d\n", r.Dataset, r.Version)
	fmt.Fprintf(tw, "controller\t%s (%s)\n", r.Controller.Name, r.Controller.Code)
	fmt.Fprintf(tw, "source\t%s, %s, %d bytes, sha256 %s\n", r.Source.Name, r.Source.Format, r.Source.Bytes, r.Source.SHA256)
	fmt.Fprintf(tw, "rows in\t%d\n", r.Rows.In)
	fmt.Fprintf(tw, "rows stored\t%d\n", r.Rows.OK)
	fmt.Fprintf(tw, "rows quarantined\t%d\n", r.Rows.Quarantined)
	if r.Key != "" {
		fmt.Fprintf(tw, "persons\t%d distinct\n", r.Persons)
		fmt.Fprintf(tw, "linkage\t%.1f%% of stored rows carry a person pseudonym\n", 100*r.LinkageRate)
		fmt.Fprintf(tw, "key\t%s\n", r.Key)
	}
	fmt.Fprintf(tw, "took\t%s\n", time.Duration(r.DurationMS)*time.Millisecond)
	tw.Flush()
	if len(r.Reasons) > 0 {
		fmt.Fprintln(w, "\nquarantine reasons:")
		for _, rc := range r.Reasons {
			fmt.Fprintf(w, "  %8d  %s\n", rc.Rows, rc.Reason)
		}
		fmt.Fprintln(w, "\nfirst quarantined rows (row 1 is the first data row):")
		for i, q := range r.Quarantined {
			if i == 20 {
				fmt.Fprintf(w, "  … %d more\n", r.Rows.Quarantined-20)
				break
			}
			fmt.Fprintf(w, "  row %d: %s\n", q.Row, q.Reasons)
		}
	}
	fmt.Fprintf(w, "\ncolumns: %s\n", columnNames(r.Columns))
}

func columnNames(cs []catalog.StoredColumn) string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}
