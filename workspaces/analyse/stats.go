package analyse

import (
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/opensde/sde/disclosure"
)

// Stats splits one record of the rewritten query's result into what the
// disclosure engine needs: the analyst's columns (visible, which the caller
// must Release), the person statistics of each row, and each row's grouping
// set (nil when the query has one set). An error means the result does not
// have the shape the rewrite promised; nothing may be released.
func (q *Query) Stats(rec arrow.RecordBatch) (visible arrow.RecordBatch, stats []disclosure.RowStats, rowSets []int, err error) {
	sc := q.StatsColumns
	want := sc.Persons + 1
	for _, c := range sc.Cells {
		want = max(want, c.Persons+1, c.Max1+1, c.Max2+1, c.Total+1, c.AnyNegative+1)
	}
	want = max(want, sc.Set+1)
	if int(rec.NumCols()) != want || sc.Visible != len(q.Plan.Columns) || len(sc.Cells) != sc.Visible {
		return nil, nil, nil, fmt.Errorf("analyse: result has %d columns, the rewrite produces %d", rec.NumCols(), want)
	}
	for j, c := range q.Plan.Columns {
		if rec.ColumnName(j) != c.Name {
			return nil, nil, nil, fmt.Errorf("analyse: result column %d is %q, the plan says %q", j, rec.ColumnName(j), c.Name)
		}
	}
	n := int(rec.NumRows())
	persons, err := ints(rec.Column(sc.Persons))
	if err != nil {
		return nil, nil, nil, err
	}
	cells := false
	for _, c := range sc.Cells {
		cells = cells || c.Persons >= 0
	}
	stats = make([]disclosure.RowStats, n)
	for i := range stats {
		stats[i].Persons = persons[i]
		if cells {
			stats[i].Cells = make([]disclosure.CellStats, sc.Visible)
		}
	}
	for j, c := range sc.Cells {
		if c.Persons < 0 {
			continue
		}
		p, err := ints(rec.Column(c.Persons))
		if err != nil {
			return nil, nil, nil, err
		}
		var m1, m2, tot []float64
		var neg []bool
		if c.Max1 >= 0 {
			if m1, err = floats(rec.Column(c.Max1)); err != nil {
				return nil, nil, nil, err
			}
			if m2, err = floats(rec.Column(c.Max2)); err != nil {
				return nil, nil, nil, err
			}
			if tot, err = floats(rec.Column(c.Total)); err != nil {
				return nil, nil, nil, err
			}
			b, ok := rec.Column(c.AnyNegative).(*array.Boolean)
			if !ok {
				return nil, nil, nil, fmt.Errorf("analyse: any-negative column is %s", rec.Column(c.AnyNegative).DataType())
			}
			neg = make([]bool, n)
			for i := range neg {
				neg[i] = b.IsValid(i) && b.Value(i)
			}
		}
		for i := 0; i < n; i++ {
			cs := disclosure.CellStats{Persons: p[i]}
			if m1 != nil {
				cs.Max1, cs.Max2, cs.Total, cs.AnyNegative = m1[i], m2[i], tot[i], neg[i]
			}
			stats[i].Cells[j] = cs
		}
	}
	if sc.SetIndex != nil {
		ids, err := ints(rec.Column(sc.Set))
		if err != nil {
			return nil, nil, nil, err
		}
		rowSets = make([]int, n)
		for i, id := range ids {
			s, ok := sc.SetIndex[id]
			if !ok {
				return nil, nil, nil, fmt.Errorf("analyse: row %d has grouping id %d, which is not one of the query's grouping sets", i, id)
			}
			rowSets[i] = s
		}
	}
	fields := slices.Clone(rec.Schema().Fields()[:sc.Visible])
	cols := slices.Clone(rec.Columns()[:sc.Visible])
	for j := range cols {
		if q.Plan.Columns[j].Kind != disclosure.Measure {
			cols[j].Retain()
			continue
		}
		c, err := engineNumeric(cols[j])
		if err != nil {
			for _, r := range cols[:j] {
				r.Release()
			}
			return nil, nil, nil, fmt.Errorf("analyse: column %q: %w", fields[j].Name, err)
		}
		cols[j] = c
		fields[j].Type = c.DataType()
	}
	visible = array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return visible, stats, rowSets, nil
}

// engineNumeric returns a measure column as a type the disclosure engine reads:
// DuckDB's HUGEINT and DECIMAL results (SUM of integers or decimals) arrive as
// Arrow decimals and become int64 when they are whole numbers that fit, else
// float64. The caller releases the result.
func engineNumeric(a arrow.Array) (arrow.Array, error) {
	d, ok := a.(*array.Decimal128)
	if !ok {
		a.Retain()
		return a, nil
	}
	scale := d.DataType().(*arrow.Decimal128Type).Scale
	whole := scale == 0
	for i := 0; i < d.Len() && whole; i++ {
		if d.IsValid(i) && !d.Value(i).BigInt().IsInt64() {
			whole = false
		}
	}
	if whole {
		b := array.NewInt64Builder(memory.DefaultAllocator)
		defer b.Release()
		for i := 0; i < d.Len(); i++ {
			if d.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(d.Value(i).BigInt().Int64())
			}
		}
		return b.NewArray(), nil
	}
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := 0; i < d.Len(); i++ {
		if d.IsNull(i) {
			b.AppendNull()
		} else {
			b.Append(d.Value(i).ToFloat64(scale))
		}
	}
	return b.NewArray(), nil
}

// ints reads a count column; NULL is an error (counts are never NULL).
func ints(a arrow.Array) ([]int64, error) {
	out := make([]int64, a.Len())
	for i := range out {
		if a.IsNull(i) {
			return nil, fmt.Errorf("analyse: NULL in a person count column")
		}
		switch a := a.(type) {
		case *array.Int64:
			out[i] = a.Value(i)
		case *array.Int32:
			out[i] = int64(a.Value(i))
		case *array.Uint64:
			out[i] = int64(a.Value(i))
		default:
			return nil, fmt.Errorf("analyse: person count column has type %s", a.DataType())
		}
	}
	return out, nil
}

// floats reads a contribution statistic; NULL (no contributions) reads as 0.
func floats(a arrow.Array) ([]float64, error) {
	f, ok := a.(*array.Float64)
	if !ok {
		return nil, fmt.Errorf("analyse: contribution column has type %s", a.DataType())
	}
	out := make([]float64, a.Len())
	for i := range out {
		if f.IsValid(i) {
			out[i] = f.Value(i)
		}
	}
	return out, nil
}
