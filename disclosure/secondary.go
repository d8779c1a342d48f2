package disclosure

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
)

// system is one measure column's additivity constraints during secondary
// suppression. Every constraint reads Σ parts − total = rhs, where rhs is computed
// from the true values: zero for counts and sums, and for statistics that do not
// add up (averages, distinct counts) the exact residual, which assumes the
// attacker knows more than they do and so errs on the side of suppressing.
type system struct {
	e       *engine
	j       int
	cons    []constraint
	rhs     []float64
	rowCons [][]int32 // constraints of each row
	x0      []float64
	nonneg  []bool // the attacker may assume the cell is non-negative
	sup     []bool

	// scratch, reused across LPs
	varOf []int32
	stamp []int32
	epoch int32

	// hull[0] and hull[1] are the least and greatest value of each cell over all
	// feasible points the LPs have produced. Any feasible point lies in the
	// attacker's set, so a hull at least need wide proves protection without an
	// LP of one's own; the set only grows as cells are suppressed.
	hull [2][]float64

	// intervals records the last LP interval of each verified primary cell (tests).
	intervals map[int32][2]float64
}

// LP neighbourhoods tried in turn for a primary cell: hops through constraints
// from the cell and the most suppressed cells taken. Fixing the suppressed cells
// outside a neighbourhood at their true values only shrinks the attacker's
// feasible set, so an interval wide enough on a neighbourhood is wide enough on
// the whole table; the last attempt takes the whole connected component.
var attempts = []struct{ hops, cap int }{{2, 40}, {4, 150}, {1 << 30, 600}}

// secondary suppresses further cells until every primary cell's interval, as
// an attacker computes it by linear programming from the released cells and the
// margins, is at least the protection level.
func (e *engine) secondary() error {
	for j, c := range e.cols {
		if c.Kind != Measure {
			continue
		}
		ext, err := e.external(j)
		if err != nil {
			return err
		}
		if e.pol.refuses(c.Aggregate) || e.failed {
			continue
		}
		cons := ext
		if !e.recomputes(c) {
			cons = append(append([]constraint(nil), e.cons...), ext...)
		}
		if len(cons) == 0 {
			continue
		}
		s := e.newSystem(j, cons)
		s.fill()
		for i := int32(0); i < int32(e.rows); i++ {
			if s.sup[i] && e.state[j][i].reason != ReasonSecondary {
				s.protect(i)
			}
		}
		if e.intervals == nil {
			e.intervals = map[[2]int][2]float64{}
		}
		for p, iv := range s.intervals {
			e.intervals[[2]int{j, int(p)}] = iv
		}
	}
	return nil
}

func (e *engine) newSystem(j int, cons []constraint) *system {
	s := &system{e: e, j: j, cons: cons, x0: e.vals[j], intervals: map[int32][2]float64{}}
	n := e.rows
	s.rhs = make([]float64, len(cons))
	s.rowCons = make([][]int32, n)
	for ci, c := range cons {
		r := 0.0
		for _, p := range c.parts {
			r += s.x0[p]
			s.rowCons[p] = append(s.rowCons[p], int32(ci))
		}
		if c.total >= 0 {
			r -= s.x0[c.total]
			s.rowCons[c.total] = append(s.rowCons[c.total], int32(ci))
		}
		s.rhs[ci] = r
	}
	s.nonneg, s.sup = make([]bool, n), make([]bool, n)
	count := e.cols[j].Aggregate.isCount()
	for i := 0; i < n; i++ {
		cs, _ := e.in.Stats[i].cell(j)
		s.nonneg[i] = count || (s.x0[i] >= 0 && !cs.AnyNegative)
		s.sup[i] = e.suppressed(j, i)
	}
	s.varOf = make([]int32, n)
	for i := range s.varOf {
		s.varOf[i] = -1
	}
	s.stamp = make([]int32, max(n, len(cons)))
	s.hull[0], s.hull[1] = append([]float64(nil), s.x0...), append([]float64(nil), s.x0...)
	return s
}

