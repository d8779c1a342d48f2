package analyse

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opensde/sde/disclosure"
)

// measure is one aggregate output column.
type measure struct {
	kind      disclosure.Aggregate
	fn        string // lower-case function name
	arg       node   // nil for COUNT(*)
	params    []node // quantile fraction
	filter    node
	personArg bool   // COUNT(DISTINCT person_id): the persons themselves
	round     []node // ROUND(<aggregate>[, digits]): the digits, or empty for ROUND(x)
	rounded   bool
	hugeint   bool // COUNT_IF returns HUGEINT
}

type item struct {
	expr  node
	alias string
	dim   int // index into groups; -1 for measures
	m     *measure
}

type outerQuery struct {
	root   node
	env    *env
	sc     *scope
	groups []node
	sets   [][]int // grouping sets as indices into groups; one set for plain GROUP BY
	multi  bool    // ROLLUP, CUBE or GROUPING SETS with more than one set
	items  []item
	orders []node // ORDER BY entries, expression replaced by output position
}

const maxGroupingSets = 64

const personHint = "Outputs must be aggregates over groups of persons: remove person_id (and anything computed from it) from the SELECT list and GROUP BY, and count persons with COUNT(DISTINCT person_id) instead."

func (an *analysis) outer(root node) (*outerQuery, error) {
	switch str(root, "type") {
	case "SELECT_NODE":
	case "SET_OPERATION_NODE":
		return nil, refusef("UNION, EXCEPT and INTERSECT are only supported inside a subquery or CTE that returns person_id; aggregate over that in the outer query.")
	default:
		return nil, refusef("Recursive CTEs are not supported.")
	}
	q := &outerQuery{root: root}
	for _, m := range nodes(root, "modifiers") {
		switch str(m, "type") {
		case "ORDER_MODIFIER":
		case "DISTINCT_MODIFIER":
			return nil, refusef("SELECT DISTINCT returns rows, not aggregates; use GROUP BY with COUNT(DISTINCT person_id).")
		default:
			return nil, refusef("LIMIT and OFFSET are not supported: results are already capped, and cutting rows off would break the checks on totals. Use WHERE to narrow the result.")
		}
	}
	if !isNull(root, "having") {
		return nil, refusef("HAVING is not supported yet; filter rows with WHERE, and small groups are suppressed for you.")
	}
	if !isNull(root, "qualify") {
		return nil, refusef("QUALIFY is not supported (it filters on window functions).")
	}
	if err := sampleOrGroupByAll(root); err != nil {
		return nil, err
	}
	e, err := an.ctes(root, nil)
	if err != nil {
		return nil, err
	}
	q.env = e
	an.scopes++
	sc := &scope{id: an.scopes, using: map[string]int{}}
	if err := an.from(obj(root, "from_table"), e, sc); err != nil {
		return nil, err
	}
	setUnit(sc)
	if _, _, err := fanOut(sc); err != nil {
		return nil, err
	}
	q.sc = sc
	if sc.unitB < 0 {
		return nil, refusef("The query must read at least one person-level table (one with person_id); results are controlled by counting persons.")
	}
	if w := obj(root, "where_clause"); w != nil {
		wi, err := an.expr(w, ectx{sc: sc, env: e, sub: true, clause: "WHERE"})
		if err != nil {
			return nil, err
		}
		if wi.aggs > 0 {
			return nil, refusef("Aggregate functions are not allowed in WHERE.")
		}
		if err := condition(w); err != nil {
			return nil, err
		}
		an.filters = append(an.filters, conjuncts(w)...)
		if _, _, err := fanOut(sc); err != nil { // with the IN subqueries' tables
			return nil, err
		}
	}
	sel := nodes(root, "select_list")
	// GROUP BY
	ids := func(n node) string { return canon(n, func(c node) string { s, _ := c[annID].(string); return s }) }
	var gids []string
	for _, g := range nodes(root, "group_expressions") {
		g, err := an.groupExpr(g, sel, sc)
		if err != nil {
			return nil, err
		}
		gi, err := an.expr(g, ectx{sc: sc, env: e, clause: "GROUP BY"})
		if err != nil {
			return nil, err
		}
		if gi.person || gi.tainted {
			return nil, refusef("Grouping by person_id (or anything computed from it) would return one row per person. %s", personHint)
		}
		if containsSubquery(g) {
			return nil, refusef("Subqueries are not allowed in GROUP BY.")
		}
		if !containsColumn(g) {
			return nil, refusef("GROUP BY a constant is not meaningful (and would echo text into the result); group by columns or expressions over them.")
		}
		id := ids(g)
		if slices.Contains(gids, id) {
			return nil, refusef("The same GROUP BY expression appears twice.")
		}
		gids = append(gids, id)
		q.groups = append(q.groups, g)
	}
	seen := map[string]bool{}
	for _, s := range list(root, "group_sets") {
		var set []int
		for _, x := range s.([]any) {
			var i int
			fmt.Sscan(fmt.Sprint(x), &i)
			set = append(set, i)
		}
		slices.Sort(set)
		k := fmt.Sprint(set)
		if seen[k] {
			return nil, refusef("A grouping set appears twice; list each grouping set once.")
		}
		seen[k] = true
		q.sets = append(q.sets, set)
	}
	if len(q.groups) == 0 {
		q.sets = nil
	}
	if len(q.sets) > maxGroupingSets {
		return nil, refusef("The query has %d grouping sets; at most %d are supported.", len(q.sets), maxGroupingSets)
	}
	q.multi = len(q.sets) > 1
	// SELECT list
	infos := make([]einfo, len(sel))
	for i, s := range sel {
		if str(s, "class") == "STAR" {
			continue
		}
		si, err := an.expr(s, ectx{sc: sc, env: e, agg: true, outer: true, clause: "the SELECT list"})
		if err != nil {
			return nil, err
		}
		infos[i] = si
	}
	for i, s := range sel {
		if str(s, "class") == "STAR" {
			return nil, refusef("SELECT * returns rows, not aggregates. List the grouping columns and aggregates, e.g. SELECT region, COUNT(*) FROM ... GROUP BY region.")
		}
		alias := str(s, "alias")
		if err := checkAlias(alias); err != nil {
			return nil, err
		}
		si := infos[i]
		if containsSubquery(s) {
			return nil, refusef("Subqueries are not allowed in the SELECT list.")
		}
		it := item{expr: s, alias: alias, dim: -1}
		if si.aggs > 0 {
			m, err := an.measureOf(s, si)
			if err != nil {
				return nil, err
			}
			it.m = m
		} else {
			it.dim = slices.Index(gids, ids(s))
			if it.dim < 0 {
				if si.person || si.tainted {
					return nil, refusef("person_id cannot be output. %s", personHint)
				}
				if str(s, "class") == "CONSTANT" || !containsColumn(s) {
					return nil, refusef("Constant columns are not allowed in the output; the result holds only grouping columns and aggregates.")
				}
				if len(q.groups) == 0 {
					return nil, refusef("The query returns rows, not aggregates. Aggregate (COUNT(*), COUNT(DISTINCT person_id), SUM, AVG, ...) and GROUP BY the other columns.")
				}
				return nil, refusef("Every column in the SELECT list must be in GROUP BY (exactly as written there) or be an aggregate.")
			}
		}
		q.items = append(q.items, it)
	}
	used := make([]int, len(q.groups))
	for _, it := range q.items {
		if it.dim >= 0 {
			used[it.dim]++
		}
	}
	for i, n := range used {
		if n == 0 {
			return nil, refusef("Every GROUP BY expression must also be in the SELECT list, so each row says which group it is (GROUP BY expression %d is missing).", i+1)
		}
		if n > 1 {
			return nil, refusef("A GROUP BY expression appears more than once in the SELECT list.")
		}
	}
	// ORDER BY: only output columns, by name, position or the same expression.
	for _, m := range nodes(root, "modifiers") {
		if str(m, "type") != "ORDER_MODIFIER" {
			continue
		}
		for _, o := range nodes(m, "orders") {
			pos, err := an.orderTarget(obj(o, "expression"), q, ids)
			if err != nil {
				return nil, err
			}
			if q.items[pos].m != nil {
				// The order of rows is computed from true values, before
				// suppression: sorting by a measure would rank suppressed cells.
				return nil, refusef("ORDER BY may only use grouping columns: sorting by a measure would reveal the order of suppressed values. Sort the released result instead.")
			}
			oc := cloneNode(o)
			oc["expression"] = constInt(int64(pos + 1))
			q.orders = append(q.orders, oc)
		}
	}
	return q, nil
}

