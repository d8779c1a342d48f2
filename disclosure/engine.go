package disclosure

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Margin is a total of some cells of this result that the workspace released
// before (a linked table): the attacker knows it, so secondary suppression must
// treat it as one more additivity constraint. The engine takes the margin's value
// from the cells' true values, which is at least what the attacker knows.
type Margin struct {
	Column string `json:"column"` // measure column name
	Rows   []int  `json:"rows"`   // rows of this result whose cells the margin totals
}

// Input is one query result and everything the engine needs to judge it.
type Input struct {
	// Record is the result as computed, one row per group.
	Record arrow.RecordBatch
	Plan   Plan
	// Stats has one entry per row of Record.
	Stats  []RowStats
	Policy Policy
	// Margins are totals released earlier over cells of this result.
	Margins []Margin
	// Ledger, when not nil, holds the workspace's earlier releases for the
	// differencing check, and Query describes this result.
	Ledger Ledger
	Query  Fingerprint
	// Allocator for the released record; nil means the default Go allocator.
	Allocator memory.Allocator
}

// Result is the safe result. The caller owns Record and must Release it.
type Result struct {
	// Record holds the released values; suppressed cells are null. Measure columns
	// are int64 when the input column was an integer type, float64 otherwise.
	Record arrow.RecordBatch
	// Status is the per-cell status, [row][column]: "ok", "rounded" or
	// "suppressed:<reason>".
	Status [][]string
	// Values holds the released values as Go values ([row][column]: string,
	// int64, float64, or nil for null), for JSON and CSV output.
	Values [][]any
	// Totals lists, per row, the dimension columns the row is a total over (a ROLLUP, CUBE or
	// GROUPING SETS margin: its value there is empty but means "all"); nil when the plan
	// has a single grouping set.
	Totals   [][]int
	Decision Decision
	// Release is what to record in the ledger once the result is delivered.
	Release Release

	intervals map[[2]int][2]float64
}

// interval returns the last attacker interval the engine computed for a
// primary cell (column j, row i), for tests.
func (r *Result) interval(j, i int) ([2]float64, bool) {
	iv, ok := r.intervals[[2]int{j, i}]
	return iv, ok
}

// state codes of a cell during the run.
type cellState struct {
	reason  Reason // empty: released
	rounded bool
}