// cells returns the rows of constraint c.
func (c *constraint) cells(yield func(int32) bool) {
	for _, p := range c.parts {
		if !yield(p) {
			return
		}
	}
	if c.total >= 0 {
		yield(c.total)
	}
}

func (s *system) suppress(i int32) {
	s.sup[i] = true
	s.e.state[s.j][i].reason = ReasonSecondary
}

// cheaper orders candidates: smaller value first (cost = value, as in sdcTable's
// default), inner cells before margins, then row order, so the choice never
// depends on map order.
func (s *system) cheaper(a, b int32) bool {
	va, vb := math.Abs(s.x0[a]), math.Abs(s.x0[b])
	if va != vb {
		return va < vb
	}
	if s.e.margin[a] != s.e.margin[b] {
		return !s.e.margin[a]
	}
	return a < b
}

// candidates returns the cheapest unsuppressed cells of constraint c: one, or all
// that tie when the policy says so. A cell that also gives a partner to another
// constraint with a single suppressed cell goes first: it closes a cycle (the
// complementary rectangle of a 2-D table) instead of opening a new constraint
// that needs a partner in turn. Zeros are taken only when nothing else is left,
// since a structural zero is often known to the attacker anyway.
func (s *system) candidates(ci int32) []int32 {
	best, bestCloses := int32(-1), false
	for _, zeros := range []bool{false, true} {
		for q := range s.cons[ci].cells {
			if s.sup[q] || (s.x0[q] == 0) != zeros {
				continue
			}
			closes := s.closesSingleton(q, ci)
			if best < 0 || (closes && !bestCloses) || (closes == bestCloses && s.cheaper(q, best)) {
				best, bestCloses = q, closes
			}
		}
		if best >= 0 {
			break
		}
	}
	if best < 0 {
		return nil
	}
	out := []int32{best}
	if s.e.pol.SuppressTies {
		for q := range s.cons[ci].cells {
			if q != best && !s.sup[q] && s.x0[q] == s.x0[best] {
				out = append(out, q)
			}
		}
	}
	return out
}

// closesSingleton reports whether cell q lies in a constraint other than skip
// that has exactly one suppressed cell.
func (s *system) closesSingleton(q, skip int32) bool {
	for _, ci := range s.rowCons[q] {
		if ci == skip {
			continue
		}
		n := 0
		for r := range s.cons[ci].cells {
			if s.sup[r] {
				n++
			}
		}
		if n == 1 {
			return true
		}
	}
	return false
}

// fill is the singleton rule of sdcTable's SIMPLEHEURISTIC: a constraint with
// exactly one suppressed cell gives that cell away, so it gets another, cheapest
// first, until no constraint has exactly one.
func (s *system) fill() {
	queue := make([]int32, len(s.cons))
	for i := range queue {
		queue[i] = int32(i)
	}
	for len(queue) > 0 {
		ci := queue[0]
		queue = queue[1:]
		n := 0
		for q := range s.cons[ci].cells {
			if s.sup[q] {
				n++
			}
		}
		if n != 1 {
			continue
		}
		for _, q := range s.candidates(ci) {
			s.suppress(q)
			queue = append(queue, s.rowCons[q]...)
		}
	}
}

// need is the protection width a primary cell requires.
func (s *system) need(p int32) float64 {
	if s.e.cols[s.j].Aggregate.isCount() {
		return s.e.pol.protection()
	}
	return max(s.e.pol.ProtectionRatio*math.Abs(s.x0[p]), 1e-6)
}

