package disclosure

import (
	"fmt"
	"strings"
	"testing"
)

// csvInput builds an Input from a CSV count table (see ReadCSV).
func csvInput(t testing.TB, text string, pol Policy, measures ...string) Input {
	t.Helper()
	tab, err := ReadCSV(strings.NewReader(text), CSVOptions{Measures: measures})
	if err != nil {
		t.Fatalf("ReadCSV: %v", err)
	}
	return Input{Record: tab.Record, Plan: tab.Plan, Stats: tab.Stats, Policy: pol}
}

// apply runs the engine and fails the test on error.
func apply(t testing.TB, in Input) *Result {
	t.Helper()
	res, err := Apply(in)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	t.Cleanup(res.Record.Release)
	return res
}

// render writes a result as one line per row: values with suppressed cells as S.
func render(res *Result) string {
	var b strings.Builder
	for i, row := range res.Values {
		for j, v := range row {
			if j > 0 {
				b.WriteByte(' ')
			}
			if strings.HasPrefix(res.Status[i][j], "suppressed:") {
				b.WriteString("S")
			} else if v == nil {
				b.WriteString("null")
			} else {
				fmt.Fprint(&b, v)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// policy returns DefaultPolicy changed by f.
func policy(f func(*Policy)) Policy {
	p := DefaultPolicy()
	if f != nil {
		f(&p)
	}
	return p
}