// engine holds one run.
type engine struct {
	in     *Input
	pol    Policy
	rows   int
	cols   []ColumnPlan
	sets   [][]int
	dimKey [][]string  // [col][row], dimensions only
	vals   [][]float64 // [col][row], measures only; null → 0
	nulls  [][]bool    // [col][row]
	ints   []bool      // [col]: integer-typed measure
	state  [][]cellState
	flags  []Flag
	cons   []constraint // from the plan's grouping sets
	margin []bool       // [row]: row is the total of some plan constraint
	reason []string
	failed bool // the result is refused as a whole

	intervals map[[2]int][2]float64 // [column,row] → last LP interval of a primary cell (tests)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Apply runs disclosure control on one result: primary suppression (threshold on
// distinct persons, dominance, refused aggregates), the differencing check,
// secondary suppression verified by linear programming, then rounding. It returns
// an error, and releases nothing, when the input is inconsistent.
func Apply(in Input) (*Result, error) {
	if err := in.Policy.Validate(); err != nil {
		return nil, err
	}
	e := &engine{in: &in, pol: in.Policy}
	if err := e.load(); err != nil {
		return nil, err
	}
	if e.rows > e.pol.MaxRows {
		e.refuseAll(fmt.Sprintf("the result has more rows than the row cap (%d)", e.pol.MaxRows))
		return e.result()
	}
	if err := e.buildConstraints(); err != nil {
		return nil, err
	}
	e.primary()
	if err := e.differencing(); err != nil {
		return nil, err
	}
	if err := e.secondary(); err != nil {
		return nil, err
	}
	e.round()
	res, err := e.result()
	if err != nil || !e.pol.WithholdSmallGroups {
		return res, err
	}
	return e.withhold(res)
}

// withhold removes the rows of groups with fewer than Threshold persons from a result, and
// rebuilds the decision record over what is left, so neither their labels nor their number
// leave. Secondary suppression has already treated them as present, so this only hides more.
func (e *engine) withhold(res *Result) (*Result, error) {
	k := e.pol.Threshold
	var keep []int
	for i := 0; i < e.rows; i++ {
		if p := e.in.Stats[i].Persons; p >= k || (p == 0 && !e.pol.ZerosDisclosive) {
			keep = append(keep, i)
		}
	}
	if len(keep) == e.rows {
		return res, nil
	}
	mem := e.in.Allocator
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	rec := res.Record
	defer rec.Release()
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for j := range cols {
		parts := make([]arrow.Array, 0, len(keep))
		for _, i := range keep {
			parts = append(parts, array.NewSlice(rec.Column(j), int64(i), int64(i)+1))
		}
		if len(parts) == 0 {
			cols[j] = array.MakeArrayOfNull(mem, rec.Schema().Field(j).Type, 0)
			continue
		}
		c, err := array.Concatenate(parts, mem)
		for _, p := range parts {
			p.Release()
		}
		if err != nil {
			return nil, fmt.Errorf("disclosure: withholding rows: %w", err)
		}
		cols[j] = c
	}
	// The LP intervals (a test aid) are keyed by the old row numbers, so they are not carried.
	out := &Result{Record: array.NewRecordBatch(rec.Schema(), cols, int64(len(keep))), Release: res.Release, Decision: res.Decision}
	for _, i := range keep {
		out.Status = append(out.Status, res.Status[i])
		out.Values = append(out.Values, res.Values[i])
		if res.Totals != nil {
			out.Totals = append(out.Totals, res.Totals[i])
		}
	}
	if out.Status == nil {
		out.Status, out.Values = [][]string{}, [][]any{}
	}
	out.Decision.Rows, out.Decision.Cells, out.Decision.Counts = len(keep), out.Status, tally(out.Status)
	out.Decision.SHA256 = hashTable(out.Decision.Columns, out.Values)
	return out, nil
}

// load checks the plan against the record and the statistics, and reads the
// values. Everything that does not match is an error: the engine never guesses.
func (e *engine) load() error {
	rec, plan := e.in.Record, &e.in.Plan
	if rec == nil {
		return invalidf("no record")
	}
	if int(rec.NumCols()) != len(plan.Columns) {
		return invalidf("the plan has %d columns, the record %d", len(plan.Columns), rec.NumCols())
	}
	e.rows, e.cols = int(rec.NumRows()), plan.Columns
	if len(e.in.Stats) != e.rows {
		return invalidf("person statistics for %d rows, the record has %d", len(e.in.Stats), e.rows)
	}
	nc := len(e.cols)
	e.dimKey, e.vals, e.nulls = make([][]string, nc), make([][]float64, nc), make([][]bool, nc)
	e.ints, e.state = make([]bool, nc), make([][]cellState, nc)
	for j, c := range e.cols {
		if rec.ColumnName(j) != c.Name {
			return invalidf("column %d is %q in the record but %q in the plan", j, rec.ColumnName(j), c.Name)
		}
		e.state[j] = make([]cellState, e.rows)
		col := rec.Column(j)
		switch c.Kind {
		case Dimension:
			if c.Aggregate != "" {
				return invalidf("dimension %q has an aggregate", c.Name)
			}
			keys := make([]string, e.rows)
			for i := range keys {
				if col.IsNull(i) {
					keys[i] = "\x00null"
				} else {
					keys[i] = col.ValueStr(i)
				}
			}
			e.dimKey[j] = keys
		case Measure:
			if !c.Aggregate.known() {
				return invalidf("measure %q has unknown aggregate %q", c.Name, c.Aggregate)
			}
			switch c.Contribution {
			case "", PerPersonSum, PerPersonMean:
			default:
				return invalidf("measure %q has unknown contribution %q", c.Name, c.Contribution)
			}
			if err := e.readMeasure(j, col); err != nil {
				return err
			}
		default:
			return invalidf("column %q has unknown kind %q", c.Name, c.Kind)
		}
	}
	if err := e.checkSets(); err != nil {
		return err
	}
	return e.checkStats()
}

func (e *engine) readMeasure(j int, col arrow.Array) error {
	c := e.cols[j]
	vals, nulls := make([]float64, e.rows), make([]bool, e.rows)
	get, isInt := numericGetter(col)
	if get == nil {
		return invalidf("measure %q is not numeric", c.Name)
	}
	e.ints[j] = isInt
	for i := range vals {
		if col.IsNull(i) {
			nulls[i] = true
			continue
		}
		v := get(i)
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return invalidf("measure %q row %d is not a finite number", c.Name, i)
		case c.Aggregate.isCount() && v < 0:
			return invalidf("count %q row %d is negative", c.Name, i)
		case c.Aggregate.isCount() && v != math.Trunc(v):
			return invalidf("count %q row %d is not an integer", c.Name, i)
		}
		vals[i] = v
	}
	e.vals[j], e.nulls[j] = vals, nulls
	return nil
}

