package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/synth"
)

func init() { commands["synth"] = runSynth }

// runSynth writes the synthetic sources of the fictional ICS as CSV with a data dictionary.
func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("synth", stderr)
	seed := fs.Uint64("seed", synth.DefaultSeed, "random seed; the same seed and --people give byte-identical files")
	people := fs.Int("people", synth.DefaultPeople, fmt.Sprintf("number of people in the population (1..%d); gp_events has about 10 rows per person", synth.MaxPeople))
	out := fs.String("out", "", "output directory (required; created if missing)")
	force := fs.Bool("force", false, "overwrite files a previous run left in the output directory")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sde synth [--seed S] [--people N] --out DIR [--force]\n\n"+
			"Writes one CSV per controlling organisation of %s, plus %s and %s.\n\n",
			synth.ICSName, synth.DictionaryMarkdown, synth.DictionaryJSON)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return sde.Errorf(sde.EINVALID, "unexpected argument %q (flags only; see sde synth -h)", fs.Arg(0))
	}
	if *out == "" {
		return sde.Errorf(sde.EINVALID, "--out DIR is required")
	}
	if *people <= 0 || *people > synth.MaxPeople {
		return sde.Errorf(sde.EINVALID, "--people must be between 1 and %d, not %d", synth.MaxPeople, *people)
	}
	start := time.Now()
	sum, err := synth.Generate(ctx, synth.Options{Seed: *seed, People: *people, Out: *out, Force: *force, Progress: stderr})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d people, seed %d, written to %s\n", synth.ICSName, sum.People, sum.Seed, *out)
	for _, f := range sum.Files {
		fmt.Fprintf(&b, "  %-24s %10d rows %8d invalid %8.1f MiB\n", f.File, f.Rows, f.DirtyRows, float64(f.Bytes)/(1<<20))
	}
	fmt.Fprintf(&b, "  %-24s %10d rows in %.1fs (%.0f rows/s)\n", "total", sum.Rows(), elapsed.Seconds(), float64(sum.Rows())/elapsed.Seconds())
	fmt.Fprintf(&b, "  dictionary: %s\n", strings.Join(sum.Dictionary, ", "))
	_, err = io.WriteString(stdout, b.String())
	return err
}
