package disclosure

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// column is a test column: strings for dimensions, int64 or float64 for measures.
type column struct {
	plan ColumnPlan
	vals any // []string, []int64 or []float64
}

func dim(name string, v ...string) column { return column{ColumnPlan{Name: name, Kind: Dimension}, v} }
func count(name string, v ...int64) column {
	return column{ColumnPlan{Name: name, Kind: Measure, Aggregate: Count}, v}
}
func magnitude(name string, agg Aggregate, v ...float64) column {
	return column{ColumnPlan{Name: name, Kind: Measure, Aggregate: agg}, v}
}

// record builds a record and plan from columns (no margins).
func record(cols ...column) (arrow.RecordBatch, Plan) {
	mem := memory.DefaultAllocator
	var fields []arrow.Field
	var arrays []arrow.Array
	var plan Plan
	n := 0
	for _, c := range cols {
		switch v := c.vals.(type) {
		case []string:
			b := array.NewStringBuilder(mem)
			b.AppendValues(v, nil)
			arrays, n = append(arrays, b.NewArray()), len(v)
			fields = append(fields, arrow.Field{Name: c.plan.Name, Type: arrow.BinaryTypes.String})
		case []int64:
			b := array.NewInt64Builder(mem)
			b.AppendValues(v, nil)
			arrays, n = append(arrays, b.NewArray()), len(v)
			fields = append(fields, arrow.Field{Name: c.plan.Name, Type: arrow.PrimitiveTypes.Int64})
		case []float64:
			b := array.NewFloat64Builder(mem)
			b.AppendValues(v, nil)
			arrays, n = append(arrays, b.NewArray()), len(v)
			fields = append(fields, arrow.Field{Name: c.plan.Name, Type: arrow.PrimitiveTypes.Float64})
		}
		plan.Columns = append(plan.Columns, c.plan)
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrays, int64(n))
	for _, a := range arrays {
		a.Release()
	}
	return rec, plan
}

// personsAre gives every row persons = the count (one row per person).
func personsAre(v []int64) []RowStats {
	s := make([]RowStats, len(v))
	for i, p := range v {
		s[i].Persons = p
	}
	return s
}

// column values of a result as strings, "S" for suppressed, "null" for null.
func col(res *Result, j int) []string {
	var out []string
	for i := range res.Values {
		switch v := res.Values[i][j]; {
		case strings.HasPrefix(res.Status[i][j], "suppressed:"):
			out = append(out, "S")
		case v == nil:
			out = append(out, "null")
		default:
			out = append(out, strings.TrimSpace(strings.ReplaceAll(render(&Result{Values: [][]any{{v}}, Status: [][]string{{"ok"}}}), "\n", "")))
		}
	}
	return out
}