// protect adds suppressions until primary cell p is protected.
func (s *system) protect(p int32) {
	need := s.need(p)
	for guard := 0; guard <= len(s.x0); guard++ {
		if ci, short := s.quickBound(p, need); short {
			if s.add(s.candidates(ci)) {
				continue
			}
		}
		ok, last := s.verify(p, need)
		if ok {
			return
		}
		// Unprotected (or the solver could not tell): suppress the cheapest cell
		// next to p, else next to any cell the attacker's LP involved.
		var cand []int32
		for _, ci := range s.rowCons[p] {
			cand = s.pick(cand, s.candidates(ci))
		}
		if cand == nil {
			for _, v := range last {
				for _, ci := range s.rowCons[v] {
					cand = s.pick(cand, s.candidates(ci))
				}
			}
		}
		if !s.add(cand) {
			// Everything around p is suppressed and the interval is still short
			// (margins released earlier pin it) or could not be computed. A checker
			// must decide.
			s.e.flag(int(p), s.j, "secondary", "protection could not be reached or verified with every related cell suppressed")
			return
		}
	}
}

func (s *system) pick(cur, next []int32) []int32 {
	if len(next) == 0 {
		return cur
	}
	if len(cur) == 0 || s.cheaper(next[0], cur[0]) {
		return next
	}
	return cur
}

func (s *system) add(cells []int32) bool {
	if len(cells) == 0 {
		return false
	}
	for _, q := range cells {
		s.suppress(q)
	}
	s.fill()
	return true
}

// quickBound finds a constraint that caps p's interval below need without an
// LP: if p is a part and the margin is released, p can move at most by the sum
// of the suppressed parts (all non-negative).
func (s *system) quickBound(p int32, need float64) (int32, bool) {
	for _, ci := range s.rowCons[p] {
		c := &s.cons[ci]
		if c.total == p || (c.total >= 0 && s.sup[c.total]) {
			continue
		}
		mass, bounded := 0.0, true
		for _, q := range c.parts {
			if s.sup[q] {
				mass += s.x0[q]
				bounded = bounded && s.nonneg[q]
			}
		}
		if bounded && mass < need-1e-9 {
			return ci, true
		}
	}
	return -1, false
}

// verify solves the attacker's LPs for p on growing neighbourhoods and reports
// whether p's interval is at least need, with the cells of the last LP.
func (s *system) verify(p int32, need float64) (bool, []int32) {
	if s.hull[1][p]-s.hull[0][p] >= need-1e-7 {
		return true, nil // feasible points found for other cells already span the interval
	}
	var last []int32
	for _, a := range attempts {
		vars, whole := s.neighbourhood(p, a.hops, a.cap)
		if last != nil && len(vars) == len(last) {
			continue
		}
		last = vars
		lo, hi, err := s.interval(p, vars)
		if err == nil {
			s.intervals[p] = [2]float64{lo, hi}
			if hi-lo >= need-1e-7 {
				return true, vars
			}
			if whole {
				return false, vars
			}
		}
		// A short interval on a neighbourhood may widen on a larger one; a solver
		// failure is retried larger and, if it persists, counts as unprotected.
	}
	return false, last
}

// neighbourhood returns p and the suppressed cells within hops constraints of
// it, nearest first, at most limit; whole reports that it is p's entire component.
func (s *system) neighbourhood(p int32, hops, limit int) (vars []int32, whole bool) {
	s.epoch++
	mark := s.epoch
	seen := map[int32]bool{p: true}
	vars = []int32{p}
	frontier := []int32{p}
	for h := 0; h < hops && len(frontier) > 0; h++ {
		var next []int32
		for _, v := range frontier {
			for _, ci := range s.rowCons[v] {
				if s.stamp[ci] == mark {
					continue
				}
				s.stamp[ci] = mark
				for q := range s.cons[ci].cells {
					if s.sup[q] && !seen[q] {
						if len(vars) >= limit {
							return vars, false
						}
						seen[q] = true
						vars = append(vars, q)
						next = append(next, q)
					}
				}
			}
		}
		frontier = next
	}
	return vars, len(frontier) == 0
}

var errSolver = errors.New("disclosure: LP solver failed")

// failLP, when set by a test, makes every LP fail, to show that an unsolvable
// LP leads to suppression rather than release.
var failLP error