// numericGetter returns a float64 view of a numeric array and whether it holds integers.
func numericGetter(a arrow.Array) (func(int) float64, bool) {
	switch a := a.(type) {
	case *array.Int64:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Int32:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Int16:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Int8:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Uint64:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Uint32:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Uint16:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Uint8:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Float64:
		return func(i int) float64 { return a.Value(i) }, false
	case *array.Float32:
		return func(i int) float64 { return float64(a.Value(i)) }, false
	}
	return nil, false
}

func (e *engine) checkSets() error {
	plan := &e.in.Plan
	e.sets = plan.sets()
	for s, set := range e.sets {
		seen := map[int]bool{}
		for _, j := range set {
			if j < 0 || j >= len(e.cols) || e.cols[j].Kind != Dimension {
				return invalidf("grouping set %d refers to column %d, which is not a dimension", s, j)
			}
			if seen[j] {
				return invalidf("grouping set %d repeats column %d", s, j)
			}
			seen[j] = true
		}
	}
	if plan.RowSets != nil {
		if len(plan.RowSets) != e.rows {
			return invalidf("grouping sets for %d rows, the record has %d", len(plan.RowSets), e.rows)
		}
		for i, s := range plan.RowSets {
			if s < 0 || s >= len(e.sets) {
				return invalidf("row %d has grouping set %d, which does not exist", i, s)
			}
		}
	}
	return nil
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b))
}

func (e *engine) checkStats() error {
	for i, rs := range e.in.Stats {
		if rs.Persons < 0 {
			return invalidf("row %d has a negative number of persons", i)
		}
		if rs.Cells != nil && len(rs.Cells) != len(e.cols) {
			return invalidf("row %d has statistics for %d columns, the plan has %d", i, len(rs.Cells), len(e.cols))
		}
		for j, c := range e.cols {
			if c.Kind != Measure {
				continue
			}
			cs, own := rs.cell(j)
			if cs.Persons < 0 || cs.Persons > rs.Persons {
				return invalidf("row %d column %q: cell persons must be between 0 and the row's persons", i, c.Name)
			}
			if !c.Aggregate.isMagnitude() {
				continue
			}
			if !own {
				return invalidf("row %d column %q: SUM and AVG cells need per-person contribution statistics", i, c.Name)
			}
			for _, v := range []float64{cs.Max1, cs.Max2, cs.Total} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return invalidf("row %d column %q: contribution statistics are not finite", i, c.Name)
				}
			}
			if !cs.AnyNegative && (cs.Max2 < 0 || cs.Max1 < cs.Max2 || cs.Total < cs.Max1+cs.Max2 && !near(cs.Total, cs.Max1+cs.Max2)) {
				return invalidf("row %d column %q: contribution statistics are inconsistent", i, c.Name)
			}
			if e.nulls[j][i] {
				continue
			}
			v := e.vals[j][i]
			switch {
			case c.Aggregate == Sum && c.Contribution != PerPersonMean && !near(v, cs.Total):
				return invalidf("row %d column %q: the sum does not equal the total of per-person contributions", i, c.Name)
			case c.Aggregate == Avg && c.Contribution == PerPersonMean && cs.Persons > 0 && !near(v, cs.Total/float64(cs.Persons)):
				return invalidf("row %d column %q: the average is not the mean of the per-person averages", i, c.Name)
			}
		}
	}
	return nil
}

// refuseAll suppresses every cell, dimensions included: the result is refused.
func (e *engine) refuseAll(why string) {
	for j := range e.state {
		for i := range e.state[j] {
			e.state[j][i] = cellState{reason: ReasonPolicy}
		}
	}
	e.reason = append(e.reason, why)
	e.failed = true
}

func (e *engine) suppressed(j, i int) bool { return e.state[j][i].reason != "" }

