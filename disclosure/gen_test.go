package disclosure

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// genSpec describes a random count table with margins.
type genSpec struct {
	sizes   []int   // values per dimension
	parent  []int   // parent[d] = dimension that d nests in (hierarchy), or -1
	sets    [][]int // grouping sets (dimension indices); the leaves set must be present
	small   float64 // share of leaf cells with 1..k-1 persons
	zeros   float64 // share of empty leaf cells
	persons bool    // persons differ from counts (several rows per person)
}

// cube returns every subset of n dimensions, largest first.
func cube(n int) [][]int {
	var out [][]int
	for m := (1 << n) - 1; m >= 0; m-- {
		var s []int
		for d := 0; d < n; d++ {
			if m&(1<<d) != 0 {
				s = append(s, d)
			}
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b []int) int { return len(b) - len(a) })
	return out
}

// gen builds a random table: leaf counts, then every grouping set's rows as sums.
// A nested dimension's values are qualified by its parent's, so a set that has
// the child but not the parent still identifies the same groups.
func gen(rng *rand.Rand, sp genSpec, pol Policy) Input {
	nd := len(sp.sizes)
	type leaf struct {
		vals    []int
		count   int64
		persons int64
	}
	var leaves []leaf
	idx := make([]int, nd)
	for {
		l := leaf{vals: slices.Clone(idx)}
		switch u := rng.Float64(); {
		case u < sp.zeros:
		case u < sp.zeros+sp.small:
			l.persons = 1 + rng.Int64N(max(pol.Threshold-1, 1))
		default:
			l.persons = pol.Threshold + rng.Int64N(200)
		}
		l.count = l.persons
		if sp.persons && l.persons > 0 {
			l.count += rng.Int64N(3 * l.persons)
		}
		leaves = append(leaves, l)
		d := nd - 1
		for d >= 0 {
			idx[d]++
			if idx[d] < sp.sizes[d] {
				break
			}
			idx[d] = 0
			d--
		}
		if d < 0 {
			break
		}
	}
	label := func(d, v int, vals []int) string {
		if sp.parent != nil && sp.parent[d] >= 0 {
			return fmt.Sprintf("%s.%d", label0(sp.parent[d], vals[sp.parent[d]]), v)
		}
		return label0(d, v)
	}
	names := make([]string, nd)
	dimVals := make([][]string, nd)
	var counts, persons []int64
	var rowSets []int
	for s, set := range sp.sets {
		agg := map[string]*leaf{}
		var order []string
		for _, l := range leaves {
			var key strings.Builder
			for _, d := range set {
				fmt.Fprintf(&key, "%d,", l.vals[d])
			}
			a, ok := agg[key.String()]
			if !ok {
				a = &leaf{vals: l.vals}
				agg[key.String()] = a
				order = append(order, key.String())
			}
			a.count += l.count
			a.persons += l.persons
		}
		for _, k := range order {
			a := agg[k]
			for d := 0; d < nd; d++ {
				v := "Total"
				if slices.Contains(set, d) {
					v = label(d, a.vals[d], a.vals)
				}
				dimVals[d] = append(dimVals[d], v)
			}
			counts, persons = append(counts, a.count), append(persons, a.persons)
			rowSets = append(rowSets, s)
		}
	}
	mem := memory.DefaultAllocator
	var fields []arrow.Field
	var arrays []arrow.Array
	var plan Plan
	for d := 0; d < nd; d++ {
		names[d] = fmt.Sprintf("d%d", d)
		b := array.NewStringBuilder(mem)
		b.AppendValues(dimVals[d], nil)
		fields = append(fields, arrow.Field{Name: names[d], Type: arrow.BinaryTypes.String})
		arrays = append(arrays, b.NewArray())
		plan.Columns = append(plan.Columns, ColumnPlan{Name: names[d], Kind: Dimension})
	}
	b := array.NewInt64Builder(mem)
	b.AppendValues(counts, nil)
	fields = append(fields, arrow.Field{Name: "count", Type: arrow.PrimitiveTypes.Int64})
	arrays = append(arrays, b.NewArray())
	plan.Columns = append(plan.Columns, ColumnPlan{Name: "count", Kind: Measure, Aggregate: Count})
	plan.GroupingSets, plan.RowSets = sp.sets, rowSets
	stats := make([]RowStats, len(counts))
	for i := range stats {
		stats[i].Persons = persons[i]
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrays, int64(len(counts)))
	for _, a := range arrays {
		a.Release()
	}
	return Input{Record: rec, Plan: plan, Stats: stats, Policy: pol}
}

func label0(d, v int) string { return fmt.Sprintf("%c%d", 'a'+d, v) }
