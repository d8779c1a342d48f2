package analyse

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/opensde/sde/disclosure"
	"github.com/opensde/sde/sde"
)

// The rewritten query has two levels.
//
// Level 1 (subquery __l1) is the analyst's FROM and WHERE, grouped by each of
// the analyst's grouping sets plus the person:
//
//	SELECT <group exprs> AS __k0.., <person> AS __pid, GROUPING(<group exprs>) AS __set,
//	       <per-person partial aggregates> AS __c<j>, __v<j>, __l<j>
//	FROM <analyst FROM> WHERE <analyst WHERE>
//	GROUP BY GROUPING SETS ((<set 1>, <person>), (<set 2>, <person>), ...)
//
// so each level-1 row is one person's part of one output cell, in the very
// grouping set the cell belongs to (a margin's per-person contribution is the
// person's total across the parts, not a part).
//
// Level 2 groups those rows by (__set, __k0, ..): each group is one output row.
// The analyst's values are recombined exactly (COUNT = sum of per-person counts,
// SUM = sum of per-person sums, AVG = total sum / total count of rows, MIN/MAX
// of per-person MIN/MAX, COUNT(DISTINCT x) and order statistics from the
// per-person lists of values), and because each level-2 input row is one
// distinct person, the person statistics are plain aggregates over it:
// __persons = count_star() (unlinked rows count as one person), and per SUM/AVG measure the max, second max, total
// and any-negative of the per-person values.
//
// Output columns: the analyst's, in order, then __persons, __set, then per
// measure __p<j> (cell persons) and, for SUM and AVG, __max1<j>, __max2<j>,
// __total<j>, __neg<j>.

const l1 = "__l1"

// StatsColumns says where Stats finds the person statistics in the rewritten
// query's result.
type StatsColumns struct {
	Visible int // the analyst's columns are the first Visible columns
	Persons int // __persons: distinct persons of the row
	Set     int // __set: GROUPING() of the analyst's group expressions
	// SetIndex maps a __set value to an index into Plan.GroupingSets; nil when
	// the query has a single grouping set.
	SetIndex map[int64]int
	// Cells has one entry per analyst column; Persons < 0 for dimensions.
	Cells []CellColumns
}

// CellColumns are the result columns holding one measure's cell statistics;
// -1 where the measure has none.
type CellColumns struct {
	Persons, Max1, Max2, Total, AnyNegative int
}

func keyOf(c node) string { s, _ := c[annKey].(string); return s }

func strip(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k := range v {
			if strings.HasPrefix(k, "__sde") {
				delete(v, k)
			}
		}
		for _, x := range v {
			strip(x)
		}
	case []any:
		for _, x := range v {
			strip(x)
		}
	}
	return v
}

// qualified returns a copy of e with every column reference replaced by its
// table-qualified key, for stable keys and fingerprints.
func qualified(e node) node {
	c := cloneNode(e)
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			if str(v, "class") == "COLUMN_REF" {
				if k, ok := v[annKey].(string); ok && k != "" {
					parts := strings.SplitN(k, ".", 2)
					return colRef(parts...)
				}
			}
			for k, x := range v {
				v[k] = walk(x)
			}
			return v
		case []any:
			for i, x := range v {
				v[i] = walk(x)
			}
			return v
		}
		return v
	}
	return strip(walk(c)).(map[string]any)
}

