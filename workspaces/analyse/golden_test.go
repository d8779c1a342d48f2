package analyse

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/opensde/sde/disclosure"
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

// A shared FILTER is part of the population: two queries whose only difference
// is one more conjunct in it must be comparable for the differencing check.
func TestFingerprintFilter(t *testing.T) {
	ctx := context.Background()
	fp := func(text string) disclosure.Fingerprint {
		q, err := analyser(t).Analyse(ctx, text, testSchema())
		if err != nil {
			t.Fatal(err)
		}
		return q.Fingerprint
	}
	a := fp(`SELECT region, count(*) FILTER (WHERE sex = 'F') AS n FROM patients WHERE birth_year > 1950 GROUP BY region`)
	b := fp(`SELECT region, count(*) FILTER (WHERE sex = 'F' AND lsoa = 'L1') AS n FROM patients WHERE birth_year > 1950 GROUP BY region`)
	c := fp(`SELECT region, count(*) AS n FROM patients WHERE sex = 'F' AND birth_year > 1950 GROUP BY region`)
	if !a.Differences(b) {
		t.Errorf("FILTER differing by one conjunct not comparable:\n%+v\n%+v", a, b)
	}
	if !slices.Equal(a.Filters, c.Filters) || !slices.Equal(a.Measures, c.Measures) {
		t.Errorf("a shared FILTER should fingerprint like WHERE:\n%+v\n%+v", a, c)
	}
	d := fp(`SELECT region, count(*) AS n FROM patients WHERE birth_year > 1950 AND lsoa = 'L1' GROUP BY region`)
	e := fp(`SELECT region, count(*) AS n FROM (SELECT * FROM patients WHERE lsoa = 'L1') p WHERE birth_year > 1950 GROUP BY region`)
	if !slices.Equal(d.Filters, e.Filters) {
		t.Errorf("a condition moved into a subquery should fingerprint the same:\n%+v\n%+v", d, e)
	}
}

// The service shares one Analyser between requests.
func TestConcurrentAnalyse(t *testing.T) {
	an := analyser(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(accepted))
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, text := range accepted {
				if _, err := an.Analyse(context.Background(), text, testSchema()); err != nil {
					errs <- fmt.Errorf("%s: %w", text, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestAnalysesAreKeptPerSchema: the same text over the same schema is analysed once; any
// change of the schema the analysis reads (a column, a table's source version, the
// one-row-per-person flag) analyses it again.
func TestAnalysesAreKeptPerSchema(t *testing.T) {
	an, err := New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	ctx := context.Background()
	text := "SELECT sex, count(*) AS n FROM patients GROUP BY sex"
	q1, err := an.Analyse(ctx, text, testSchema())
	if err != nil {
		t.Fatal(err)
	}
	if q2, _ := an.Analyse(ctx, text, testSchema()); q2 != q1 {
		t.Error("the same analysis was made twice")
	}
	for name, change := range map[string]func(*Schema){
		"source version": func(s *Schema) { s.Tables[0].Source = "patients@v2" },
		"one per person": func(s *Schema) { s.Tables[0].OnePerPerson = false },
		"column type":    func(s *Schema) { s.Tables[0].Columns[2].Type = "BIGINT" },
	} {
		s := testSchema()
		change(&s)
		q, err := an.Analyse(ctx, text, s)
		if err != nil || q == q1 {
			t.Errorf("%s: the old analysis was reused (%v)", name, err)
		}
	}
	// Refusals are not kept: each answer is made fresh.
	kept := len(an.done)
	if _, err := an.Analyse(ctx, "SELECT person_id FROM patients", testSchema()); err == nil || len(an.done) != kept {
		t.Errorf("refusal: %v, analyses kept %d → %d", err, kept, len(an.done))
	}
}