// primary applies the rules that look at one cell at a time.
func (e *engine) primary() {
	k := e.pol.Threshold
	measures, refusedCols := 0, 0
	for j, c := range e.cols {
		if c.Kind != Measure {
			continue
		}
		measures++
		refused := e.pol.refuses(c.Aggregate)
		for i := 0; i < e.rows; i++ {
			cs, _ := e.in.Stats[i].cell(j)
			switch {
			case refused:
				e.state[j][i].reason = ReasonPolicy
			case cs.Persons < k && (cs.Persons > 0 || e.pol.ZerosDisclosive):
				e.state[j][i].reason = ReasonThreshold
			case c.Aggregate.isMagnitude() && cs.AnyNegative:
				if e.pol.NegativeContributions == ActionSuppress {
					e.state[j][i].reason = ReasonPolicy
				} else {
					e.flag(i, j, "dominance", "dominance is not defined when contributions are negative")
				}
			case c.Aggregate.isMagnitude() && dominated(cs, e.pol.Dominance):
				e.state[j][i].reason = ReasonDominance
			}
		}
		if refused {
			refusedCols++
			e.reason = append(e.reason, fmt.Sprintf("aggregate %s is refused by the policy", c.Aggregate))
		}
	}
	if measures > 0 && refusedCols == measures {
		e.failed = true
	}
	if measures == 0 {
		// A result of dimensions only still reveals that each group has persons.
		for i := 0; i < e.rows; i++ {
			if p := e.in.Stats[i].Persons; p < k && (p > 0 || e.pol.ZerosDisclosive) {
				for j := range e.cols {
					e.state[j][i].reason = ReasonThreshold
				}
			}
		}
	}
}

// dominated applies the NK rule (boundary fails) and the p-ratio rule (boundary
// passes) to a cell's non-negative contributions.
func dominated(cs CellStats, d Dominance) bool {
	if cs.Total <= 0 {
		return false // all contributions are zero: nobody dominates
	}
	top := cs.Max1
	if d.N >= 2 {
		top += cs.Max2
	}
	if top/cs.Total >= d.K {
		return true
	}
	rest := cs.Total - cs.Max1 - cs.Max2
	return rest < d.P*cs.Max1 && !near(rest, d.P*cs.Max1)
}

func (e *engine) flag(i, j int, rule, note string) {
	e.flags = append(e.flags, Flag{Row: i, Column: j, Rule: rule, Note: note})
}

// rowKey identifies a row across queries: its grouping set's column keys and values.
// rowKey identifies a row for the differencing ledger by its dimension values alone, not by
// how the grouping was written, so GROUP BY upper(sex) and GROUP BY sex compare (security
// review F4). Rows of unrelated groupings that share values are compared too: over-suppression
// is the safe side.
func (e *engine) rowKey(i int) string {
	set := e.sets[e.in.Plan.setOf(i)]
	parts := make([]string, 0, len(set))
	for _, j := range set {
		parts = append(parts, e.dimKey[j][i])
	}
	sort.Strings(parts)
	return strings.Join(parts, "\x1f")
}

func cellKey(rowKey string, c ColumnPlan) string { return rowKey + "\x1e" + c.key() }

// differencing compares this result with comparable earlier releases.
func (e *engine) differencing() error {
	if e.in.Ledger == nil {
		return nil
	}
	if len(e.in.Query.Sources) == 0 {
		return invalidf("a ledger was given without a query fingerprint")
	}
	earlier, err := e.in.Ledger.Releases(e.in.Query)
	if err != nil {
		return fmt.Errorf("disclosure: reading the release ledger: %w", err)
	}
	var comparable []Release
	for _, r := range earlier {
		if e.in.Query.Differences(r.Query) {
			comparable = append(comparable, r)
		}
	}
	if len(comparable) == 0 {
		return nil
	}
	k := e.pol.Threshold
	close := func(now, before int64) bool {
		d := now - before
		if d < 0 {
			d = -d
		}
		return d > 0 && d < k
	}
	for i := 0; i < e.rows; i++ {
		rk := e.rowKey(i)
		rowHit := false
		for _, r := range comparable {
			if p, ok := r.Rows[rk]; ok && close(e.in.Stats[i].Persons, p) {
				rowHit = true
			}
		}
		for j, c := range e.cols {
			if c.Kind != Measure || e.suppressed(j, i) {
				continue
			}
			hit := rowHit
			cs, _ := e.in.Stats[i].cell(j)
			for _, r := range comparable {
				if p, ok := r.Cells[cellKey(rk, c)]; ok && close(cs.Persons, p) {
					hit = true
				}
			}
			if !hit {
				continue
			}
			if e.pol.Differencing == ActionSuppress {
				e.state[j][i].reason = ReasonDifferencing
			} else {
				e.flag(i, j, "differencing", "differs by fewer than k persons from an earlier release over the same data")
			}
		}
	}
	return nil
}

