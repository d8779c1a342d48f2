package disclosure

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A ROLLUP(region) result as DuckDB returns it: the total row has a NULL region
// and the plan marks it with RowSets (from GROUPING(region)). A genuine NULL
// region group is a leaf, not a margin. The cost column is a SUM with
// per-person contributions; one region is dominated by one person.
func TestRollupWithSum(t *testing.T) {
	mem := memory.DefaultAllocator
	rb := array.NewStringBuilder(mem)
	rb.AppendValues([]string{"N", "S", "", "W", ""}, []bool{true, true, false, true, false})
	nb := array.NewInt64Builder(mem)
	nb.AppendValues([]int64{40, 30, 20, 50, 140}, nil)
	cb := array.NewFloat64Builder(mem)
	cb.AppendValues([]float64{400, 9000, 250, 500, 10150}, nil)
	cols := []arrow.Array{rb.NewArray(), nb.NewArray(), cb.NewArray()}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "cost", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	rec := array.NewRecordBatch(schema, cols, 5)
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()
	plan := Plan{
		Columns: []ColumnPlan{
			{Name: "region", Kind: Dimension},
			{Name: "n", Kind: Measure, Aggregate: Count},
			{Name: "cost", Kind: Measure, Aggregate: Sum},
		},
		GroupingSets: [][]int{{0}, {}},
		RowSets:      []int{0, 0, 0, 0, 1},
	}
	cell := func(p int64, m1, m2, tot float64) []CellStats {
		return []CellStats{{}, {Persons: p}, {Persons: p, Max1: m1, Max2: m2, Total: tot}}
	}
	stats := []RowStats{
		{Persons: 40, Cells: cell(40, 20, 20, 400)},
		{Persons: 30, Cells: cell(30, 8000, 100, 9000)}, // one person holds 89%
		{Persons: 20, Cells: cell(20, 20, 20, 250)},
		{Persons: 50, Cells: cell(50, 20, 20, 500)},
		{Persons: 140, Cells: cell(140, 8000, 100, 10150)},
	}
	pol := policy(func(p *Policy) { p.Rounding.Mode = RoundNone })
	res := apply(t, Input{Record: rec, Plan: plan, Stats: stats, Policy: pol})
	// Only the margin row is a total over region; the genuine NULL region is a group of its own.
	if got := fmt.Sprint(res.Totals); got != "[[] [] [] [] [0]]" {
		t.Errorf("totals = %s", got)
	}
	if res.Status[1][2] != "suppressed:dominance" {
		t.Fatalf("S cost: %s", res.Status[1][2])
	}
	// The dominated cell must not be derivable from the total: another cost cell goes.
	sec := 0
	for i := range res.Status {
		if res.Status[i][2] == "suppressed:secondary" {
			sec++
		}
	}
	if sec == 0 {
		t.Errorf("no secondary suppression in cost:\n%s", render(res))
	}
	iv, ok := res.interval(2, 1)
	if !ok || iv[1]-iv[0] < 0.10*9000 {
		t.Errorf("S cost interval %v (verified %v), want at least 900 wide", iv, ok)
	}
	// Counts are all large: nothing suppressed there, and the NULL region is a group of its own.
	for i := range res.Status {
		if strings.HasPrefix(res.Status[i][1], "suppressed") {
			t.Errorf("row %d count suppressed", i)
		}
	}
	if res.Values[2][0] != nil || res.Values[4][0] != nil {
		t.Errorf("NULL dimensions changed: %v", res.Values)
	}
}