func (an *analysis) orderTarget(e node, q *outerQuery, ids func(node) string) (int, error) {
	const how = "ORDER BY may only name output columns (by alias, position or the same expression)."
	switch str(e, "class") {
	case "CONSTANT":
		var pos int
		if _, err := fmt.Sscan(fmt.Sprint(obj(e, "value")["value"]), &pos); err != nil || pos < 1 || pos > len(q.items) {
			return 0, refusef("%s", how)
		}
		return pos - 1, nil
	case "COLUMN_REF":
		names := lower(strings_(e, "column_names"))
		if len(names) == 1 {
			for i, it := range q.items {
				if strings.ToLower(it.alias) == names[0] {
					return i, nil
				}
			}
		}
	}
	if containsSubquery(e) {
		return 0, refusef("%s", how)
	}
	c := cloneNode(e)
	if _, err := an.expr(c, ectx{sc: q.sc, env: q.env, agg: true, outer: true, clause: "ORDER BY"}); err != nil {
		return 0, refusef("%s", how)
	}
	for i, it := range q.items {
		if ids(it.expr) == ids(c) {
			return i, nil
		}
	}
	return 0, refusef("%s", how)
}

// measureOf classifies an output column that aggregates. Only a bare aggregate
// call is a measure: an expression over aggregates (a ratio, a scaled count)
// would be released with the wrong rules — scaling a count defeats rounding.
func (an *analysis) measureOf(s node, si einfo) (*measure, error) {
	// ROUND(AVG(x), 1) and the like: rounding a mean or an order statistic only
	// makes it less precise. (Not SUM or COUNT: the engine checks a SUM against its
	// contributions and rounds counts itself.)
	if str(s, "class") == "FUNCTION" && strings.ToLower(str(s, "function_name")) == "round" && str(s, "schema") == "" {
		args := nodes(s, "children")
		if len(args) >= 1 && len(args) <= 2 && isAggregate(args[0]) {
			switch aggKinds[strings.ToLower(str(args[0], "function_name"))] {
			case "avg", "median", "quantile", "stddev", "variance":
			default:
				return nil, refusef("Only averages, medians, quantiles and spreads may be wrapped in ROUND(); counts are rounded by the disclosure rules and sums must stay exact.")
			}
			if len(args) == 2 && (str(args[1], "class") != "CONSTANT" || !slices.Contains([]string{"INTEGER", "BIGINT"}, str(obj(obj(args[1], "value"), "type"), "id"))) {
				return nil, refusef("ROUND() takes a constant number of digits.")
			}
			m, err := an.measureOf(args[0], si)
			if err != nil {
				return nil, err
			}
			m.rounded, m.round = true, args[1:]
			return m, nil
		}
	}
	if !isAggregate(s) {
		return nil, refusef("Each output column must be a single aggregate (COUNT, SUM, AVG, ...) or a grouping column; compute ratios and other expressions of aggregates from the released values.")
	}
	name := strings.ToLower(str(s, "function_name"))
	args := nodes(s, "children")
	m := &measure{fn: name, filter: obj(s, "filter")}
	kind := aggKinds[name]
	switch kind {
	case "count":
		if name == "count_if" {
			// COUNT_IF(c) is COUNT(*) FILTER (WHERE c).
			if len(args) != 1 || boolean(s, "distinct") {
				return nil, refusef("COUNT_IF takes one condition.")
			}
			m.fn, m.kind, m.hugeint = "count_star", disclosure.Count, true
			m.filter = args[0]
			if f := obj(s, "filter"); f != nil {
				m.filter = node{"class": "CONJUNCTION", "type": "CONJUNCTION_AND", "alias": "", "query_location": invalidLocation, "children": []any{args[0], f}}
			}
			return m, nil
		}
		if name == "count_star" {
			if len(args) != 0 {
				return nil, refusef("COUNT(*) takes no arguments.")
			}
			m.kind = disclosure.Count
			break
		}
		if len(args) != 1 {
			return nil, refusef("COUNT takes one argument.")
		}
		m.arg = args[0]
		m.kind = disclosure.Count
		if boolean(s, "distinct") {
			m.kind = disclosure.CountDistinct
		}
		if str(args[0], "class") == "COLUMN_REF" {
			ai, _ := an.exprInfoOfRef(args[0])
			m.personArg = ai
		}
		if !m.personArg && si.tainted {
			return nil, refusef("person_id may only be counted (COUNT(DISTINCT person_id)), not combined with other values. %s", personHint)
		}
		if !m.personArg {
			if err := baseArg(m.arg); err != nil {
				return nil, err
			}
		}
		if m.personArg && m.kind == disclosure.Count {
			// COUNT(person_id) counts rows with a person; keep it a row count.
			m.personArg = false
		}
		return m, nil
	case "quantile":
		if len(args) != 2 || str(args[1], "class") != "CONSTANT" || !slices.Contains([]string{"DECIMAL", "DOUBLE", "FLOAT", "INTEGER", "BIGINT"}, str(obj(obj(args[1], "value"), "type"), "id")) {
			return nil, refusef("Quantiles take a column and one constant fraction, e.g. quantile_cont(x, 0.9).")
		}
		m.arg, m.params = args[0], args[1:]
	default:
		if len(args) != 1 {
			return nil, refusef("%s takes one argument.", strings.ToUpper(name))
		}
		m.arg = args[0]
	}
	if si.tainted {
		return nil, refusef("person_id may only be counted (COUNT(DISTINCT person_id)). %s", personHint)
	}
	if err := baseArg(m.arg); err != nil {
		return nil, err
	}
	switch kind {
	case "count":
		m.kind = disclosure.Count
	case "sum":
		m.kind = disclosure.Sum
	case "avg":
		m.kind = disclosure.Avg
	case "min":
		m.kind = disclosure.Min
	case "max":
		m.kind = disclosure.Max
	case "median":
		m.kind = disclosure.Median
	case "quantile":
		m.kind = disclosure.Quantile
	case "stddev":
		m.kind = disclosure.Stddev
	case "variance":
		m.kind = disclosure.Variance
	}
	return m, nil
}

