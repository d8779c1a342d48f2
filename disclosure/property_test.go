package disclosure

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
)

// oracleConstraints derives the additivity constraints of a table independently
// of the engine: a row of grouping set G totals the matching rows of every set
// with exactly one more dimension.
func oracleConstraints(in Input) (totals []int, parts [][]int) {
	if in.Policy.Totals == TotalsRecomputed {
		return nil, nil
	}
	sets := in.Plan.sets()
	set := func(i int) []int { return sets[in.Plan.setOf(i)] }
	key := func(i int, cols []int) string {
		var b strings.Builder
		for _, j := range cols {
			b.WriteString(in.Record.Column(j).ValueStr(i))
			b.WriteByte(0)
		}
		return b.String()
	}
	n := int(in.Record.NumRows())
	for t := 0; t < n; t++ {
		g := set(t)
		for _, h := range sets {
			if len(h) != len(g)+1 || !subset(g, h) {
				continue
			}
			var ps []int
			for i := 0; i < n; i++ {
				if sameSet(set(i), h) && key(i, g) == key(t, g) {
					ps = append(ps, i)
				}
			}
			if len(ps) > 0 {
				totals, parts = append(totals, t), append(parts, ps)
			}
		}
	}
	return totals, parts
}

// oracleInterval solves the attacker's LPs for cell (row i, column j) over the
// whole table with gonum's inequality form: every suppressed cell unknown and
// non-negative, every released cell at its true value.
func oracleInterval(t testing.TB, in Input, res *Result, j, p int) (lo, hi float64) {
	t.Helper()
	val := func(i int) float64 {
		v, _ := numericGetter(in.Record.Column(j))
		return v(i)
	}
	sup := func(i int) bool { return strings.HasPrefix(res.Status[i][j], "suppressed:") }
	if !sup(p) {
		return val(p), val(p)
	}
	var vars []int
	varOf := map[int]int{}
	for i := range res.Status {
		if sup(i) {
			varOf[i] = len(vars)
			vars = append(vars, i)
		}
	}
	totals, parts := oracleConstraints(in)
	for _, m := range in.Margins {
		if m.Column == in.Plan.Columns[j].Name {
			totals, parts = append(totals, -1), append(parts, m.Rows)
		}
	}
	var rows [][]float64
	var rhs []float64
	for c := range totals {
		row := make([]float64, len(vars))
		b := 0.0
		if totals[c] < 0 { // a margin released earlier: its value is the parts' true sum
			for _, i := range parts[c] {
				b += val(i)
			}
		}
		add := func(i int, coef float64) {
			if k, ok := varOf[i]; ok {
				row[k] += coef
			} else {
				b -= coef * val(i)
			}
		}
		for _, i := range parts[c] {
			add(i, 1)
		}
		if totals[c] >= 0 {
			add(totals[c], -1)
		}
		if slices.ContainsFunc(row, func(v float64) bool { return v != 0 }) {
			rows, rhs = append(rows, row), append(rhs, b)
		}
	}
	rows, rhs, err := independentRows(rows, rhs)
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	if len(rows) == 0 {
		return math.Inf(-1), math.Inf(1)
	}
	n := len(vars)
	A := mat.NewDense(len(rows), n, nil)
	for r, row := range rows {
		A.SetRow(r, row)
	}
	G := mat.NewDense(n, n, nil)
	for k := 0; k < n; k++ {
		G.Set(k, k, -1)
	}
	solve := func(sign float64) float64 {
		c := make([]float64, n)
		c[varOf[p]] = sign
		cn, an, bn := lp.Convert(c, G, make([]float64, n), A, rhs)
		f, _, err := lp.Simplex(cn, an, bn, 1e-10, nil)
		if errors.Is(err, lp.ErrUnbounded) {
			return math.Inf(-1)
		}
		if err != nil {
			t.Fatalf("oracle LP: %v", err)
		}
		return f
	}
	return solve(1), -solve(-1)
}

