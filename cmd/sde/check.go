package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/opensde/sde/disclosure"
	"github.com/opensde/sde/sde"
)

func init() { commands["check"] = runCheck }

const checkUsage = `Usage: sde check [flags] FILE.csv

Runs disclosure control on a count table produced elsewhere, for output checkers.
Prints the safe table (suppressed cells empty) and the decision record.

CSV format:
  - the first line names the columns;
  - the measure columns (--measures, default "count") hold true, non-negative
    integer counts; every other column is a dimension;
  - an optional column "<measure>_persons" (or "persons" with one measure) gives
    the distinct persons behind each count; without it persons = the count;
  - a row whose value in a dimension is "Total" (--total) or empty is a margin
    over that dimension; a row with every dimension "Total" is the grand total.
    Margins must add up.

Example:
  age,count
  0-17,3
  18-64,40
  Total,43

The policy starts from the SDE default (k=10 distinct persons, round to 5,
refuse MIN/MAX); --policy FILE reads a JSON policy (fields left out keep their
defaults) and --k, --round override it.

Flags:
`

// runCheck is "sde check".
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, checkUsage)
		fs.PrintDefaults()
	}
	policyFile := fs.String("policy", "", "JSON policy `FILE`")
	k := fs.Int64("k", 0, "threshold: least distinct persons per released cell (overrides the policy)")
	round := fs.String("round", "", "rounding: none, midpoint6, or a base such as 5 or 10 (half up; overrides the policy)")
	measures := fs.String("measures", "count", "comma-separated measure (count) columns")
	total := fs.String("total", "Total", "label that marks a margin in a dimension column")
	asJSON := fs.Bool("json", false, `print one JSON object {"columns", "rows", "cells", "decision"}`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return sde.Errorf(sde.EINVALID, "expected one CSV file")
	}
	pol := disclosure.DefaultPolicy()
	if *policyFile != "" {
		b, err := os.ReadFile(*policyFile)
		if err != nil {
			return sde.Wrap(err, sde.EINVALID, "cannot read the policy file")
		}
		if pol, err = disclosure.ParsePolicy(b); err != nil {
			return sde.Wrap(err, sde.EINVALID, "bad policy: %s", strings.TrimPrefix(err.Error(), disclosure.ErrPolicy.Error()+": "))
		}
	}
	if *k != 0 {
		pol.Threshold = *k
	}
	if *round != "" {
		switch *round {
		case "none":
			pol.Rounding = disclosure.Rounding{Mode: disclosure.RoundNone}
		case "midpoint6":
			pol.Rounding = disclosure.Rounding{Mode: disclosure.RoundMidpoint6}
		default:
			var base int64
			if _, err := fmt.Sscanf(*round, "%d", &base); err != nil || fmt.Sprint(base) != *round {
				return sde.Errorf(sde.EINVALID, "--round must be none, midpoint6 or a positive integer base")
			}
			pol.Rounding = disclosure.Rounding{Mode: disclosure.RoundNearest, Base: base}
		}
	}
	if err := pol.Validate(); err != nil {
		return sde.Wrap(err, sde.EINVALID, "bad policy: %s", strings.TrimPrefix(err.Error(), disclosure.ErrPolicy.Error()+": "))
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return sde.Wrap(err, sde.EINVALID, "cannot open the table")
	}
	defer f.Close()
	tab, err := disclosure.ReadCSV(f, disclosure.CSVOptions{Measures: strings.Split(*measures, ","), TotalLabel: *total})
	if err != nil {
		return inputError(err)
	}
	defer tab.Record.Release()
	res, err := disclosure.Apply(disclosure.Input{Record: tab.Record, Plan: tab.Plan, Stats: tab.Stats, Policy: pol})
	if err != nil {
		return inputError(err)
	}
	defer res.Record.Release()
	if *asJSON {
		kinds := make([]map[string]string, len(tab.Plan.Columns))
		for j, c := range tab.Plan.Columns {
			kinds[j] = map[string]string{"name": c.Name, "type": res.Record.Schema().Field(j).Type.String(), "kind": string(c.Kind)}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"columns": kinds, "rows": res.Values, "cells": res.Status, "decision": res.Decision})
	}
	if err := res.WriteCSV(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s\n", res.Decision.JSON())
	return nil
}

// inputError turns the engine's input errors into user errors; the message
// names rows and columns of the user's own file, nothing else.
func inputError(err error) error {
	if errors.Is(err, disclosure.ErrInvalid) || errors.Is(err, disclosure.ErrPolicy) {
		msg := strings.TrimPrefix(err.Error(), disclosure.ErrInvalid.Error()+": ")
		return sde.Wrap(err, sde.EINVALID, "%s", msg)
	}
	return err
}