// round rounds released counts and recomputes margins when the policy says so.
func (e *engine) round() {
	for j, c := range e.cols {
		if c.Kind != Measure {
			continue
		}
		if c.Aggregate.isCount() && e.pol.Rounding.Mode != RoundNone {
			for i := 0; i < e.rows; i++ {
				if !e.suppressed(j, i) && !e.nulls[j][i] {
					e.vals[j][i] = float64(e.pol.Rounding.Round(int64(e.vals[j][i])))
					e.state[j][i].rounded = true
				}
			}
		}
		if e.recomputes(c) {
			e.recompute(j)
		}
	}
}

// recomputes reports whether column c's margins are published as sums of its
// released cells. Only exactly additive statistics can be recomputed.
func (e *engine) recomputes(c ColumnPlan) bool {
	return e.pol.Totals == TotalsRecomputed && (c.Aggregate == Count || c.Aggregate == Sum)
}

// recompute replaces each released margin of column j by the sum of the released
// cells of its first finer grouping set, finest margins first.
func (e *engine) recompute(j int) {
	first := map[int32]int{} // margin row → constraint from its first (finest-ordered) child set
	for ci, c := range e.cons {
		if prev, ok := first[c.total]; !ok || c.child < e.cons[prev].child {
			first[c.total] = ci
		}
	}
	order := make([]int32, 0, len(first))
	for t := range first {
		order = append(order, t)
	}
	// Larger grouping sets are finer; recompute them before the margins above them.
	sort.Slice(order, func(a, b int) bool {
		sa, sb := len(e.sets[e.in.Plan.setOf(int(order[a]))]), len(e.sets[e.in.Plan.setOf(int(order[b]))])
		if sa != sb {
			return sa > sb
		}
		return order[a] < order[b]
	})
	for _, t := range order {
		if e.suppressed(j, int(t)) {
			continue
		}
		sum := 0.0
		for _, p := range e.cons[first[t]].parts {
			if !e.suppressed(j, int(p)) {
				sum += e.vals[j][p]
			}
		}
		e.vals[j][t] = sum
		e.nulls[j][t] = false
	}
}

// tally counts cells by status: the decision record's counts always agree with its cells.
func tally(status [][]string) Counts {
	c := Counts{ByReason: map[Reason]int{}}
	for _, row := range status {
		for _, st := range row {
			c.Cells++
			switch st {
			case StatusOK:
				c.Released++
			case StatusRounded:
				c.Released++
				c.Rounded++
			default:
				c.Suppressed++
				c.ByReason[Reason(strings.TrimPrefix(st, "suppressed:"))]++
			}
		}
	}
	return c
}