func (a *Analyser) build(ctx context.Context, an *analysis, q *outerQuery) (*Query, error) {
	internal := func(err error) error {
		return sde.Wrap(err, sde.EINTERNAL, "The query could not be rewritten.")
	}
	out := &Query{}
	names := make([]string, len(q.items))
	// When every measure has the same FILTER, it is the query's population, not
	// part of what is measured: its conjuncts join the WHERE conjuncts in the
	// fingerprint and the measure keys leave it out, so COUNT(*) FILTER (WHERE a)
	// and COUNT(*) FILTER (WHERE a AND b) are found to differ by one conjunct.
	var shared node
	sameFilter := false
	for _, it := range q.items {
		if it.m == nil {
			continue
		}
		if it.m.filter == nil || shared != nil && canon(shared, keyOf) != canon(it.m.filter, keyOf) {
			sameFilter, shared = false, nil
			break
		}
		shared, sameFilter = it.m.filter, true
	}
	filters := slices.Clone(an.filters)
	if sameFilter {
		filters = append(filters, conjuncts(shared)...)
	}
	// Every expression printed by DuckDB, in one round trip: default column
	// names, column keys, filter conjuncts.
	var batch []node
	nameAt, keyAt := make([]int, len(q.items)), make([]int, len(q.items))
	for i, it := range q.items {
		nameAt[i] = -1
		if it.alias == "" && str(it.expr, "class") != "COLUMN_REF" {
			nameAt[i] = len(batch)
			batch = append(batch, strip(cloneNode(it.expr)).(map[string]any))
		}
		keyAt[i] = len(batch)
		if it.dim >= 0 {
			batch = append(batch, qualified(q.groups[it.dim]))
		} else {
			e := qualified(it.expr)
			if sameFilter {
				e["filter"] = nil
			}
			batch = append(batch, e)
		}
	}
	filterAt := len(batch)
	for _, f := range filters {
		batch = append(batch, qualified(f))
	}
	texts, err := a.exprSQLs(ctx, batch)
	if err != nil {
		return nil, internal(err)
	}
	seen := map[string]bool{}
	for i, it := range q.items {
		name := it.alias
		if name == "" {
			if nameAt[i] >= 0 {
				name = texts[nameAt[i]]
			} else {
				cn := strings_(it.expr, "column_names")
				name = cn[len(cn)-1]
			}
		}
		if seen[strings.ToLower(name)] {
			return nil, refusef("Two output columns are both called %s; give them distinct aliases (AS ...).", quoteName(name))
		}
		seen[strings.ToLower(name)] = true
		names[i] = name
	}
	// Plan and keys.
	keys := make([]string, len(q.items))
	dimCol := make([]int, len(q.groups)) // group index → output column
	for i, it := range q.items {
		k := texts[keyAt[i]]
		if it.dim >= 0 {
			dimCol[it.dim] = i
		}
		keys[i] = k
		cp := disclosure.ColumnPlan{Name: names[i], Key: k}
		oc := OutputColumn{Name: names[i]}
		if it.dim >= 0 {
			cp.Kind, oc.Kind = disclosure.Dimension, disclosure.Dimension
			oc.Type, _ = q.groups[it.dim][annType].(string)
		} else {
			cp.Kind, oc.Kind = disclosure.Measure, disclosure.Measure
			cp.Aggregate, oc.Aggregate = it.m.kind, it.m.kind
			if it.m.kind == disclosure.Sum || it.m.kind == disclosure.Avg {
				cp.Contribution = disclosure.PerPersonSum
			}
			switch it.m.kind {
			case disclosure.Count, disclosure.CountDistinct:
				oc.Type = "BIGINT"
			case disclosure.Avg, disclosure.Stddev, disclosure.Variance:
				oc.Type = "DOUBLE"
			}
		}
		out.Plan.Columns = append(out.Plan.Columns, cp)
		out.Columns = append(out.Columns, oc)
	}
	setIndex := map[int64]int{}
	if q.multi {
		n := len(q.groups)
		for si, set := range q.sets {
			var cols []int
			var id int64
			for g := 0; g < n; g++ {
				if slices.Contains(set, g) {
					cols = append(cols, dimCol[g])
				} else {
					id |= 1 << (n - 1 - g)
				}
			}
			slices.Sort(cols)
			if cols == nil {
				cols = []int{}
			}
			out.Plan.GroupingSets = append(out.Plan.GroupingSets, cols)
			setIndex[id] = si
		}
	}
	// Fingerprint.
	fp := disclosure.Fingerprint{Sources: []string{}, Grouping: []string{}, Filters: []string{}}
	for s := range an.sources {
		fp.Sources = append(fp.Sources, s)
	}
	for i, it := range q.items {
		if it.dim >= 0 {
			fp.Grouping = append(fp.Grouping, keys[i])
		} else {
			fp.Measures = append(fp.Measures, keys[i])
		}
	}
	if q.multi {
		var sets []string
		for _, set := range q.sets {
			var ks []string
			for _, g := range set {
				ks = append(ks, keys[dimCol[g]])
			}
			slices.Sort(ks)
			sets = append(sets, "("+strings.Join(ks, ",")+")")
		}
		slices.Sort(sets)
		fp.Grouping = append(fp.Grouping, "sets:"+strings.Join(sets, ","))
	}
	fp.Filters = append(fp.Filters, texts[filterAt:]...)
	out.Fingerprint = fp.Normalize()

	// Rewrite.
	stmt, sc, err := rewrite(q, names, setIndex, !a.twoLevel)
	if err != nil {
		return nil, err
	}
	out.StatsColumns = sc
	if !q.multi {
		out.StatsColumns.SetIndex = nil
	}
	sqlText, err := a.deserialize(ctx, stmt)
	if err != nil {
		return nil, internal(err)
	}
	out.Rewritten = sqlText
	return out, nil
}