func TestTC01SuppressThenRound(t *testing.T) {
	in := []int64{0, 1, 6, 7, 8, 9, 12, 13, 17, 18, 23}
	// ehrQL writes redacted counts as 0; the engine releases null, shown here as 0.
	want := []string{"0", "0", "0", "0", "10", "10", "10", "15", "15", "20", "25"}
	rec, plan := record(count("n", in...))
	pol := policy(func(p *Policy) { p.Threshold = 8 })
	res := apply(t, Input{Record: rec, Plan: plan, Stats: personsAre(in), Policy: pol})
	got := col(res, 0)
	for i := range got {
		if got[i] == "S" {
			got[i] = "0"
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []column{count("n", 5, -1), magnitude("n", Count, 5, 1.5), magnitude("n", Count, math.NaN())} {
		rec, plan := record(bad)
		n := int(rec.NumRows())
		_, err := Apply(Input{Record: rec, Plan: plan, Stats: make([]RowStats, n), Policy: pol})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: got %v, want ErrInvalid", bad.vals, err)
		}
	}
}

func TestTC02RedactRoundRecomputeTotals(t *testing.T) {
	csv := "age,heart,population\n21-30,3,18\n31-40,8,23\n41-50,16,31\n51+,23,44\nTotal,50,116\n"
	pol := policy(func(p *Policy) { p.Threshold = 8; p.Totals = TotalsRecomputed })
	res := apply(t, csvInput(t, csv, pol, "heart", "population"))
	want := "21-30 S 20\n31-40 10 25\n41-50 15 30\n51+ 25 45\nTotal 50 120\n"
	if got := render(res); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
	if res.Status[0][1] != "suppressed:threshold" || res.Status[4][2] != "rounded" {
		t.Errorf("statuses %v", res.Status)
	}
}

func TestTC03Midpoint6AndDetector(t *testing.T) {
	r := Rounding{Mode: RoundMidpoint6}
	for in, want := range map[int64]int64{0: 0, 1: 3, 5: 3, 6: 3, 7: 9, 12: 9, 13: 15, 18: 15, 19: 21} {
		if got := r.Round(in); got != want {
			t.Errorf("midpoint6(%d) = %d, want %d", in, got, want)
		}
	}
	for _, tc := range []struct {
		cells           []string
		div5, mid6      bool
		numeric, redact int
	}{
		{[]string{"0", "3", "9", "15"}, false, true, 4, 0},
		{[]string{"0", "5", "10", "25"}, true, false, 4, 0},
		{[]string{"[REDACTED]", "<=7", "n/a", "10"}, true, false, 1, 3},
	} {
		s := SummarizeColumn(tc.cells, 8)
		if s.DivisibleBy5 != tc.div5 || s.Midpoint6 != tc.mid6 || s.Numeric != tc.numeric || s.Redacted != tc.redact {
			t.Errorf("%v: got %+v", tc.cells, s)
		}
	}
}

// TC4: cohort-extractor's rule "suppress 0 < v ≤ 5" is k = 6; the total is published.
func TestTC04OneDimensionWithTotal(t *testing.T) {
	for _, tc := range []struct {
		name string
		csv  string
		ties bool
		want string
	}{
		{"a", "g,count\nx,2\ny,10\nz,8\nTotal,20\n", false, "x S\ny 10\nz S\nTotal 20\n"},
		{"b ties", "g,count\nx,1\ny,10\nz,10\nTotal,21\n", true, "x S\ny S\nz S\nTotal 21\n"},
		// Without SuppressTies one of the tied cells suffices: [0, 11] is wider than 6.
		{"b first", "g,count\nx,1\ny,10\nz,10\nTotal,21\n", false, "x S\ny S\nz 10\nTotal 21\n"},
		{"c", "g,count\nx,2\ny,2\nz,6\nTotal,10\n", false, "x S\ny S\nz S\nTotal 10\n"},
		{"d", "g,count\nw,2\nx,2\ny,2\nz,2\nTotal,8\n", false, "w S\nx S\ny S\nz S\nTotal 8\n"},
		{"e no total", "g,count\nx,0\ny,1\n", false, "x 0\ny S\n"},
		// With a published total the 1 would be total − 0: the total goes too.
		{"e total", "g,count\nx,0\ny,1\nTotal,1\n", false, "x 0\ny S\nTotal S\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := policy(func(p *Policy) { p.Threshold = 6; p.Rounding.Mode = RoundNone; p.SuppressTies = tc.ties })
			if got := render(apply(t, csvInput(t, tc.csv, pol))); got != tc.want {
				t.Errorf("got\n%swant\n%s", got, tc.want)
			}
		})
	}
	t.Run("f", func(t *testing.T) {
		// Numerators [5 5 6] over denominators [100 100 6]: the small numerators go,
		// the third (6/6 = 1.0 for the caller to divide) stays.
		csv := "g,num,den\nx,5,100\ny,5,100\nz,6,6\n"
		pol := policy(func(p *Policy) { p.Threshold = 6; p.Rounding.Mode = RoundNone })
		if got, want := render(apply(t, csvInput(t, csv, pol, "num", "den"))), "x S 100\ny S 100\nz 6 6\n"; got != want {
			t.Errorf("got\n%swant\n%s", got, want)
		}
	})
}