// result assembles the released record, statuses and decision.
func (e *engine) result() (*Result, error) {
	mem := e.in.Allocator
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	rec := e.in.Record
	status := make([][]string, e.rows)
	for i := range status {
		status[i] = make([]string, len(e.cols))
		for j := range e.cols {
			st := e.state[j][i]
			switch {
			case st.reason != "":
				status[i][j] = st.reason.Status()
			case st.rounded:
				status[i][j] = StatusRounded
			default:
				status[i][j] = StatusOK
			}
		}
	}
	counts := tally(status)
	names := make([]string, len(e.cols))
	fields := make([]arrow.Field, len(e.cols))
	arrays := make([]arrow.Array, len(e.cols))
	defer func() {
		for _, a := range arrays {
			if a != nil {
				a.Release()
			}
		}
	}()
	table := make([][]any, e.rows)
	for i := range table {
		table[i] = make([]any, len(e.cols))
	}
	for j, c := range e.cols {
		names[j] = c.Name
		f := rec.Schema().Field(j)
		if c.Kind == Dimension {
			col := rec.Column(j)
			nsup := 0
			for i := 0; i < e.rows; i++ {
				if e.suppressed(j, i) {
					nsup++
				} else if !col.IsNull(i) {
					table[i][j] = dimValue(col, i)
				}
			}
			switch nsup {
			case 0:
				col.Retain()
				arrays[j] = col
			case e.rows:
				arrays[j] = array.MakeArrayOfNull(mem, f.Type, e.rows)
			default:
				// Rare (a dimensions-only result with small groups): copy through text.
				b := array.NewBuilder(mem, f.Type)
				for i := 0; i < e.rows; i++ {
					if e.suppressed(j, i) || col.IsNull(i) {
						b.AppendNull()
					} else if err := b.AppendValueFromString(col.ValueStr(i)); err != nil {
						b.Release()
						return nil, fmt.Errorf("disclosure: copying column %q: %w", c.Name, err)
					}
				}
				arrays[j] = b.NewArray()
				b.Release()
			}
			fields[j] = arrow.Field{Name: f.Name, Type: f.Type, Nullable: true, Metadata: f.Metadata}
			continue
		}
		if e.ints[j] {
			b := array.NewInt64Builder(mem)
			for i := 0; i < e.rows; i++ {
				if e.suppressed(j, i) || e.nulls[j][i] {
					b.AppendNull()
					continue
				}
				v := int64(e.vals[j][i])
				b.Append(v)
				table[i][j] = v
			}
			arrays[j] = b.NewArray()
			b.Release()
			fields[j] = arrow.Field{Name: f.Name, Type: arrow.PrimitiveTypes.Int64, Nullable: true, Metadata: f.Metadata}
		} else {
			b := array.NewFloat64Builder(mem)
			for i := 0; i < e.rows; i++ {
				if e.suppressed(j, i) || e.nulls[j][i] {
					b.AppendNull()
					continue
				}
				b.Append(e.vals[j][i])
				table[i][j] = e.vals[j][i]
			}
			arrays[j] = b.NewArray()
			b.Release()
			fields[j] = arrow.Field{Name: f.Name, Type: arrow.PrimitiveTypes.Float64, Nullable: true, Metadata: f.Metadata}
		}
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrays, int64(e.rows))

	d := Decision{
		Engine:  "sde-disclosure/" + Version,
		Policy:  e.pol,
		Status:  Pass,
		Rows:    e.rows,
		Columns: names,
		Counts:  counts,
		Cells:   status,
		Flags:   e.flags,
		Reasons: e.reason,
		SHA256:  hashTable(names, table),
	}
	if len(e.in.Query.Sources) > 0 {
		q := e.in.Query.Normalize()
		d.Query = &q
	}
	if len(e.flags) > 0 {
		d.Status = Review
		d.Reasons = append(d.Reasons, fmt.Sprintf("%d cell(s) flagged for review", len(e.flags)))
	}
	if e.failed {
		d.Status = Fail
	}
	if len(d.Reasons) == 0 {
		d.Reasons = nil
	}
	return &Result{Record: out, Status: status, Values: table, Totals: e.totals(), Decision: d, Release: e.release(), intervals: e.intervals}, nil
}

// totals lists each row's margin columns: the dimensions outside its grouping set.
func (e *engine) totals() [][]int {
	p := &e.in.Plan
	if len(p.GroupingSets) < 2 {
		return nil
	}
	sets := p.sets()
	out := make([][]int, e.rows)
	for i := range out {
		out[i] = []int{}
		for j, c := range p.Columns {
			if c.Kind == Dimension && !slices.Contains(sets[p.setOf(i)], j) {
				out[i] = append(out[i], j)
			}
		}
	}
	return out
}

// dimValue returns a dimension cell as a Go value for the canonical table.
func dimValue(col arrow.Array, i int) any {
	switch a := col.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	}
	return col.ValueStr(i)
}

// release lists the released rows and cells with their persons, for the ledger.
func (e *engine) release() Release {
	r := Release{Query: e.in.Query.Normalize(), Rows: map[string]int64{}, Cells: map[string]int64{}}
	if e.in.Ledger == nil && len(e.in.Query.Sources) == 0 {
		return r
	}
	for i := 0; i < e.rows; i++ {
		rk := e.rowKey(i)
		for j, c := range e.cols {
			if c.Kind != Measure || e.suppressed(j, i) {
				continue
			}
			cs, _ := e.in.Stats[i].cell(j)
			r.Cells[cellKey(rk, c)] = cs.Persons
			r.Rows[rk] = e.in.Stats[i].Persons
		}
	}
	return r
}
