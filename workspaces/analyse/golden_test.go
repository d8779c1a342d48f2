package analyse

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/queries")

// TestGolden analyses each testdata/queries/*.sql and compares the decision —
// the refusal, or the plan, fingerprint and rewritten SQL — with its .golden
// file. Run with -update after a deliberate change and review the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("../../testdata/queries/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := decision(t, string(text))
			golden := strings.TrimSuffix(f, ".sql") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("decision differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func decision(t *testing.T, text string) string {
	q, err := analyser(t).Analyse(context.Background(), text, testSchema())
	if err != nil {
		return fmt.Sprintf("decision: %s\nmessage: %s\n", sde.ErrorCode(err), sde.ErrorMessage(err))
	}
	var b strings.Builder
	b.WriteString("decision: accepted\ncolumns:\n")
	for j, c := range q.Columns {
		p := q.Plan.Columns[j]
		fmt.Fprintf(&b, "  %-20s %-9s %-14s %-14s key=%s\n", c.Name, c.Kind, c.Aggregate, c.Type, p.Key)
	}
	if q.Plan.GroupingSets != nil {
		fmt.Fprintf(&b, "grouping sets: %v\n", q.Plan.GroupingSets)
		fmt.Fprintf(&b, "set ids: %v\n", q.StatsColumns.SetIndex)
	}
	fp, _ := json.MarshalIndent(q.Fingerprint, "", "  ")
	fmt.Fprintf(&b, "fingerprint: %s\n", fp)
	fmt.Fprintf(&b, "rewritten:\n%s\n", q.Rewritten)
	return b.String()
}
