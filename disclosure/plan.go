package disclosure

import (
	"errors"
	"slices"
)

// Errors wrapped by the engine. Every error means nothing may be released.
var (
	// ErrInvalid: the input is inconsistent (plan does not match the record,
	// negative or non-integer counts, NaN, missing person statistics, margins that
	// do not add up).
	ErrInvalid = errors.New("disclosure: invalid input")
	// ErrPolicy: the policy is malformed.
	ErrPolicy = errors.New("disclosure: invalid policy")
)

// ColumnKind says whether a result column identifies a group or measures it.
type ColumnKind string

const (
	Dimension ColumnKind = "dimension"
	Measure   ColumnKind = "measure"
)

// Aggregate is the statistic a measure column holds.
type Aggregate string

const (
	Count         Aggregate = "count"          // COUNT(*), COUNT(x): additive, rounded
	CountDistinct Aggregate = "count_distinct" // COUNT(DISTINCT x): rounded; treated as additive (conservative)
	Sum           Aggregate = "sum"            // additive magnitude; dominance applies
	Avg           Aggregate = "avg"            // mean; dominance applies; protected through its contributions' total
	Min           Aggregate = "min"
	Max           Aggregate = "max"
	Median        Aggregate = "median"
	Quantile      Aggregate = "quantile"
	Stddev        Aggregate = "stddev"
	Variance      Aggregate = "variance"
)

func (a Aggregate) known() bool {
	switch a {
	case Count, CountDistinct, Sum, Avg, Min, Max, Median, Quantile, Stddev, Variance:
		return true
	}
	return false
}

// isCount: integer person or row counts, which are thresholded and rounded.
func (a Aggregate) isCount() bool { return a == Count || a == CountDistinct }

// isMagnitude: statistics of a value, which pass dominance on contributions.
func (a Aggregate) isMagnitude() bool { return a == Sum || a == Avg }

// Contribution says what one person's contribution to a SUM or AVG cell is.
type Contribution string

const (
	// PerPersonSum: each person contributes the sum of their rows' values. The cell's
	// SUM equals the contributions' Total; AVG (a mean over rows) is not checked
	// against it.
	PerPersonSum Contribution = "sum"
	// PerPersonMean: each person contributes the mean of their rows' values and the
	// AVG cell is the mean of those per-person means (Total / Persons), as in
	// ZetaSQL's ANON_AVG: no person weighs more for having more rows.
	PerPersonMean Contribution = "mean"
)

// ColumnPlan describes one result column.
type ColumnPlan struct {
	Name      string     `json:"name"` // must equal the record's field name
	Kind      ColumnKind `json:"kind"`
	Aggregate Aggregate  `json:"aggregate,omitempty"` // measures only
	// Contribution defines the per-person contributions of SUM and AVG cells;
	// empty means PerPersonSum.
	Contribution Contribution `json:"contribution,omitempty"`
	// Key identifies the column across queries for the differencing check (the
	// normalised expression, e.g. "count(*)" or "practice.region"); empty means Name.
	Key string `json:"key,omitempty"`
}

func (c ColumnPlan) key() string {
	if c.Key != "" {
		return c.Key
	}
	return c.Name
}

// Plan describes a result: its columns and, when it has margins, which grouping
// set each row belongs to.
type Plan struct {
	Columns []ColumnPlan `json:"columns"`
	// GroupingSets lists the sets of dimension columns (indices into Columns) the
	// result groups by. A ROLLUP(a, b) is {a, b}, {a}, {}. Nil means one set of all
	// dimensions: a plain GROUP BY without margins.
	GroupingSets [][]int `json:"grouping_sets,omitempty"`
	// RowSets gives, per row, the index of its grouping set. Nil means every row is
	// in set 0. Columns outside a row's set are not part of its key (they are the
	// NULLs of ROLLUP output or the "Total" labels of a table).
	RowSets []int `json:"row_sets,omitempty"`
}

// CellStats are the person statistics behind one measure cell, computed inside
// the environment from the rows that made the cell.
type CellStats struct {
	// Persons is the number of distinct persons contributing to this cell (which
	// can be fewer than the row's persons, e.g. COUNT(*) FILTER (WHERE ...)).
	Persons int64 `json:"persons"`
	// Max1 and Max2 are the largest and second-largest per-person contributions,
	// Total their sum over all persons (SUM and AVG only).
	Max1 float64 `json:"max1,omitempty"`
	Max2 float64 `json:"max2,omitempty"`
	// Total is the sum of all per-person contributions.
	Total float64 `json:"total,omitempty"`
	// AnyNegative is set when any contribution is negative.
	AnyNegative bool `json:"any_negative,omitempty"`
}

// RowStats are the person statistics of one result row (one group).
type RowStats struct {
	// Persons is the number of distinct persons in the group.
	Persons int64 `json:"persons"`
	// Cells, when not nil, has one entry per column (dimension entries are
	// ignored) and gives each measure cell its own statistics. When nil, every
	// count cell of the row covers exactly the row's Persons. SUM and AVG cells
	// need Cells: without contributions, dominance cannot be checked.
	Cells []CellStats `json:"cells,omitempty"`
}

// cell returns the statistics of measure column j in this row.
func (r RowStats) cell(j int) (CellStats, bool) {
	if r.Cells == nil {
		return CellStats{Persons: r.Persons}, false
	}
	return r.Cells[j], true
}

// setOf returns the grouping set of row i.
func (p *Plan) setOf(i int) int {
	if p.RowSets == nil {
		return 0
	}
	return p.RowSets[i]
}

// sets returns the grouping sets with the implicit single set filled in.
func (p *Plan) sets() [][]int {
	if p.GroupingSets != nil {
		return p.GroupingSets
	}
	var all []int
	for j, c := range p.Columns {
		if c.Kind == Dimension {
			all = append(all, j)
		}
	}
	return [][]int{all}
}

// hasMargins reports whether some grouping set totals another.
func (p *Plan) hasMargins() bool {
	sets := p.sets()
	for a := range sets {
		for b := range sets {
			if a != b && subset(sets[a], sets[b]) {
				return true
			}
		}
	}
	return false
}

// subset reports whether a ⊂ b strictly.
func subset(a, b []int) bool {
	if len(a) >= len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