func TestTC05SmallCellsDoNotProtectEachOther(t *testing.T) {
	for _, k := range []int64{8, 10} {
		pol := policy(func(p *Policy) { p.Threshold = k; p.Rounding.Mode = RoundNone })
		res := apply(t, csvInput(t, "g,count\na,2\nb,3\nc,40\nd,50\nTotal,95\n", pol))
		if got, want := render(res), "a S\nb S\nc S\nd 50\nTotal 95\n"; got != want {
			t.Errorf("k=%d: got\n%swant\n%s", k, got, want)
		}
	}
}

const tc06 = "r,c,count\nR1,C1,20\nR1,C2,3\nR1,C3,15\nR1,Total,38\nR2,C1,12\nR2,C2,25\nR2,C3,30\nR2,Total,67\n" +
	"R3,C1,18\nR3,C2,22\nR3,C3,40\nR3,Total,80\nTotal,C1,50\nTotal,C2,50\nTotal,C3,85\nTotal,Total,185\n"

func TestTC06ComplementaryRectangle(t *testing.T) {
	for _, k := range []int64{8, 10} {
		pol := policy(func(p *Policy) { p.Threshold = k; p.Rounding.Mode = RoundNone })
		in := csvInput(t, tc06, pol)
		res := apply(t, in)
		sup := 0
		perLine := map[string]int{}
		for i := range res.Values {
			if strings.HasPrefix(res.Status[i][2], "suppressed") {
				sup++
				perLine["r="+res.Values[i][0].(string)]++
				perLine["c="+res.Values[i][1].(string)]++
			}
		}
		if sup < 4 {
			t.Errorf("k=%d: %d suppressed, want at least 4", k, sup)
		}
		for line, n := range perLine {
			if n < 2 {
				t.Errorf("k=%d: %s holds one suppressed cell", k, line)
			}
		}
		lo, hi := oracleInterval(t, in, res, 2, 1)
		if hi-lo < float64(k) {
			t.Errorf("k=%d: R1C2 ∈ [%g, %g], narrower than %d", k, lo, hi, k)
		}
	}
	// DataSHIELD's nfilter.tab = 3 (refuse 0 < n < 3) releases the table whole.
	pol := policy(func(p *Policy) { p.Threshold = 3; p.Rounding.Mode = RoundNone })
	if res := apply(t, csvInput(t, tc06, pol)); res.Decision.Counts.Suppressed != 0 {
		t.Errorf("k=3: %d cells suppressed, want none", res.Decision.Counts.Suppressed)
	}
}

func TestTC07RedactionWithTotals(t *testing.T) {
	csv := "age,heart,population\n21-30,1,1\n31-40,10,100\n41-50,15,90\n51+,25,85\nTotal,51,276\n"
	t.Run("recomputed", func(t *testing.T) {
		pol := policy(func(p *Policy) { p.Threshold = 8; p.Totals = TotalsRecomputed })
		want := "21-30 S S\n31-40 10 100\n41-50 15 90\n51+ 25 85\nTotal 50 275\n"
		if got := render(apply(t, csvInput(t, csv, pol, "heart", "population"))); got != want {
			t.Errorf("got\n%swant\n%s", got, want)
		}
	})
	t.Run("complementary", func(t *testing.T) {
		pol := policy(func(p *Policy) { p.Threshold = 8 })
		want := "21-30 S S\n31-40 S 100\n41-50 15 90\n51+ 25 S\nTotal 50 275\n"
		if got := render(apply(t, csvInput(t, csv, pol, "heart", "population"))); got != want {
			t.Errorf("got\n%swant\n%s", got, want)
		}
	})
}