// interval solves min and max of x_p over the attacker's feasible set, with the
// cells in vars unknown and every other cell fixed at its true value: additivity
// and non-negativity, written in inequality form and converted by lp.Convert
// (gonum's Simplex needs full row rank, so dependent constraints are dropped
// first). Solver panics are recovered and reported as errors.
func (s *system) interval(p int32, vars []int32) (lo, hi float64, err error) {
	if failLP != nil {
		return 0, 0, failLP
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errSolver, r)
		}
	}()
	for k, v := range vars {
		s.varOf[v] = int32(k)
	}
	defer func() {
		for _, v := range vars {
			s.varOf[v] = -1
		}
	}()
	n := len(vars)
	s.epoch++
	mark := s.epoch
	var rows [][]float64
	var rhs []float64
	for _, v := range vars {
		for _, ci := range s.rowCons[v] {
			if s.stamp[ci] == mark {
				continue
			}
			s.stamp[ci] = mark
			c := &s.cons[ci]
			row := make([]float64, n)
			b := s.rhs[ci]
			for _, q := range c.parts {
				if k := s.varOf[q]; k >= 0 {
					row[k]++
				} else {
					b -= s.x0[q]
				}
			}
			if c.total >= 0 {
				if k := s.varOf[c.total]; k >= 0 {
					row[k]--
				} else {
					b += s.x0[c.total]
				}
			}
			rows, rhs = append(rows, row), append(rhs, b)
		}
	}
	rows, rhs, err = independentRows(rows, rhs)
	if err != nil {
		return 0, 0, err
	}
	x0p := s.x0[p]
	if len(rows) == 0 {
		return math.Inf(-1), math.Inf(1), nil
	}
	lo, xlo, err := s.solve(vars, rows, rhs, 1)
	if err != nil {
		return 0, 0, err
	}
	hi, xhi, err := s.solve(vars, rows, rhs, -1)
	if err != nil {
		return 0, 0, err
	}
	hi = -hi
	// The true value is feasible; an interval that misses it means the solver went wrong.
	tol := 1e-6 * max(1, math.Abs(x0p))
	if lo > x0p+tol || hi < x0p-tol {
		return 0, 0, fmt.Errorf("%w: interval excludes the true value", errSolver)
	}
	for _, x := range [][]float64{xlo, xhi} {
		if x == nil {
			continue
		}
		for k, v := range vars {
			s.hull[0][v] = min(s.hull[0][v], x[k])
			s.hull[1][v] = max(s.hull[1][v], x[k])
		}
	}
	return lo, hi, nil
}

// solve minimises sign·x_p (p = vars[0]) subject to rows·x = rhs and x ≥ 0 for
// the cells the attacker may assume non-negative, returning the optimum and,
// when it is finite, a feasible point that has been checked against the
// constraints.
//
// When every unknown is non-negative the problem is already in standard form
// (and the rows are independent, which is what gonum's Simplex needs to find a
// starting basis), which is 10–30× faster than the inequality form. Otherwise,
// or if that fails, the inequality form goes through lp.Convert.
func (s *system) solve(vars []int32, rows [][]float64, rhs []float64, sign float64) (f float64, x []float64, err error) {
	n := len(vars)
	A := mat.NewDense(len(rows), n, nil)
	for r, row := range rows {
		A.SetRow(r, row)
	}
	c := make([]float64, n)
	c[0] = sign
	var nn []int
	for k, v := range vars {
		if s.nonneg[v] {
			nn = append(nn, k)
		}
	}
	if len(nn) == n {
		f, x, d, err := tableauSimplex(c, rows, rhs)
		switch {
		case err == nil:
			if f, x, err := s.checked(f, x, nil, rows, rhs, nn); err == nil {
				return f, x, nil
			}
		case errors.Is(err, errUnbounded) && validRay(c, rows, d):
			return math.Inf(-1), nil, nil
		}
		f, x, err = simplex(c, A, rhs)
		if err == nil || errors.Is(err, lp.ErrUnbounded) {
			return s.checked(f, x, err, rows, rhs, nn)
		}
	}
	var G mat.Matrix
	var h []float64
	if len(nn) > 0 {
		g := mat.NewDense(len(nn), n, nil)
		for r, k := range nn {
			g.Set(r, k, -1)
		}
		G, h = g, make([]float64, len(nn))
	}
	cNew, aNew, bNew := lp.Convert(c, G, h, A, rhs)
	f, xs, err := simplex(cNew, aNew, bNew)
	if err == nil {
		x = make([]float64, n)
		for k := range x {
			x[k] = xs[k] - xs[n+k]
		}
	}
	return s.checked(f, x, err, rows, rhs, nn)
}