func rewrite(q *outerQuery, names []string, setIndex map[int64]int, oneLevel bool) (node, StatsColumns, error) {
	if oneLevel {
		if mode := levels(q); mode != twoLevels {
			return rewriteOneLevel(q, names, setIndex, mode)
		}
	}
	b := q.sc.bindings[q.sc.unitB]
	unit := colRef(b.name, b.rel.cols[q.sc.unitC].name)
	ref := func(name string) node { return colRef(l1, name) }

	// Level 1.
	lv1 := selectNode()
	lv1["from_table"] = cloneNode(obj(q.root, "from_table"))
	if w := obj(q.root, "where_clause"); w != nil {
		lv1["where_clause"] = cloneNode(w)
	}
	var sel1 []any
	var groups1 []any
	for i, g := range q.groups {
		sel1 = append(sel1, as(cloneNode(g), fmt.Sprintf("__k%d", i)))
		groups1 = append(groups1, cloneNode(g))
	}
	sel1 = append(sel1, as(cloneNode(unit), "__pid"))
	groups1 = append(groups1, cloneNode(unit))
	if q.multi {
		sel1 = append(sel1, as(groupingFn(q.groups), "__set"))
	}
	sets1 := groupingSets(q, len(q.groups))
	// Per-person partials, shared between measures that need the same one
	// (SUM(x) and AVG(x) both use sum(x)).
	partials := map[string]string{}
	partial := func(e node, prefix string, j int) string {
		k := canon(e, nil)
		if name, ok := partials[k]; ok {
			return name
		}
		name := fmt.Sprintf("%s%d", prefix, j)
		sel1 = append(sel1, as(e, name))
		partials[k] = name
		return name
	}
	cName, vName, lName := map[int]string{}, map[int]string{}, map[int]string{}
	for j, it := range q.items {
		m := it.m
		if m == nil {
			continue
		}
		arg := func() node { return cloneNode(m.arg) }
		if m.kind != disclosure.Sum {
			var cnt node
			if m.arg == nil {
				cnt = fn("count_star")
			} else {
				cnt = fn("count", arg())
			}
			cName[j] = partial(withFilter(cnt, m.filter), "__c", j)
		}
		switch {
		case m.kind == disclosure.Count || m.personArg:
		case m.kind == disclosure.CountDistinct:
			l := fn("list", arg())
			l["distinct"] = true
			lName[j] = partial(withFilter(l, m.filter), "__l", j)
		case m.kind == disclosure.Sum || m.kind == disclosure.Avg:
			vName[j] = partial(withFilter(fn("sum", arg()), m.filter), "__v", j)
		case m.kind == disclosure.Min || m.kind == disclosure.Max:
			vName[j] = partial(withFilter(fn(m.fn, arg()), m.filter), "__v", j)
		default:
			lName[j] = partial(withFilter(fn("list", arg()), m.filter), "__l", j)
		}
	}
	lv1["select_list"] = sel1
	lv1["group_expressions"] = groups1
	lv1["group_sets"] = sets1

	// Level 2.
	lv2 := selectNode()
	lv2["cte_map"] = cloneNode(obj(q.root, "cte_map"))
	lv2["from_table"] = subqueryRef(lv1, l1)
	var sel2 []any
	for j, it := range q.items {
		var e node
		if it.m == nil {
			e = ref(fmt.Sprintf("__k%d", it.dim))
		} else {
			c, v, l := ref(cName[j]), ref(vName[j]), ref(lName[j])
			m := it.m
			switch {
			case m.kind == disclosure.Count && m.hugeint:
				e = cast(coalesce(fn("sum", c), constInt(0)), "HUGEINT")
			case m.kind == disclosure.Count:
				e = cast(coalesce(fn("sum", c), constInt(0)), "BIGINT")
			case m.personArg:
				e = withFilter(fn("count_star"), compare("COMPARE_GREATERTHAN", c, constInt(0)))
			case m.kind == disclosure.CountDistinct:
				e = cast(coalesce(fn("len", fn("list_distinct", fn("flatten", fn("list", l)))), constInt(0)), "BIGINT")
			case m.kind == disclosure.Sum:
				e = fn("sum", v)
			case m.kind == disclosure.Avg:
				e = operator("/", fn("sum", v), fn("sum", c))
			case m.kind == disclosure.Min || m.kind == disclosure.Max:
				e = fn(m.fn, v)
			default:
				args := []node{fn("flatten", fn("list", l)), constString(m.fn)}
				for _, p := range m.params {
					args = append(args, cloneNode(p))
				}
				e = fn("list_aggregate", args...)
			}
		}
		if it.m != nil && it.m.rounded {
			e = fn("round", append([]node{e}, it.m.round...)...)
		}
		sel2 = append(sel2, as(e, names[j]))
	}
	sc := StatsColumns{Visible: len(q.items), SetIndex: setIndex}
	col := len(sel2)
	next := func(e node, name string) int {
		sel2 = append(sel2, as(e, name))
		col++
		return col - 1
	}
	// One level-1 row per (cell, person): count rows, not non-null ids, so all of a cell's
	// unlinked records (NULL person, e.g. social care without an NHS number) count as one
	// person. That under-counts people (more suppression, never less) and makes them one
	// contributor for dominance, and keeps row and cell persons consistent.
	sc.Persons = next(fn("count_star"), "__persons")
	if q.multi {
		sc.Set = next(cast(ref("__set"), "BIGINT"), "__set")
	} else {
		sc.Set = next(cast(constInt(0), "BIGINT"), "__set")
	}
	for j, it := range q.items {
		cc := CellColumns{Persons: -1, Max1: -1, Max2: -1, Total: -1, AnyNegative: -1}
		if m := it.m; m != nil {
			c, v := ref(cName[j]), ref(vName[j])
			if m.kind == disclosure.Sum || m.kind == disclosure.Avg {
				// A person contributes when their value is not zero: a SUM of a
				// 0/1 indicator is a count of the persons with a 1.
				cc.Persons = next(withFilter(fn("count_star"), compare("COMPARE_NOTEQUAL", v, constInt(0))), fmt.Sprintf("__p%d", j))
				cc.Max1 = next(cast(fn("max", v), "DOUBLE"), fmt.Sprintf("__max1_%d", j))
				cc.Max2 = next(cast(fn("list_extract", fn("max", v, constInt(2)), constInt(2)), "DOUBLE"), fmt.Sprintf("__max2_%d", j))
				cc.Total = next(cast(fn("sum", v), "DOUBLE"), fmt.Sprintf("__total%d", j))
				cc.AnyNegative = next(fn("bool_or", compare("COMPARE_LESSTHAN", cloneNode(v), constInt(0))), fmt.Sprintf("__neg%d", j))
			} else {
				cc.Persons = next(withFilter(fn("count_star"), compare("COMPARE_GREATERTHAN", c, constInt(0))), fmt.Sprintf("__p%d", j))
			}
		}
		sc.Cells = append(sc.Cells, cc)
	}
	lv2["select_list"] = sel2
	if len(q.groups) > 0 {
		var g2, set2 []any
		for i := range q.groups {
			g2 = append(g2, ref(fmt.Sprintf("__k%d", i)))
			set2 = append(set2, json0(i))
		}
		if q.multi {
			g2 = append(g2, ref("__set"))
			set2 = append(set2, json0(len(q.groups)))
		}
		lv2["group_expressions"] = g2
		lv2["group_sets"] = []any{set2}
	}
	orderBy(lv2, q)
	stmt := node{"node": guard(strip(bound(lv2))), "named_param_map": []any{}}
	return stmt, sc, nil
}