func TestTC08MarginsUnderSuppression(t *testing.T) {
	csv := "row,col,count\nA,X,25\nA,Y,3\nA,Total,28\nB,X,30\nB,Y,40\nB,Total,70\nTotal,X,55\nTotal,Y,43\nTotal,Total,98\n"
	pol := policy(func(p *Policy) {
		p.Threshold, p.ZerosDisclosive, p.Rounding.Mode, p.Totals = 10, true, RoundNone, TotalsRecomputed
	})
	res := apply(t, csvInput(t, csv, pol))
	want := "A X 25\nA Y S\nA Total 25\nB X 30\nB Y 40\nB Total 70\nTotal X 55\nTotal Y 40\nTotal Total 95\n"
	if got := render(res); got != want {
		t.Errorf("recomputed: got\n%swant\n%s", got, want)
	}
	// With true margins published, the rectangle protects A∩Y instead.
	pol.Totals = TotalsRounded
	in := csvInput(t, csv, pol)
	res = apply(t, in)
	if lo, hi := oracleInterval(t, in, res, 2, 1); hi-lo < 10 {
		t.Errorf("rounded totals: A∩Y ∈ [%g, %g]", lo, hi)
	}
}

func TestTC09ThresholdAndZeros(t *testing.T) {
	for _, tc := range []struct {
		zeros bool
		want  []string
	}{{true, []string{"S", "10", "S"}}, {false, []string{"S", "10", "0"}}} {
		rec, plan := record(count("n", 9, 10, 0))
		pol := policy(func(p *Policy) { p.ZerosDisclosive = tc.zeros; p.Rounding.Mode = RoundNone })
		res := apply(t, Input{Record: rec, Plan: plan, Stats: personsAre([]int64{9, 10, 0}), Policy: pol})
		if got := col(res, 0); !slices.Equal(got, tc.want) {
			t.Errorf("zeros disclosive %v: got %v, want %v", tc.zeros, got, tc.want)
		}
		// Suppression is the engine's job, not a checker's: the result passes.
		if res.Decision.Status != Pass || res.Status[0][0] != "suppressed:threshold" {
			t.Errorf("status %s, cell %s", res.Decision.Status, res.Status[0][0])
		}
	}
}