// checked turns an unbounded optimum into ±Inf and rejects a point that breaks
// the constraints: the interval is only trusted when its witnesses are feasible.
func (s *system) checked(f float64, x []float64, err error, rows [][]float64, rhs []float64, nn []int) (float64, []float64, error) {
	if errors.Is(err, lp.ErrUnbounded) {
		return math.Inf(-1), nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", errSolver, err)
	}
	for r, row := range rows {
		sum := 0.0
		for k, a := range row {
			sum += a * x[k]
		}
		if math.Abs(sum-rhs[r]) > 1e-6*max(1, math.Abs(rhs[r])) {
			return 0, nil, fmt.Errorf("%w: solution breaks a constraint", errSolver)
		}
	}
	for _, k := range nn {
		if x[k] < -1e-6 {
			return 0, nil, fmt.Errorf("%w: solution is negative", errSolver)
		}
	}
	return f, x, nil
}

// validRay checks an unboundedness certificate: A·d = 0, d ≥ 0 and c·d < 0.
func validRay(c []float64, rows [][]float64, d []float64) bool {
	if d == nil {
		return false
	}
	scale := maxAbs(d)
	cd := 0.0
	for k, v := range d {
		if v < -1e-9*scale {
			return false
		}
		cd += c[k] * v
	}
	for _, row := range rows {
		sum := 0.0
		for k, a := range row {
			sum += a * d[k]
		}
		if math.Abs(sum) > 1e-9*max(1, scale) {
			return false
		}
	}
	return cd < -1e-9*scale
}

// simplex calls gonum's Simplex, turning its panics into errors.
func simplex(c []float64, A mat.Matrix, b []float64) (f float64, x []float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errSolver, r)
		}
	}()
	return lp.Simplex(c, A, b, 1e-10, nil)
}

// independentRows keeps the rows of A·x = b that are linearly independent of
// the rows before them (Gaussian elimination against an echelon copy). A
// dependent row whose right-hand side disagrees means the data are inconsistent.
func independentRows(A [][]float64, b []float64) ([][]float64, []float64, error) {
	const eps = 1e-9
	type basisRow struct {
		row   []float64
		rhs   float64
		pivot int
	}
	var basis []basisRow
	var keepA [][]float64
	var keepB []float64
	for r, row := range A {
		w := append([]float64(nil), row...)
		wb := b[r]
		for _, br := range basis {
			if f := w[br.pivot]; f != 0 {
				for k := range w {
					w[k] -= f * br.row[k]
				}
				wb -= f * br.rhs
			}
		}
		piv, best := -1, eps
		for k, v := range w {
			if math.Abs(v) > best {
				piv, best = k, math.Abs(v)
			}
		}
		if piv < 0 {
			if math.Abs(wb) > 1e-6*max(1, math.Abs(b[r])) {
				return nil, nil, fmt.Errorf("%w: inconsistent constraints", errSolver)
			}
			continue
		}
		f := w[piv]
		for k := range w {
			w[k] /= f
		}
		wb /= f
		// Keep the basis reduced so later rows eliminate in one pass.
		for bi := range basis {
			if g := basis[bi].row[piv]; g != 0 {
				for k := range w {
					basis[bi].row[k] -= g * w[k]
				}
				basis[bi].rhs -= g * wb
			}
		}
		basis = append(basis, basisRow{w, wb, piv})
		keepA, keepB = append(keepA, row), append(keepB, b[r])
	}
	return keepA, keepB, nil
}