// How a query is rewritten: the general two levels, or one of two one-level forms
// that give the same columns and values where they are provably the same.
type levelMode int

const (
	twoLevels levelMode = iota
	// onePerPersonRows: the query reads one table with one row per person, and its
	// measures are counts, sums and means: each row already is one person's part
	// of its cell, so level 1 would only copy rows.
	onePerPersonRows
	// personCounts: every measure is COUNT(*) or COUNT(DISTINCT person_id), whose
	// per-person parts only say whether the person is in the cell: distinct counts
	// of the person column give the cell statistics directly.
	personCounts
)

func levels(q *outerQuery) levelMode {
	b := q.sc.bindings[q.sc.unitB]
	if len(q.sc.bindings) == 1 && q.sc.unitB == 0 && b.rel.onePerPerson && str(obj(q.root, "from_table"), "type") == "BASE_TABLE" {
		ok := true
		for _, it := range q.items {
			if m := it.m; m != nil && !m.personArg && m.kind != disclosure.Count && m.kind != disclosure.Sum && m.kind != disclosure.Avg {
				ok = false
			}
		}
		if ok {
			return onePerPersonRows
		}
	}
	// The unlinked rows of a cell count as one person (see rewrite); a distinct
	// count does that over the person column with NULL replaced by '', which no
	// pseudonym is (crypto.ValidPseudonym; were one '', it would merge with the
	// unlinked rows: fewer persons, more suppression), so the column must be text.
	if !strings.EqualFold(b.rel.cols[q.sc.unitC].typ, "VARCHAR") {
		return twoLevels
	}
	// COUNT(DISTINCT x) of a person column counts the row persons only when x is
	// the rows' person column itself (a LEFT JOIN's other side would differ).
	unitKey := b.rel.cols[q.sc.unitC].key
	for _, it := range q.items {
		m := it.m
		switch {
		case m == nil, m.kind == disclosure.Count && m.arg == nil:
		case m.personArg && unitKey != "" && keyOf(m.arg) == unitKey:
		default:
			return twoLevels
		}
	}
	return personCounts
}