// sumInput is one SUM cell with the given per-person contributions.
func sumInput(pol Policy, contrib ...float64) Input {
	cs := CellStats{Persons: int64(len(contrib))}
	s := slices.Clone(contrib)
	slices.Sort(s)
	slices.Reverse(s)
	for i, v := range s {
		cs.Total += v
		if v < 0 {
			cs.AnyNegative = true
		}
		if i == 0 {
			cs.Max1 = v
		} else if i == 1 {
			cs.Max2 = v
		}
	}
	rec, plan := record(magnitude("cost", Sum, cs.Total))
	return Input{Record: rec, Plan: plan, Stats: []RowStats{{Persons: cs.Persons, Cells: []CellStats{cs}}}, Policy: pol}
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestTC10Dominance(t *testing.T) {
	loose := policy(func(p *Policy) { p.Threshold = 1 })
	pOnly := policy(func(p *Policy) { p.Threshold = 1; p.Dominance.K = 0.95 })
	for _, tc := range []struct {
		name    string
		pol     Policy
		contrib []float64
		want    string
	}{
		{"a dominated", DefaultPolicy(), append([]float64{1000, 50}, repeat(1, 10)...), "suppressed:dominance"},
		{"b even", DefaultPolicy(), repeat(10, 12), "ok"},
		{"c NK = 0.90 fails", loose, []float64{45, 45, 10}, "suppressed:dominance"},
		{"c NK just under passes", loose, []float64{45, 44.99, 10.01}, "ok"},
		{"p rest = 0.10·x1 passes", pOnly, []float64{100, 5, 5, 5}, "ok"},
		{"p rest < 0.10·x1 fails", pOnly, []float64{100, 5, 5, 4.9}, "suppressed:dominance"},
	} {
		res := apply(t, sumInput(tc.pol, tc.contrib...))
		if got := res.Status[0][0]; got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	t.Run("d negative", func(t *testing.T) {
		res := apply(t, sumInput(DefaultPolicy(), append(repeat(10, 11), -5)...))
		if res.Decision.Status != Review || len(res.Decision.Flags) != 1 || res.Decision.Flags[0].Rule != "dominance" {
			t.Errorf("got status %s flags %v", res.Decision.Status, res.Decision.Flags)
		}
		pol := policy(func(p *Policy) { p.NegativeContributions = ActionSuppress })
		if res := apply(t, sumInput(pol, append(repeat(10, 11), -5)...)); res.Status[0][0] != "suppressed:policy" {
			t.Errorf("suppress action: got %s", res.Status[0][0])
		}
	})
}

func TestTC14PersonsNotRows(t *testing.T) {
	rec, plan := record(dim("region", "R"), dim("drug", "D"), count("rows", 12), magnitude("dose", Sum, 600))
	stats := []RowStats{{Persons: 1, Cells: []CellStats{{}, {}, {Persons: 1}, {Persons: 1, Max1: 600, Total: 600}}}}
	pol := policy(func(p *Policy) { p.Threshold = 8 })
	res := apply(t, Input{Record: rec, Plan: plan, Stats: stats, Policy: pol})
	if res.Status[0][2] != "suppressed:threshold" || res.Status[0][3] != "suppressed:threshold" {
		t.Errorf("got %v", res.Status[0])
	}
	if res.Values[0][2] != nil || res.Values[0][3] != nil {
		t.Errorf("suppressed values released: %v", res.Values[0])
	}
}

// TC17: professors(id, item, quantity); AVG is the mean of per-person means.
func TestTC17PerPersonAverages(t *testing.T) {
	avg := ColumnPlan{Name: "avg_quantity", Kind: Measure, Aggregate: Avg, Contribution: PerPersonMean}
	stats := []RowStats{
		{Persons: 3, Cells: []CellStats{{}, {Persons: 3, Max1: 72, Max2: 24, Total: 120}}}, // 101: 24, 123: (10+38)/2, 150: 72
		{Persons: 2, Cells: []CellStats{{}, {Persons: 2, Max1: 21, Max2: 16, Total: 37}}},  // 101: (19+23)/2, 123: 16
		{Persons: 1, Cells: []CellStats{{}, {Persons: 1, Max1: 8, Total: 8}}},              // 130: 8
	}
	pol := policy(func(p *Policy) { p.Threshold = 1; p.Dominance = Dominance{N: 1, K: 1, P: 0} })
	rec, plan := record(dim("item", "pencil", "pen", "scissors"), column{avg, []float64{40, 18.5, 8}})
	res := apply(t, Input{Record: rec, Plan: plan, Stats: stats, Policy: pol})
	// One person holds all of scissors: NK with n=1, k=1 fails it.
	if got, want := col(res, 1), []string{"40", "18.5", "S"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// A mean over rows (pencil: (24+10+38+72)/4 = 36) does not match per-person means.
	rec, plan = record(dim("item", "pencil", "pen", "scissors"), column{avg, []float64{36, 18.5, 8}})
	if _, err := Apply(Input{Record: rec, Plan: plan, Stats: stats, Policy: pol}); !errors.Is(err, ErrInvalid) {
		t.Errorf("row-level mean with per-person statistics: got %v, want ErrInvalid", err)
	}
}

func TestTC18HalfUp(t *testing.T) {
	r := Rounding{Mode: RoundNearest, Base: 10}
	for in, want := range map[int64]int64{14: 10, 15: 20, 24: 20, 25: 30, 26: 30, 0: 0} {
		if got := r.Round(in); got != want {
			t.Errorf("round10(%d) = %d, want %d", in, got, want)
		}
	}
	r.Base = 5
	for in, want := range map[int64]int64{12: 10, 13: 15, 17: 15, 18: 20, 22: 20, 23: 25} {
		if got := r.Round(in); got != want {
			t.Errorf("round5(%d) = %d, want %d", in, got, want)
		}
	}
}
