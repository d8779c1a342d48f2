package disclosure

import (
	"math"
	"slices"
	"strings"
)

// constraint is one additivity relation of the result: the margin row total
// equals the sum of the rows in parts (all rows of the child grouping set that
// share the margin's values). External margins have no total row.
type constraint struct {
	total int32 // margin row, or -1 for a margin released earlier
	parts []int32
	child int // the child grouping set, for recomputing margins finest first
}

// buildConstraints derives the additivity constraints from the grouping sets:
// each row of a set G equals the sum of the matching rows of every set H that
// contains G with no present set in between. Sets related through an
// intermediate set are constrained through it.
func (e *engine) buildConstraints() error {
	plan := &e.in.Plan
	e.margin = make([]bool, e.rows)
	for a := range e.sets {
		for b := a + 1; b < len(e.sets); b++ {
			if len(e.sets[a]) == len(e.sets[b]) && !subset(e.sets[a], e.sets[b]) && sameSet(e.sets[a], e.sets[b]) {
				return invalidf("grouping sets %d and %d are the same", a, b)
			}
		}
	}
	if !plan.hasMargins() {
		return nil
	}
	bySet := make([][]int32, len(e.sets))
	for i := 0; i < e.rows; i++ {
		s := plan.setOf(i)
		bySet[s] = append(bySet[s], int32(i))
	}
	for g, gs := range e.sets {
		cols := slices.Sorted(slices.Values(gs))
		index := make(map[string]int32, len(bySet[g]))
		for _, i := range bySet[g] {
			k := e.key(cols, i)
			if _, dup := index[k]; dup {
				return invalidf("two rows of grouping set %d have the same values", g)
			}
			index[k] = i
		}
		for h, hs := range e.sets {
			if !e.immediate(gs, hs) {
				continue
			}
			at := map[int32]int{}
			for _, i := range bySet[h] {
				t, ok := index[e.key(cols, i)]
				if !ok {
					continue // no margin row for this group: nothing to protect against
				}
				ci, ok := at[t]
				if !ok {
					ci = len(e.cons)
					at[t] = ci
					e.cons = append(e.cons, constraint{total: t, child: h})
					e.margin[t] = true
				}
				e.cons[ci].parts = append(e.cons[ci].parts, i)
			}
		}
	}
	return e.checkAdditive()
}

func sameSet(a, b []int) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x int) bool { return !slices.Contains(b, x) })
}

// immediate reports whether h strictly contains g with no grouping set in between.
func (e *engine) immediate(g, h []int) bool {
	if !subset(g, h) {
		return false
	}
	for _, k := range e.sets {
		if subset(g, k) && subset(k, h) {
			return false
		}
	}
	return true
}

func (e *engine) key(cols []int, i int32) string {
	var b strings.Builder
	for _, j := range cols {
		b.WriteString(e.dimKey[j][i])
		b.WriteByte(0x1f)
	}
	return b.String()
}

// checkAdditive rejects margins that do not add up: for counts and sums that
// means the plan does not describe the record (or the query filtered groups
// after grouping), and protection computed from it would be wrong.
func (e *engine) checkAdditive() error {
	for j, c := range e.cols {
		if c.Kind != Measure {
			continue
		}
		for _, con := range e.cons {
			sum, top := 0.0, 0.0
			for _, p := range con.parts {
				sum += e.vals[j][p]
				top = max(top, e.vals[j][p])
			}
			t := e.vals[j][con.total]
			var ok bool
			switch c.Aggregate {
			case Count:
				ok = t == sum
			case Sum:
				ok = math.Abs(t-sum) <= 1e-6*max(1, math.Abs(t), math.Abs(sum))
			case CountDistinct:
				ok = t <= sum && t >= top
			default:
				ok = true
			}
			if !ok {
				return invalidf("a margin of %q does not equal the sum of its cells", c.Name)
			}
		}
	}
	return nil
}

// external turns the margins released earlier into constraints on column j.
func (e *engine) external(j int) ([]constraint, error) {
	var out []constraint
	for _, m := range e.in.Margins {
		col := slices.IndexFunc(e.cols, func(c ColumnPlan) bool { return c.Name == m.Column })
		if col < 0 || e.cols[col].Kind != Measure {
			return nil, invalidf("an external margin refers to %q, which is not a measure of the result", m.Column)
		}
		if col != j {
			continue
		}
		seen := map[int]bool{}
		con := constraint{total: -1, child: -1}
		for _, r := range m.Rows {
			if r < 0 || r >= e.rows || seen[r] {
				return nil, invalidf("an external margin of %q has a bad or repeated row", m.Column)
			}
			seen[r] = true
			con.parts = append(con.parts, int32(r))
		}
		out = append(out, con)
	}
	return out, nil
}
