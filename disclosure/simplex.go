package disclosure

import (
	"errors"
	"math"
)

// errUnbounded and errInfeasible are the fast solver's non-optimal outcomes.
var (
	errUnbounded  = errors.New("disclosure: LP unbounded")
	errInfeasible = errors.New("disclosure: LP infeasible")
	errStalled    = errors.New("disclosure: LP did not finish")
)

// tableauSimplex minimises c·x subject to A·x = b, x ≥ 0 with a dense two-phase
// tableau simplex (Dantzig's rule, Bland's rule after a run of degenerate
// pivots, so it cannot cycle). It exists because gonum's Simplex refactorises
// the basis on every pivot, which makes the thousands of small LPs of a large
// table too slow; each pivot here is one rank-one update.
//
// Nothing it says is trusted blindly: an optimum comes with its point x, which
// the caller checks against the constraints, and an unbounded answer comes with
// a direction d (A·d = 0, d ≥ 0, c·d < 0), which the caller checks too. Anything
// else is an error, and the caller falls back to gonum.
func tableauSimplex(c []float64, A [][]float64, b []float64) (f float64, x, d []float64, err error) {
	const eps = 1e-9
	m, n := len(A), len(c)
	w := n + m // columns: n real, m artificial
	T := make([][]float64, m+1)
	for i := 0; i < m; i++ {
		row := make([]float64, w+1)
		sign := 1.0
		if b[i] < 0 {
			sign = -1
		}
		for j, a := range A[i] {
			row[j] = sign * a
		}
		row[n+i] = 1
		row[w] = sign * b[i]
		T[i] = row
	}
	obj := make([]float64, w+1) // reduced costs; obj[w] = −objective
	T[m] = obj
	basis := make([]int, m)
	for i := range basis {
		basis[i] = n + i
	}
	pivot := func(r, col int) {
		pr := T[r]
		inv := 1 / pr[col]
		for j := range pr {
			pr[j] *= inv
		}
		pr[col] = 1
		for i, row := range T {
			if i == r {
				continue
			}
			if f := row[col]; f != 0 {
				for j, v := range pr {
					if v != 0 {
						row[j] -= f * v
					}
				}
				row[col] = 0
			}
		}
		basis[r] = col
	}
	// run pivots until optimal over the columns < limit; returns the entering
	// column of an unbounded ray, or -1.
	run := func(limit int) (int, error) {
		degenerate := 0
		for iter := 0; iter < 50*(m+n)+100; iter++ {
			col, best := -1, -eps
			for j := 0; j < limit; j++ {
				if obj[j] < best {
					col, best = j, obj[j]
					if degenerate > 50 {
						break // Bland: first improving column
					}
				}
			}
			if col < 0 {
				return -1, nil
			}
			r, ratio := -1, math.Inf(1)
			for i := 0; i < m; i++ {
				if a := T[i][col]; a > eps {
					q := T[i][w] / a
					if q < ratio-1e-12 || (q <= ratio+1e-12 && r >= 0 && basis[i] < basis[r]) {
						r, ratio = i, q
					}
				}
			}
			if r < 0 {
				return col, nil
			}
			if ratio < eps {
				degenerate++
			} else {
				degenerate = 0
			}
			pivot(r, col)
		}
		return -1, errStalled
	}
	// Phase I: minimise the sum of the artificials.
	for i := 0; i < m; i++ {
		for j := 0; j <= w; j++ {
			if j < n || j == w {
				obj[j] -= T[i][j]
			}
		}
	}
	if _, err := run(w); err != nil {
		return 0, nil, nil, err
	}
	if -obj[w] > 1e-7*(1+maxAbs(b)) {
		return 0, nil, nil, errInfeasible
	}
	// Drive artificials out of the basis; a row where that is impossible is redundant.
	for i := 0; i < m; i++ {
		if basis[i] < n {
			continue
		}
		for j := 0; j < n; j++ {
			if math.Abs(T[i][j]) > eps {
				pivot(i, j)
				break
			}
		}
	}
	// Phase II: reduced costs of c over the real columns.
	for j := range obj {
		obj[j] = 0
	}
	copy(obj, c)
	for i := 0; i < m; i++ {
		if bi := basis[i]; bi < n && c[bi] != 0 {
			for j := 0; j <= w; j++ {
				obj[j] -= c[bi] * T[i][j]
			}
		}
	}
	ray, err := run(n)
	if err != nil {
		return 0, nil, nil, err
	}
	if ray >= 0 {
		d = make([]float64, n)
		d[ray] = 1
		for i := 0; i < m; i++ {
			if basis[i] < n {
				d[basis[i]] = -T[i][ray]
			}
		}
		return math.Inf(-1), nil, d, errUnbounded
	}
	x = make([]float64, n)
	for i := 0; i < m; i++ {
		if basis[i] < n {
			x[basis[i]] = T[i][w]
		}
	}
	for j, v := range x {
		f += c[j] * v
	}
	return f, x, nil, nil
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}