// checkProperties asserts what every result must satisfy.
func checkProperties(t testing.TB, in Input, res *Result) {
	t.Helper()
	pol := in.Policy
	for j, c := range in.Plan.Columns {
		if c.Kind != Measure {
			continue
		}
		for i := range res.Status {
			st := res.Status[i][j]
			cs, _ := in.Stats[i].cell(j)
			if !strings.HasPrefix(st, "suppressed:") {
				if res.Values[i][j] != nil && cs.Persons < pol.Threshold && (cs.Persons > 0 || pol.ZerosDisclosive) {
					t.Fatalf("row %d: released with %d persons < k=%d", i, cs.Persons, pol.Threshold)
				}
				if v, ok := res.Values[i][j].(int64); ok && c.Aggregate.isCount() && !recomputedMargin(in, i) {
					switch pol.Rounding.Mode {
					case RoundNearest:
						if v%pol.Rounding.Base != 0 {
							t.Fatalf("row %d: released %d is not a multiple of %d", i, v, pol.Rounding.Base)
						}
					case RoundMidpoint6:
						if v != 0 && v%6 != 3 {
							t.Fatalf("row %d: released %d is not a midpoint of 6", i, v)
						}
					}
				}
				continue
			}
			if res.Values[i][j] != nil {
				t.Fatalf("row %d: suppressed cell has a value", i)
			}
			if st == "suppressed:secondary" || st == "suppressed:policy" || flagged(res, i, j) {
				continue
			}
			lo, hi := oracleInterval(t, in, res, j, i)
			if hi-lo < pol.protection()-1e-6 {
				t.Fatalf("row %d (%s): attacker's interval [%g, %g] is narrower than %g\n%s", i, st, lo, hi, pol.protection(), render(res))
			}
		}
	}
}

func recomputedMargin(in Input, i int) bool {
	if in.Policy.Totals != TotalsRecomputed {
		return false
	}
	sets := in.Plan.sets()
	g := sets[in.Plan.setOf(i)]
	return slices.ContainsFunc(sets, func(h []int) bool { return subset(g, h) })
}

func flagged(res *Result, i, j int) bool {
	return slices.ContainsFunc(res.Decision.Flags, func(f Flag) bool { return f.Row == i && f.Column == j })
}

func randomPolicy(rng *rand.Rand) Policy {
	p := DefaultPolicy()
	p.Threshold = 3 + rng.Int64N(10)
	p.ZerosDisclosive = rng.IntN(2) == 0
	switch rng.IntN(4) {
	case 0:
		p.Rounding = Rounding{Mode: RoundNone}
	case 1:
		p.Rounding = Rounding{Mode: RoundMidpoint6}
	default:
		p.Rounding = Rounding{Mode: RoundNearest, Base: []int64{5, 10}[rng.IntN(2)]}
	}
	if rng.IntN(3) == 0 {
		p.Totals = TotalsRecomputed
	}
	p.SuppressTies = rng.IntN(4) == 0
	return p
}

// randomSets returns the leaves set plus a random selection of margins.
func randomSets(rng *rand.Rand, nd int) [][]int {
	all := cube(nd)
	out := [][]int{all[0]}
	for _, s := range all[1:] {
		if rng.IntN(2) == 0 {
			out = append(out, s)
		}
	}
	return out
}

func TestPropertyRandomTables(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	n := 300
	if testing.Short() {
		n = 50
	}
	for it := 0; it < n; it++ {
		nd := 1 + rng.IntN(3)
		sizes := make([]int, nd)
		for d := range sizes {
			sizes[d] = 2 + rng.IntN(5-nd)
		}
		pol := randomPolicy(rng)
		sp := genSpec{sizes: sizes, sets: randomSets(rng, nd), small: 0.1 + 0.3*rng.Float64(), zeros: 0.1 * rng.Float64(), persons: rng.IntN(2) == 0}
		in := gen(rng, sp, pol)
		res, err := Apply(in)
		if err != nil {
			t.Fatalf("iteration %d: %v", it, err)
		}
		checkProperties(t, in, res)
		res.Record.Release()
		in.Record.Release()
	}
}
