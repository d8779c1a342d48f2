package disclosure

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CSVOptions describe a count table brought in from elsewhere (see ReadCSV).
type CSVOptions struct {
	// Measures are the count columns; nil means ["count"].
	Measures []string
	// TotalLabel marks a margin in a dimension column; "" means "Total". An empty
	// dimension value marks a margin too.
	TotalLabel string
}

// Table is a result with its plan and person statistics, ready for Apply.
type Table struct {
	Record arrow.RecordBatch
	Plan   Plan
	Stats  []RowStats
}

// ReadCSV reads a count table for output checking. The format:
//
//   - The first line names the columns.
//   - The measure columns (CSVOptions.Measures, default "count") hold
//     non-negative integer counts; every other column is a dimension, except
//     persons columns.
//   - A column "<measure>_persons" (or "persons" when there is one measure) gives
//     the distinct persons behind each count; without it, persons = the count,
//     which is right when each person is counted once.
//   - A row whose value in a dimension is the total label ("Total") or empty is
//     a margin over that dimension: "Total,X,..." totals every row with X, and a
//     row with every dimension "Total" is the grand total. Margins must add up.
//
// Redacted or non-numeric counts are an error: the checker needs true counts.
func ReadCSV(r io.Reader, opt CSVOptions) (*Table, error) {
	measures := opt.Measures
	if len(measures) == 0 {
		measures = []string{"count"}
	}
	label := opt.TotalLabel
	if label == "" {
		label = "Total"
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0
	cr.TrimLeadingSpace = true
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, invalidf("reading CSV: %v", err)
	}
	if len(recs) == 0 {
		return nil, invalidf("the CSV file is empty")
	}
	header := recs[0]
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
	}
	col := func(name string) int { return slices.Index(header, name) }
	var dims []int
	measureAt := make([]int, len(measures))
	personsAt := make([]int, len(measures))
	for m, name := range measures {
		if measureAt[m] = col(name); measureAt[m] < 0 {
			return nil, invalidf("the CSV has no column %q", name)
		}
		personsAt[m] = col(name + "_persons")
		if personsAt[m] < 0 && len(measures) == 1 {
			personsAt[m] = col("persons")
		}
	}
	for j, h := range header {
		if h == "" {
			return nil, invalidf("column %d has no name", j+1)
		}
		if slices.Index(header, h) != j {
			return nil, invalidf("column %q appears twice", h)
		}
		if !slices.Contains(measureAt, j) && !slices.Contains(personsAt, j) {
			dims = append(dims, j)
		}
	}
	rows := recs[1:]
	mem := memory.DefaultAllocator
	var fields []arrow.Field
	var arrays []arrow.Array
	defer func() {
		for _, a := range arrays {
			a.Release()
		}
	}()
	t := &Table{Stats: make([]RowStats, len(rows))}
	for _, j := range dims {
		b := array.NewStringBuilder(mem)
		for _, row := range rows {
			b.Append(strings.TrimSpace(row[j]))
		}
		fields = append(fields, arrow.Field{Name: header[j], Type: arrow.BinaryTypes.String})
		arrays = append(arrays, b.NewArray())
		b.Release()
		t.Plan.Columns = append(t.Plan.Columns, ColumnPlan{Name: header[j], Kind: Dimension})
	}
	nc := len(dims) + len(measures)
	for i := range t.Stats {
		t.Stats[i].Cells = make([]CellStats, nc)
	}
	for m, name := range measures {
		b := array.NewInt64Builder(mem)
		for i, row := range rows {
			v, err := parseCount(row[measureAt[m]])
			if err != nil {
				b.Release()
				return nil, invalidf("row %d column %q: %v", i+2, name, err)
			}
			p := v
			if personsAt[m] >= 0 {
				if p, err = parseCount(row[personsAt[m]]); err != nil {
					b.Release()
					return nil, invalidf("row %d persons of %q: %v", i+2, name, err)
				}
			}
			b.Append(v)
			t.Stats[i].Cells[len(dims)+m].Persons = p
			t.Stats[i].Persons = max(t.Stats[i].Persons, p)
		}
		fields = append(fields, arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64})
		arrays = append(arrays, b.NewArray())
		b.Release()
		t.Plan.Columns = append(t.Plan.Columns, ColumnPlan{Name: name, Kind: Measure, Aggregate: Count})
	}
	// Grouping sets from the margin labels: a row groups by the dimensions it names.
	setIndex := map[string]int{}
	for _, row := range rows {
		var set []int
		var key strings.Builder
		for d, j := range dims {
			if v := strings.TrimSpace(row[j]); v != "" && v != label {
				set = append(set, d)
				fmt.Fprintf(&key, "%d,", d)
			}
		}
		s, ok := setIndex[key.String()]
		if !ok {
			s = len(t.Plan.GroupingSets)
			setIndex[key.String()] = s
			t.Plan.GroupingSets = append(t.Plan.GroupingSets, set)
		}
		t.Plan.RowSets = append(t.Plan.RowSets, s)
	}
	if t.Plan.GroupingSets == nil {
		t.Plan.GroupingSets = [][]int{nil}
	}
	t.Record = array.NewRecordBatch(arrow.NewSchema(fields, nil), arrays, int64(len(rows)))
	return t, nil
}

func parseCount(s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer count")
	}
	if v < 0 {
		return 0, fmt.Errorf("negative count")
	}
	return v, nil
}

// WriteCSV writes the released table as CSV: the header, then the values, with
// suppressed and null cells empty.
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(r.Decision.Columns); err != nil {
		return err
	}
	rec := make([]string, len(r.Decision.Columns))
	for _, row := range r.Values {
		for j, v := range row {
			switch v := v.(type) {
			case nil:
				rec[j] = ""
			case string:
				rec[j] = v
			case int64:
				rec[j] = strconv.FormatInt(v, 10)
			case float64:
				rec[j] = strconv.FormatFloat(v, 'g', -1, 64)
			default:
				rec[j] = fmt.Sprint(v)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