// baseArg refuses an aggregate argument that is not a table column's values, unchanged. An
// expression (CASE WHEN <one person> THEN 1.000001 ELSE 1 END, x * 1e-9, a constant) lets every
// person contribute while one person's value rides in the low digits of an exact SUM, or in
// COUNT(DISTINCT ...) as one extra value; security review F2. Conditions belong in FILTER, where
// the persons behind each measure are counted.
func baseArg(arg node) error {
	if arg == nil {
		return nil
	}
	if str(arg, "class") != "COLUMN_REF" || arg[annBase] != true {
		return refusef("Aggregates take a table column as it is: write SUM(cost), not SUM(CASE ... END) or SUM(cost * 2), and put conditions in FILTER (WHERE ...), e.g. count(*) FILTER (WHERE condition = 'diabetes'); use count(*) to count rows.")
	}
	return nil
}

// exprInfoOfRef reports whether an annotated column reference is a person column.
func (an *analysis) exprInfoOfRef(ref node) (bool, error) {
	return ref[annPerson] == true, nil
}

func containsSubquery(n any) bool {
	return anyNode(n, func(v node) bool { return str(v, "class") == "SUBQUERY" }, nil)
}

func containsColumn(n any) bool {
	return anyNode(n, func(v node) bool { return str(v, "class") == "COLUMN_REF" }, nil)
}