// rewriteOneLevel is rewrite without the per-person level, in one of the modes
// levels chose: the analyst's FROM, WHERE and grouping sets with level 2's output
// and statistics columns computed over the rows directly.
func rewriteOneLevel(q *outerQuery, names []string, setIndex map[int64]int, mode levelMode) (node, StatsColumns, error) {
	b := q.sc.bindings[q.sc.unitB]
	unit := colRef(b.name, b.rel.cols[q.sc.unitC].name)
	out := selectNode()
	out["cte_map"] = cloneNode(obj(q.root, "cte_map"))
	out["from_table"] = cloneNode(obj(q.root, "from_table"))
	if w := obj(q.root, "where_clause"); w != nil {
		out["where_clause"] = cloneNode(w)
	}
	distinct := func(e node) node {
		n := fn("count", e)
		n["distinct"] = true
		return n
	}
	// persons counts the cell's persons among rows passing filter, unlinked rows as one.
	// When the rows' person comes from a table whose rows all have one, there are no
	// unlinked rows, and the count is the same expression as COUNT(DISTINCT person_id),
	// which DuckDB then computes once.
	persons := func(filter node) node {
		switch {
		case mode == onePerPersonRows:
			return withFilter(fn("count_star"), filter)
		case b.rel.linked:
			return withFilter(distinct(cloneNode(unit)), filter)
		}
		return withFilter(distinct(coalesce(cloneNode(unit), constString(""))), filter)
	}
	// counted is the analyst's COUNT over the rows: COUNT(DISTINCT person_id) counts
	// linked persons only, as level 2 does.
	counted := func(m *measure) node {
		switch {
		case m.personArg && mode == personCounts:
			return withFilter(distinct(cloneNode(m.arg)), m.filter)
		case m.arg == nil:
			return withFilter(fn("count_star"), m.filter)
		}
		return withFilter(fn("count", cloneNode(m.arg)), m.filter)
	}
	sum := func(m *measure) node { return withFilter(fn("sum", cloneNode(m.arg)), m.filter) }
	var sel []any
	for j, it := range q.items {
		var e node
		switch m := it.m; {
		case m == nil:
			e = cloneNode(q.groups[it.dim])
		case m.personArg:
			e = counted(m)
		case m.kind == disclosure.Count && m.hugeint:
			e = cast(counted(m), "HUGEINT")
		case m.kind == disclosure.Count:
			e = cast(counted(m), "BIGINT")
		case m.kind == disclosure.Sum:
			e = sum(m)
		default: // AVG: total over rows counted, as level 2 recombines it
			e = operator("/", sum(m), counted(m))
		}
		if it.m != nil && it.m.rounded {
			e = fn("round", append([]node{e}, it.m.round...)...)
		}
		sel = append(sel, as(e, names[j]))
	}
	sc := StatsColumns{Visible: len(q.items), SetIndex: setIndex}
	next := func(e node, name string) int {
		sel = append(sel, as(e, name))
		return len(sel) - 1
	}
	sc.Persons = next(persons(nil), "__persons")
	if q.multi {
		sc.Set = next(cast(groupingFn(q.groups), "BIGINT"), "__set")
	} else {
		sc.Set = next(cast(constInt(0), "BIGINT"), "__set")
	}
	for j, it := range q.items {
		cc := CellColumns{Persons: -1, Max1: -1, Max2: -1, Total: -1, AnyNegative: -1}
		switch m := it.m; {
		case m == nil:
		case m.kind == disclosure.Sum || m.kind == disclosure.Avg: // onePerPersonRows only
			// Persons whose value is not zero: NULLIF turns zeros into NULLs COUNT skips.
			cc.Persons = next(withFilter(fn("count", fn("nullif", cloneNode(m.arg), constInt(0))), m.filter), fmt.Sprintf("__p%d", j))
			cc.Max1 = next(cast(withFilter(fn("max", cloneNode(m.arg)), m.filter), "DOUBLE"), fmt.Sprintf("__max1_%d", j))
			cc.Max2 = next(cast(fn("list_extract", withFilter(fn("max", cloneNode(m.arg), constInt(2)), m.filter), constInt(2)), "DOUBLE"), fmt.Sprintf("__max2_%d", j))
			cc.Total = next(cast(sum(m), "DOUBLE"), fmt.Sprintf("__total%d", j))
			cc.AnyNegative = next(withFilter(fn("bool_or", compare("COMPARE_LESSTHAN", cloneNode(m.arg), constInt(0))), m.filter), fmt.Sprintf("__neg%d", j))
		case m.personArg || mode == onePerPersonRows:
			cc.Persons = next(counted(m), fmt.Sprintf("__p%d", j))
		default: // COUNT(*): the persons with a row in the cell that passes its filter
			cc.Persons = next(persons(m.filter), fmt.Sprintf("__p%d", j))
		}
		sc.Cells = append(sc.Cells, cc)
	}
	out["select_list"] = sel
	if len(q.groups) > 0 {
		// No rows, no cells: DuckDB still answers the empty grouping set () of ROLLUP or CUBE
		// with a total over nothing, where the two-level form (which also groups by person)
		// has no row. (Without GROUP BY both answer one row over nothing.) Only an empty set
		// needs the filter: it cost the prevalence benchmark 1-1.5 ms of 27 at 1M rows.
		if slices.ContainsFunc(q.sets, func(set []int) bool { return len(set) == 0 }) {
			out["having"] = compare("COMPARE_GREATERTHAN", fn("count_star"), constInt(0))
		}
		var groups []any
		for _, g := range q.groups {
			groups = append(groups, cloneNode(g))
		}
		out["group_expressions"] = groups
		out["group_sets"] = groupingSets(q, -1)
	}
	orderBy(out, q)
	return node{"node": guard(strip(bound(out))), "named_param_map": []any{}}, sc, nil
}

// groupingSets is the analyst's grouping sets as AST group_sets (indices into the group
// expressions), each with the person's expression at index pid added when pid >= 0 (level 1
// groups by person too; with no GROUP BY, by the person alone).
func groupingSets(q *outerQuery, pid int) []any {
	var sets []any
	if pid >= 0 && len(q.groups) == 0 {
		sets = []any{[]any{json0(pid)}}
	}
	for _, set := range q.sets {
		s := []any{}
		for _, g := range set {
			s = append(s, json0(g))
		}
		if pid >= 0 {
			s = append(s, json0(pid))
		}
		sets = append(sets, s)
	}
	return sets
}

// orderBy gives sel the analyst's ORDER BY (by output position).
func orderBy(sel node, q *outerQuery) {
	if len(q.orders) > 0 {
		sel["modifiers"] = []any{node{"type": "ORDER_MODIFIER", "orders": anyList(q.orders)}}
	}
}

func coalesce(children ...node) node {
	return node{"class": "OPERATOR", "type": "OPERATOR_COALESCE", "alias": "", "query_location": invalidLocation, "children": anyList(children)}
}

func json0(i int) any { return json.Number(fmt.Sprint(i)) }
