package analyse

import (
	"fmt"
	"slices"
	"strings"
)

// The analysis keeps one invariant through every FROM clause, CTE and
// subquery: each row belongs to exactly one person, and every column marked
// person holds that person's base-table identifier unchanged (or NULL, on the
// outer side of a LEFT JOIN). Only then is COUNT(DISTINCT person) per group the
// true number of persons behind a cell: a computed person_id, a join on anything
// but person_id, or an aggregate that mixes persons would let an analyst forge it.

// Annotations put on the analyst's COLUMN_REF nodes; stripped before the AST goes
// back to DuckDB.
const (
	annID     = "__sde_id"     // identity of the resolved column within its query (binding-qualified)
	annKey    = "__sde_key"    // stable name for keys and fingerprints (table-qualified)
	annType   = "__sde_type"   // the column's DuckDB type, when known
	annPerson = "__sde_person" // the column is a person column
	annBase   = "__sde_base"   // the column holds a base table column's values, unchanged
	annKind   = "__sde_kind"   // the column's kind of value: kindText, kindOther or "" (unknown)
)

type column struct {
	name      string // lower-case; "" when the expression has no name
	person    bool   // a base table's person column, propagated unchanged
	base      bool   // a base table column's values, propagated unchanged (no expression)
	tainted   bool   // computed from a person column (not a plain copy)
	ambiguous bool   // the name occurs twice in a SELECT * expansion
	nullable  bool   // may be NULL-extended by a LEFT JOIN inside a subquery
	key       string // table-qualified name, e.g. "gp.region"
	typ       string // DuckDB type, when known
	kind      string // kindText, kindOther or "" (unknown); see kindOf
	computed  bool   // an expression, not a column reference or a constant
	size      int    // expression nodes once earlier CTEs' and subqueries' columns are written out
	copies    int    // stored values concatenated into it, once written out (0: one, or none)
}

type relation struct {
	cols        []column
	readsPerson bool   // reads a person-level table somewhere
	orphan      string // why person data without a person column may not be used
	// onePerPerson: a base table with one row per person (Table.OnePerPerson).
	onePerPerson bool
	// linked: a base table whose rows all have a person (Table.Linked).
	linked bool
	// fan counts the tables joined into each of its rows that can hold several rows for one
	// person row (person-level tables without one row per person, lookup tables): a person with
	// m rows in each yields m^fan rows. scans counts the tables read once CTEs are written out.
	// Both bound the work a query can make from one person's rows; see fanOut.
	fan, scans int
	// unique: a lookup table's columns whose values are all different (Table.Unique); nil for
	// anything but a base lookup table.
	unique map[string]bool
}

// unit returns the index of the column identifying each row's person, or -1.
func (r *relation) unit() int {
	for i, c := range r.cols {
		if c.person && !c.ambiguous && !c.nullable {
			return i
		}
	}
	return -1
}

type binding struct {
	name     string // alias, or table/CTE name, lower-case
	rel      *relation
	nullable bool // right side of a LEFT JOIN
}

type scope struct {
	id       int
	bindings []*binding
	using    map[string]int // USING column → the binding unqualified references mean
	unitB    int            // binding and column of the rows' person; -1 if none
	unitC    int
	// filterScans counts the tables read by what only filters this scope's rows (the right side
	// of SEMI and ANTI joins, IN subqueries): they multiply nothing but are read all the same.
	filterScans int
}

type env struct {
	ctes   map[string]*relation
	parent *env
}

func (e *env) lookup(name string) *relation {
	for ; e != nil; e = e.parent {
		if r, ok := e.ctes[name]; ok {
			return r
		}
	}
	return nil
}

type analysis struct {
	tables   map[string]*Table
	personC  string
	scopes   int
	sources  map[string]bool
	filters  []node // WHERE and JOIN conjuncts from every scope, for the fingerprint
	readsAny bool
}

func newAnalysis(s Schema) *analysis {
	an := &analysis{tables: map[string]*Table{}, personC: strings.ToLower(s.PersonColumn), sources: map[string]bool{}}
	if an.personC == "" {
		an.personC = "person_id"
	}
	for i := range s.Tables {
		t := &s.Tables[i]
		an.tables[strings.ToLower(t.Name)] = t
	}
	return an
}

func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func looksLikePath(s string) bool {
	return strings.ContainsAny(s, "./\\:~*?")
}

// --- FROM ---------------------------------------------------------------

// from analyses a FROM clause into sc.
func (an *analysis) from(ref node, e *env, sc *scope) error {
	if !isNull(ref, "sample") {
		return refusef("TABLESAMPLE / USING SAMPLE is not allowed: samples are random and defeat the disclosure checks.")
	}
	switch str(ref, "type") {
	case "BASE_TABLE":
		return an.baseTable(ref, e, sc)
	case "SUBQUERY":
		if len(list(ref, "column_name_alias")) > 0 {
			return refusef("Renaming a subquery's columns in its alias (AS s(a, b)) is not allowed; use AS inside the subquery.")
		}
		alias := strings.ToLower(str(ref, "alias"))
		if alias == "" {
			return refusef("Give every subquery in FROM an alias, e.g. (SELECT ...) AS s.")
		}
		sub := obj(obj(ref, "subquery"), "node")
		rel, err := an.derived(sub, e)
		if err != nil {
			return err
		}
		return an.bind(sc, &binding{name: alias, rel: rel})
	case "JOIN":
		return an.join(ref, e, sc)
	case "TABLE_FUNCTION":
		return refusef("Table functions (read_csv, read_parquet, read_text, query, glob, ...) are not allowed; read this workspace's tables by name.")
	case "EMPTY":
		return refusef("The query needs a FROM clause naming this workspace's tables.")
	case "EXPRESSION_LIST":
		return refusef("VALUES lists are not allowed in FROM; read this workspace's tables.")
	case "SHOW_REF":
		return refusef("DESCRIBE, SHOW and SUMMARIZE are not allowed; the workspace's tables and columns are listed by the schema browser.")
	case "PIVOT":
		return refusef("PIVOT and UNPIVOT are not supported; GROUP BY the columns instead.")
	default:
		return refusef("This kind of FROM clause is not supported; read this workspace's tables by name.")
	}
}

func (an *analysis) bind(sc *scope, b *binding) error {
	for _, o := range sc.bindings {
		if o.name == b.name {
			return refusef("The name %s is used twice in FROM; give each table a distinct alias.", quoteName(b.name))
		}
	}
	sc.bindings = append(sc.bindings, b)
	return nil
}

func (an *analysis) baseTable(ref node, e *env, sc *scope) error {
	name := str(ref, "table_name")
	if str(ref, "schema_name") != "" || str(ref, "catalog_name") != "" {
		return refusef("Write table names without a database or schema (not db.schema.table); only this workspace's tables can be read.")
	}
	if !isNull(ref, "at_clause") {
		return refusef("AT (time travel) clauses are not allowed.")
	}
	if len(list(ref, "column_name_alias")) > 0 {
		return refusef("Renaming a table's columns in its alias (AS t(a, b)) is not allowed; rename columns with AS in the SELECT list.")
	}
	lname := strings.ToLower(name)
	alias := strings.ToLower(str(ref, "alias"))
	if alias == "" {
		alias = lname
	}
	if rel := e.lookup(lname); rel != nil {
		if rel.orphan != "" {
			return refusef("%s", rel.orphan)
		}
		if rel.readsPerson {
			an.readsAny = true
		}
		return an.bind(sc, &binding{name: alias, rel: rel})
	}
	t, ok := an.tables[lname]
	if !ok {
		if looksLikePath(name) {
			return refusef("Reading files is not allowed; FROM may only name this workspace's tables.")
		}
		return refusef("There is no table %s in this workspace. The schema browser lists the tables you can query.", quoteName(name))
	}
	src := t.Source
	if src == "" {
		src = lname
	}
	an.sources[src] = true
	rel := &relation{onePerPerson: t.OnePerPerson, linked: t.Linked || t.OnePerPerson, scans: 1}
	for _, c := range t.Columns {
		cn := strings.ToLower(c.Name)
		col := column{name: cn, key: lname + "." + cn, typ: c.Type, kind: kindOfType(c.Type), base: true}
		if cn == an.personC {
			col.person = true
			rel.readsPerson = true
			an.readsAny = true
		}
		rel.cols = append(rel.cols, col)
	}
	if !t.OnePerPerson {
		rel.fan = 1
	}
	if !rel.readsPerson && t.Rows > maxSmallLookup {
		rel.fan = maxFan // joined on anything but a unique column, nothing else may multiply
	}
	if len(t.Unique) > 0 && !rel.readsPerson {
		rel.unique = map[string]bool{}
		for _, u := range t.Unique {
			rel.unique[strings.ToLower(u)] = true
		}
	}
	return an.bind(sc, &binding{name: alias, rel: rel})
}

func (an *analysis) join(ref node, e *env, sc *scope) error {
	switch str(ref, "ref_type") {
	case "REGULAR", "CROSS":
	case "NATURAL":
		return refusef("NATURAL JOIN is not allowed; join on person_id explicitly (JOIN ... USING (person_id)).")
	default:
		return refusef("%s joins are not allowed; use JOIN or LEFT JOIN on person_id.", strings.ToUpper(str(ref, "ref_type")))
	}
	jt := str(ref, "join_type")
	switch jt {
	case "INNER", "LEFT", "SEMI", "ANTI":
	case "RIGHT":
		return refusef("RIGHT JOIN is not supported; swap the tables and use LEFT JOIN.")
	case "FULL", "OUTER":
		return refusef("FULL OUTER JOIN is not supported; use JOIN or LEFT JOIN on person_id.")
	default:
		return refusef("This kind of join is not supported; use JOIN or LEFT JOIN on person_id.")
	}
	left := &scope{id: sc.id, using: map[string]int{}}
	if err := an.from(obj(ref, "left"), e, left); err != nil {
		return err
	}
	right := &scope{id: sc.id, using: map[string]int{}}
	if err := an.from(obj(ref, "right"), e, right); err != nil {
		return err
	}
	lp, rp := personIn(left), personIn(right)
	both := &scope{id: sc.id, bindings: append(slices.Clone(left.bindings), right.bindings...), using: map[string]int{}}
	for k, v := range left.using {
		both.using[k] = v
	}
	for k, v := range right.using {
		both.using[k] = v + len(left.bindings)
	}
	cross := str(ref, "ref_type") == "CROSS"
	ok := false // joined on person equality
	if using := strings_(ref, "using_columns"); len(using) > 0 {
		for _, u := range using {
			u = strings.ToLower(u)
			li, lc, err := an.lookupCol(left, []string{u})
			if err != nil {
				return err
			}
			ri, rc, err := an.lookupCol(right, []string{u})
			if err != nil {
				return err
			}
			if left.bindings[li].rel.cols[lc].person && right.bindings[ri].rel.cols[rc].person {
				ok = true
			}
			// USING compares the two columns as = does.
			if err := mixedKinds(node{"class": "COLUMN_REF", annKind: left.bindings[li].rel.cols[lc].kind},
				node{"class": "COLUMN_REF", annKind: right.bindings[ri].rel.cols[rc].kind}); err != nil {
				return err
			}
			both.using[u] = li
		}
	} else if cond := obj(ref, "condition"); cond != nil {
		if _, err := an.expr(cond, ectx{sc: both, env: e, clause: "a JOIN condition"}); err != nil {
			return err
		}
		if err := condition(cond); err != nil {
			return err
		}
		for _, c := range conjuncts(cond) {
			if str(c, "class") == "COMPARISON" && str(c, "type") == "COMPARE_EQUAL" {
				l, r := obj(c, "left"), obj(c, "right")
				if an.isPersonRefIn(l, left) && an.isPersonRefIn(r, right) || an.isPersonRefIn(r, left) && an.isPersonRefIn(l, right) {
					ok = true
					continue
				}
			}
			an.filters = append(an.filters, c)
		}
	}
	// A lookup table joined on equality of one of its unique columns matches at most one of its
	// rows: it does not multiply the other side's rows.
	var eqs [][2]node
	for _, u := range strings_(ref, "using_columns") {
		c := node{"class": "COLUMN_REF", "column_names": []any{strings.ToLower(u)}}
		eqs = append(eqs, [2]node{c, c})
	}
	for _, c := range conjuncts(obj(ref, "condition")) {
		if str(c, "class") == "COMPARISON" && str(c, "type") == "COMPARE_EQUAL" {
			eqs = append(eqs, [2]node{obj(c, "left"), obj(c, "right")}, [2]node{obj(c, "right"), obj(c, "left")})
		}
	}
	// Two lookups joined on their keys still make as many rows as one of them: only one side
	// of such a join is exempt (review: both were, and the pair then multiplied for free).
	exempt := false
	for _, side := range [][2]*scope{{left, right}, {right, left}} {
		look, other := side[0], side[1]
		if len(look.bindings) != 1 || look.bindings[0].rel.unique == nil || exempt && !personIn(other) {
			continue
		}
		for _, eq := range eqs {
			if an.uniqueRef(eq[0], look) && an.refIn(eq[1], other) {
				look.bindings[0].rel.fan = 0
				exempt = true
				break
			}
		}
	}
	if lp && rp && !ok {
		if cross {
			return refusef("A CROSS JOIN of two person-level tables mixes different persons' rows; join them on person_id (JOIN ... USING (person_id)).")
		}
		return refusef("Person-level tables must be joined on person_id equality (e.g. JOIN ... USING (person_id) or ON a.person_id = b.person_id); a join on anything else mixes different persons' rows and makes person counts meaningless.")
	}
	if !lp && rp && jt != "INNER" {
		return refusef("Put the person-level table first: a LEFT, SEMI or ANTI join from a lookup table to person-level data is not supported.")
	}
	if jt == "LEFT" {
		for _, b := range right.bindings {
			b.nullable = true
		}
	}
	if jt == "SEMI" || jt == "ANTI" {
		// The right side only filters: its columns are not visible afterwards.
		both.bindings = left.bindings
		both.using = left.using
		for _, b := range right.bindings {
			sc.filterScans += b.rel.scans
		}
	}
	sc.filterScans += left.filterScans + right.filterScans
	for _, b := range both.bindings {
		if err := an.bind(sc, b); err != nil {
			return err
		}
	}
	for k, v := range both.using {
		sc.using[k] = v + len(sc.bindings) - len(both.bindings)
	}
	return nil
}

// Limits on the rows a query can make from one person's rows (sixth probe). Whether a query
// finishes in time must not depend on who is in the data: joining one person's rows to
// themselves (a JOIN b USING (person_id), then that to itself, ...) or writing a CTE out twice in
// each of several layers (UNION ALL) made a query run out of time only when a person with some
// value existed, and the time-out answered yes or no. Two tables of several rows per person
// joined together make at most m² rows per person, bounded for any real record.
//
// A lookup table counts too, unless it is joined on a unique column; one of more than
// maxSmallLookup rows counts twice, so a large lookup joined loosely multiplies nothing else
// (a person's row by 2.6 million postcodes, twice over, would not finish). Two small lookups
// joined loosely make at most a million rows of one person's row, 32 scans at most 10 million.
const (
	maxFan         = 2
	maxScans       = 32
	maxSmallLookup = 1_000
)

// fanOut adds up what a scope's joined relations multiply (relation.fan, relation.scans) and
// refuses more than the limits allow.
func fanOut(sc *scope) (fan, scans int, err error) {
	var names []string
	for _, b := range sc.bindings {
		fan += b.rel.fan
		scans += b.rel.scans
		switch b.rel.fan {
		case 0:
		case 1:
			names = append(names, quoteName(b.name))
		default:
			names = append(names, fmt.Sprintf("%s (counts %d)", quoteName(b.name), b.rel.fan))
		}
	}
	scans += sc.filterScans
	if fan > maxFan {
		return 0, 0, refusef("This query joins %d tables that can each hold several rows for one person (event tables, lookup tables, or subqueries over them; a subquery joining two counts 2, and so does a lookup of over %d rows not joined on its key column): %s; at most %d may be joined together. Each such join multiplies a person's rows, so the query's running time would depend on who is in the data. Reduce one of them to one row per person first (WITH t AS (SELECT person_id, count(*) AS n FROM gp_events GROUP BY person_id) ...), join a lookup on its key column, or join fewer.", fan, maxSmallLookup, strings.Join(names, ", "), maxFan)
	}
	if scans > maxScans {
		return 0, 0, tooManyScans(scans)
	}
	return fan, scans, nil
}

// tooManyScans refuses a query that reads tables n times, more than maxScans.
func tooManyScans(n int) error {
	return refusef("This query reads tables %d times once its CTEs are written out (at most %d): a CTE used more than once in each of several layers multiplies the work. Use each CTE once, or combine the steps.", n, maxScans)
}

// personIn reports whether a scope has person-level rows.
func personIn(sc *scope) bool {
	for _, b := range sc.bindings {
		if b.rel.unit() >= 0 {
			return true
		}
	}
	return false
}

// setUnit picks the column that identifies each row's person: the first
// person column of a binding that is never NULL-extended.
func setUnit(sc *scope) {
	sc.unitB, sc.unitC = -1, -1
	for i, b := range sc.bindings {
		if u := b.rel.unit(); u >= 0 && !b.nullable {
			sc.unitB, sc.unitC = i, u
			return
		}
	}
}

// uniqueRef reports whether n is a column of sc's one binding that its table holds unique.
func (an *analysis) uniqueRef(n node, sc *scope) bool {
	if str(n, "class") != "COLUMN_REF" {
		return false
	}
	bi, ci, err := an.lookupCol(sc, lower(strings_(n, "column_names")))
	return err == nil && sc.bindings[bi].rel.unique[sc.bindings[bi].rel.cols[ci].name]
}

// refIn reports whether n is a column of sc.
func (an *analysis) refIn(n node, sc *scope) bool {
	if str(n, "class") != "COLUMN_REF" {
		return false
	}
	_, _, err := an.lookupCol(sc, lower(strings_(n, "column_names")))
	return err == nil
}

func (an *analysis) isPersonRefIn(n node, sc *scope) bool {
	if str(n, "class") != "COLUMN_REF" {
		return false
	}
	bi, ci, err := an.lookupCol(sc, lower(strings_(n, "column_names")))
	return err == nil && sc.bindings[bi].rel.cols[ci].person
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// lookupCol resolves a column reference within a scope.
func (an *analysis) lookupCol(sc *scope, names []string) (int, int, error) {
	switch len(names) {
	case 1:
		type hit struct{ b, c int }
		var hits []hit
		for bi, b := range sc.bindings {
			for ci, c := range b.rel.cols {
				if c.name == names[0] {
					hits = append(hits, hit{bi, ci})
				}
			}
		}
		if len(hits) > 1 {
			if bi, ok := sc.using[names[0]]; ok {
				for _, h := range hits {
					if h.b == bi {
						hits = []hit{h}
						break
					}
				}
			}
		}
		switch {
		case len(hits) == 0:
			return 0, 0, refusef("Unknown column %s. Check the spelling against the schema browser (correlated subqueries are not supported).", quoteName(names[0]))
		case len(hits) > 1:
			return 0, 0, refusef("Column %s is ambiguous; qualify it with its table or alias (t.%s).", quoteName(names[0]), names[0])
		}
		c := sc.bindings[hits[0].b].rel.cols[hits[0].c]
		if c.ambiguous {
			return 0, 0, refusef("Column %s occurs twice in a SELECT * of a subquery; select the columns you need by name.", quoteName(names[0]))
		}
		return hits[0].b, hits[0].c, nil
	case 2:
		for bi, b := range sc.bindings {
			if b.name != names[0] {
				continue
			}
			for ci, c := range b.rel.cols {
				if c.name == names[1] {
					if c.ambiguous {
						return 0, 0, refusef("Column %s occurs twice in a SELECT * of a subquery; select the columns you need by name.", quoteName(names[1]))
					}
					return bi, ci, nil
				}
			}
			return 0, 0, refusef("Unknown column %s.%s. Check the spelling against the schema browser.", names[0], quoteName(names[1]))
		}
		return 0, 0, refusef("Unknown table or alias %s in %s.%s.", quoteName(names[0]), names[0], names[1])
	default:
		return 0, 0, refusef("Refer to columns as column or table.column.")
	}
}

// --- expressions -------------------------------------------------------------

type ectx struct {
	sc     *scope
	env    *env
	agg    bool   // aggregate functions allowed here
	outer  bool   // outer query: only the reporting aggregates
	sub    bool   // IN (subquery) allowed here
	inAgg  bool   // inside an aggregate's arguments
	window bool   // window functions partitioned by person allowed (subqueries, CTEs)
	clause string // for messages
}

type einfo struct {
	person  bool // a plain reference to a person column
	nulled  bool // ... that a LEFT JOIN may have NULL-extended
	tainted bool // mentions a person column
	aggs    int  // aggregate calls inside
	window  bool
	size    int // nodes, with each column reference counted as its column's size (column.size)
	own     int // nodes as written
	copies  int // column values (and pads) concatenated into it, once written out; see maxCopies
}

func (i *einfo) add(o einfo) {
	i.tainted = i.tainted || o.tainted || o.person
	i.aggs += o.aggs
	i.size = min(i.size+o.size, maxExpanded+maxSQLNodes)
	i.own += o.own
	i.copies = max(i.copies, o.copies) // most functions give at most their longest argument
}

// maxCopies bounds how many column values one text value may concatenate, through CTEs: within
// the expression bound, || could join thousands of copies of a row's values into one string per
// row, which a person with many rows turns into a time-out or an out-of-memory error only when
// such a person exists. Any real label joins a handful.
const maxCopies = 64

// concatFuncs put their arguments' text side by side.
var concatFuncs = setOf("||", "concat", "concat_ws")

// maxExpanded bounds how much larger an expression may become once the computed columns it
// refers to are written out. DuckDB's planner writes them out: a CTE column that refers to the
// one before it sixteen times, five CTEs deep, is a million nodes, and analysing it took 25 s
// and 2 GB before anything ran (DoS probe). 10,000 nodes plan in about half a second.
const maxExpanded = 10_000

// maxSQLNodes is more nodes than any query within MaxSQLBytes has.
const maxSQLNodes = MaxSQLBytes

// expr checks one expression (exprNode) and bounds its size once written out (maxExpanded).
func (an *analysis) expr(n node, c ectx) (einfo, error) {
	info, err := an.exprNode(n, c)
	if err != nil || n == nil {
		return info, err
	}
	info.size++
	info.own++
	if info.size-info.own > maxExpanded {
		return info, refusef("The query refers to computed columns too many times over (it would be more than %d expressions once its CTEs are written out): refer to each computed column fewer times, or compute it in one step.", maxExpanded)
	}
	if info.copies > maxCopies {
		return info, refusef("This text joins %d column values into one (counted through its CTEs; at most %d): build labels from a few columns.", info.copies, maxCopies)
	}
	return info, nil
}

// Scalar functions and operators allowed anywhere. Everything else is refused:
// an allow-list, because DuckDB keeps adding functions that read files,
// settings or catalogue state.
var scalarFuncs = setOf(
	// operators
	"+", "-", "*", "/", "//", "%", "**", "^", "||", "~~", "!~~", "~~*", "!~~*",
	// numbers
	// (sqrt, ln and log are left out: they raise errors on negative data; see CAST.)
	"abs", "round", "floor", "ceil", "ceiling", "trunc", "sign", "cbrt", "pow", "power", "exp",
	"greatest", "least", "ifnull", "nullif", "if", "even", "round_even",
	// text
	"lower", "upper", "lcase", "ucase", "length", "strlen", "substr", "substring", "left", "right", "trim",
	"ltrim", "rtrim", "concat", "concat_ws", "replace", "starts_with", "ends_with", "contains", "prefix",
	"suffix", "strpos", "instr", "position", "lpad", "rpad", "regexp_matches", "regexp_full_match",
	"regexp_replace", "regexp_extract", "split_part", "like_escape", "ilike_escape",
	// dates and times
	"date_part", "datepart", "date_trunc", "datetrunc", "date_diff", "datediff", "date_sub", "datesub",
	"date_add", "year", "month", "day", "quarter", "week", "weekofyear", "dayofweek", "isodow", "dayofyear",
	"dayofmonth", "yearweek", "isoyear", "hour", "minute", "second", "epoch", "last_day",
	"monthname", "dayname", "strftime", "try_strptime", "to_years", "to_months", "to_days",
	"to_weeks", "to_hours", "to_minutes", "to_seconds", "current_date", "today", "age",
)

// SQL value functions written without parentheses, which DuckDB parses as column
// references and binds as functions when no column has the name.
var sqlValueFunctions = setOf("current_date", "current_timestamp", "current_time", "localtimestamp", "localtime")

// checkAlias refuses output names the analyser would read differently from DuckDB: reserved
// __ names, and the SQL value functions (current_date, ...), which the checks take for the
// function while DuckDB lets WHERE and GROUP BY name an output column (one-level review, case 3).
func checkAlias(name string) error {
	name = strings.ToLower(name)
	if strings.HasPrefix(name, "__") {
		return refusef("Names starting with __ are reserved.")
	}
	if sqlValueFunctions[name] {
		return refusef("%s names the SQL function; choose another name for the column.", name)
	}
	return nil
}

// Aggregates the planner understands, with their kind.
var aggKinds = map[string]string{
	"count_star": "count", "count": "count", "count_if": "count", "sum": "sum", "avg": "avg", "mean": "avg",
	"min": "min", "max": "max", "median": "median",
	"quantile_cont": "quantile", "quantile_disc": "quantile", "quantile": "quantile",
	"stddev": "stddev", "stddev_samp": "stddev", "stddev_pop": "stddev",
	"variance": "variance", "var_samp": "variance", "var_pop": "variance",
}

// Extra aggregates allowed inside a subquery grouped by person, where they only
// ever see one person's rows.
var perPersonAggs = setOf("bool_or", "bool_and", "any_value", "first", "arg_min", "arg_max", "min_by", "max_by", "arg_min_null", "arg_max_null")

func setOf(ss ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func isAggregate(n node) bool {
	if str(n, "class") != "FUNCTION" {
		return false
	}
	name := strings.ToLower(str(n, "function_name"))
	return aggKinds[name] != "" || perPersonAggs[name]
}

// expr checks an expression and annotates its column references.
func (an *analysis) exprNode(n node, c ectx) (einfo, error) {
	var info einfo
	if n == nil {
		return info, nil
	}
	children := func(k string) error {
		for _, ch := range nodes(n, k) {
			ci, err := an.expr(ch, c)
			if err != nil {
				return err
			}
			info.add(ci)
		}
		return nil
	}
	one := func(k string) error {
		if o := obj(n, k); o != nil {
			ci, err := an.expr(o, c)
			if err != nil {
				return err
			}
			info.add(ci)
		}
		return nil
	}
	switch str(n, "class") {
	case "COLUMN_REF":
		names := lower(strings_(n, "column_names"))
		bi, ci, err := an.lookupCol(c.sc, names)
		if err != nil {
			if len(names) == 1 && sqlValueFunctions[names[0]] {
				return info, nil // CURRENT_DATE and friends: DuckDB binds them as functions
			}
			return info, err
		}
		b := c.sc.bindings[bi]
		col := b.rel.cols[ci]
		n[annID] = fmt.Sprintf("%d:%s.%s", c.sc.id, b.name, col.name)
		n[annKey] = col.key
		if col.key == "" {
			n[annKey] = b.name + "." + col.name
		}
		n[annType] = col.typ
		n[annKind] = col.kind
		n[annPerson] = col.person
		n[annBase] = col.base
		info.person = col.person
		info.nulled = col.nullable || b.nullable
		info.tainted = col.tainted
		info.size = max(col.size-1, 0) // expr adds this node
		info.copies = max(col.copies, 1)
		return info, nil
	case "CONSTANT":
		switch str(obj(obj(n, "value"), "type"), "id") {
		case "HUGEINT", "UHUGEINT", "UBIGINT":
			// Wider than any stored number; converting it, or a product with it, to the other
			// side's DECIMAL fails only for some rows (fifth probe).
			return info, refusef("Write whole numbers with at most %d digits: comparing a column with a longer one can fail for some rows only.", maxConstDigits)
		}
		if ti := obj(obj(obj(n, "value"), "type"), "type_info"); ti != nil {
			var scale int
			if _, err := fmt.Sscan(fmt.Sprint(ti["scale"]), &scale); err == nil && scale > maxConstScale {
				return info, refusef("Write numbers with at most %d digits after the point: comparing a column with a longer one can fail for some rows only.", maxConstScale)
			}
			var width int
			if _, err := fmt.Sscan(fmt.Sprint(ti["width"]), &width); err == nil && width > maxConstDigits {
				return info, refusef("Write decimal numbers with at most %d digits: comparing a column with a longer one can fail for some rows only.", maxConstDigits)
			}
		}
		return info, nil
	case "COMPARISON":
		if err := one("left"); err != nil {
			return info, err
		}
		if err := one("right"); err != nil {
			return info, err
		}
		return info, mixedKinds(obj(n, "left"), obj(n, "right"))
	case "CONJUNCTION":
		if err := children("children"); err != nil {
			return info, err
		}
		return info, condition(nodes(n, "children")...)
	case "OPERATOR":
		switch str(n, "type") {
		case "OPERATOR_NOT":
			if err := children("children"); err != nil {
				return info, err
			}
			return info, condition(nodes(n, "children")...)
		case "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL":
			return info, children("children")
		case "OPERATOR_COALESCE":
			// The result has one type: DuckDB converts the others to it row by row.
			if err := children("children"); err != nil {
				return info, err
			}
			return info, mixedKinds(nodes(n, "children")...)
		case "COMPARE_IN", "COMPARE_NOT_IN":
			if err := children("children"); err != nil {
				return info, err
			}
			return info, mixedKinds(nodes(n, "children")...)
		case "GROUPING_FUNCTION":
			return info, refusef("GROUPING() is not needed in the SELECT list: margin rows are identified for you.")
		default:
			return info, refusef("The operator %s is not allowed here.", strings.ToLower(strings.TrimPrefix(str(n, "type"), "OPERATOR_")))
		}
	case "CASE":
		for _, cc := range nodes(n, "case_checks") {
			for _, k := range []string{"when_expr", "then_expr"} {
				ci, err := an.expr(obj(cc, k), c)
				if err != nil {
					return info, err
				}
				info.add(ci)
			}
			if err := condition(obj(cc, "when_expr")); err != nil {
				return info, err
			}
		}
		if err := one("else_expr"); err != nil {
			return info, err
		}
		// The result has one type: a branch of another kind is converted when a row takes it
		// ('x' in one branch and 1 in another fails only for the rows that take the first).
		var results []node
		for _, cc := range nodes(n, "case_checks") {
			results = append(results, obj(cc, "then_expr"))
		}
		return info, mixedKinds(append(results, obj(n, "else_expr"))...)
	case "CAST":
		if t := obj(n, "cast_type"); str(t, "id") == "USER" {
			return info, refusef("Cast only to built-in types (INTEGER, VARCHAR, DATE, ...).")
		}
		// A cast that fails on some value makes the query's success depend on the data: a
		// yes/no answer about one person with no threshold (security review F3). Casts of
		// constants and CURRENT_DATE fail (or not) whatever the data, so only casts of columns
		// must be TRY_CAST.
		if n["try_cast"] != true && containsColumn(obj(n, "child")) {
			return info, refusef("Use TRY_CAST(x AS type), which gives NULL where CAST would fail: whether a query fails must not depend on the data.")
		}
		return info, one("child")
	case "BETWEEN":
		for _, k := range []string{"input", "lower", "upper"} {
			if err := one(k); err != nil {
				return info, err
			}
		}
		return info, mixedKinds(obj(n, "input"), obj(n, "lower"), obj(n, "upper"))
	case "FUNCTION":
		return an.function(n, c)
	case "SUBQUERY":
		return an.subqueryExpr(n, c)
	case "WINDOW":
		return an.window(n, c)
	case "STAR":
		return info, refusef("* is only allowed as SELECT * in a subquery or CTE.")
	case "LAMBDA", "LAMBDA_REF":
		return info, refusef("Lambda functions are not allowed.")
	case "PARAMETER":
		return info, refusef("Query parameters ($1, ?) are not supported; write the values into the query.")
	case "COLLATE":
		return info, refusef("COLLATE is not supported.")
	default:
		return info, refusef("This kind of expression is not supported here.")
	}
}

// Window functions allowed when partitioned by person.
var windowFuncs = setOf("row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile",
	"lag", "lead", "first_value", "last_value", "nth_value",
	"count_star", "count", "sum", "avg", "mean", "min", "max", "bool_or", "bool_and")

// window allows a window function only inside a subquery or CTE, and only when
// it is partitioned by a person column: then it sees one person's rows and
// cannot carry another person's values into a row (lag() over all rows could).
func (an *analysis) window(n node, c ectx) (einfo, error) {
	var info einfo
	const how = "Window functions are only allowed in a subquery or CTE, partitioned by person_id (e.g. row_number() OVER (PARTITION BY person_id ORDER BY event_date)): otherwise they carry other persons' values into a row."
	if !c.window || c.inAgg {
		return info, refusef("%s", how)
	}
	name := strings.ToLower(str(n, "function_name"))
	if !windowFuncs[name] || str(n, "schema") != "" || str(n, "catalog") != "" {
		return info, refusef("The window function %s() is not supported.", name)
	}
	if boolean(n, "distinct") || len(list(n, "arg_orders")) > 0 {
		return info, refusef("DISTINCT and ORDER BY inside window function arguments are not supported.")
	}
	if err := argRules(name, nodes(n, "children")); err != nil {
		return info, err
	}
	for _, a := range nodes(n, "children") {
		if c := str(a, "class"); c != "COLUMN_REF" && c != "CONSTANT" {
			return info, refusef("Window functions take columns as they are (compute the value in a CTE first): a computation inside one cannot be kept from failing on some rows.")
		}
	}
	inner := c
	inner.window, inner.sub, inner.agg = false, false, false
	inner.clause = "a window function"
	byPerson := false
	for _, p := range nodes(n, "partitions") {
		pi, err := an.expr(p, inner)
		if err != nil {
			return info, err
		}
		// A NULL-extended person column would put the unmatched rows of
		// many persons into one NULL partition.
		byPerson = byPerson || pi.person && !pi.nulled
	}
	if !byPerson {
		return info, refusef("%s", how)
	}
	for _, ch := range nodes(n, "children") {
		ci, err := an.expr(ch, inner)
		if err != nil {
			return info, err
		}
		info.add(ci)
	}
	for _, o := range nodes(n, "orders") {
		if _, err := an.expr(obj(o, "expression"), inner); err != nil {
			return info, err
		}
	}
	for _, k := range []string{"start_expr", "end_expr", "offset_expr"} {
		// A frame bound or an offset taken from the data fails for rows where it is negative.
		if e := obj(n, k); e != nil && !constIntIn(e, 0, 1_000_000) {
			return info, refusef("Window frame bounds and lag()/lead() offsets must be whole numbers from 0 to 1,000,000 written into the query: one taken from the data would fail on some rows only.")
		}
	}
	for _, k := range []string{"start_expr", "end_expr", "offset_expr", "default_expr", "filter_expr"} {
		if e := obj(n, k); e != nil {
			ci, err := an.expr(e, inner)
			if err != nil {
				return info, err
			}
			info.add(ci)
		}
	}
	if d := obj(n, "default_expr"); d != nil && len(nodes(n, "children")) > 0 {
		// The default and the value share one type, converted row by row.
		if err := mixedKinds(nodes(n, "children")[0], d); err != nil {
			return info, err
		}
	}
	info.window = true
	return info, nil
}

func (an *analysis) function(n node, c ectx) (einfo, error) {
	var info einfo
	name := strings.ToLower(str(n, "function_name"))
	// DuckDB's parser itself writes main.date_part for EXTRACT and
	// main.list_value for [..]: accept main (the name is still allow-listed).
	if sch := strings.ToLower(str(n, "schema")); sch != "" && sch != "main" || str(n, "catalog") != "" {
		return info, refusef("Call functions without a schema or catalog prefix.")
	}
	if boolean(n, "export_state") {
		return info, refusef("EXPORT_STATE is not allowed.")
	}
	agg := isAggregate(n)
	if agg {
		switch {
		case c.inAgg:
			return info, refusef("Aggregates cannot be nested.")
		case !c.agg:
			return info, refusef("Aggregate functions are not allowed in %s.", c.clause)
		case c.outer && aggKinds[name] == "":
			return info, refusef("The aggregate %s() is not supported in the outer query; use COUNT, COUNT(DISTINCT ...), SUM, AVG, MEDIAN or quantiles.", name)
		}
		if len(list(obj(n, "order_bys"), "orders")) > 0 {
			return info, refusef("ORDER BY inside an aggregate is not supported.")
		}
		if boolean(n, "distinct") && name != "count" && c.outer {
			return info, refusef("DISTINCT is only supported in COUNT(DISTINCT ...).")
		}
		info.aggs = 1
		inner := c
		inner.inAgg = true
		inner.sub = false
		for _, ch := range nodes(n, "children") {
			ci, err := an.expr(ch, inner)
			if err != nil {
				return info, err
			}
			info.tainted = info.tainted || ci.tainted || ci.person
			info.copies = max(info.copies, ci.copies)
			if ci.aggs > 0 {
				return info, refusef("Aggregates cannot be nested.")
			}
		}
		if f := obj(n, "filter"); f != nil {
			fc := inner
			fc.clause = "FILTER"
			if _, err := an.expr(f, fc); err != nil {
				return info, err
			}
			if err := condition(f); err != nil {
				return info, err
			}
		}
		return info, nil
	}
	if !isNull(n, "filter") || boolean(n, "distinct") {
		return info, refusef("FILTER and DISTINCT only apply to aggregates.")
	}
	if !scalarFuncs[name] {
		return info, refusef("The function %s() is not allowed. Allowed are arithmetic, text, date and comparison functions; functions that read files, settings, the catalogue or logs are refused.", quoteName(name)[1:len(quoteName(name))-1])
	}
	copies, sep := 0, 0
	for k, ch := range nodes(n, "children") {
		ci, err := an.expr(ch, c)
		if err != nil {
			return info, err
		}
		info.add(ci)
		copies += ci.copies
		if k == 0 {
			sep = ci.copies
		}
	}
	switch ch := nodes(n, "children"); {
	case name == "concat_ws" && len(ch) > 2:
		// The separator (first) comes between every two of the others (review: nested as the
		// separator, it grew eightfold per level while counting once).
		info.copies = copies + sep*(len(ch)-3)
	case concatFuncs[name]:
		info.copies = copies
	case name == "lpad" || name == "rpad":
		info.copies = 1 // at most 100 characters, whatever it pads
	case name == "replace" || name == "regexp_replace":
		// Each match can become the replacement (an empty pattern matches everywhere): the
		// text can grow by the replacement's length, level after level through CTEs (review).
		if len(ch) >= 3 {
			if to, ok := constText(ch[2]); ok && len(to) > 1 {
				info.copies = max(info.copies, 1) * len(to)
			}
		}
	}
	switch ch := nodes(n, "children"); {
	case comparingFuncs[name] || choiceFuncs[name]:
		// Compared, or one of them is the result: all are converted to one type row by row.
		return info, mixedKinds(ch...)
	case name == "if" && len(ch) == 3:
		return info, mixedKinds(ch[1:]...)
	}
	return info, argRules(name, nodes(n, "children"))
}

// subqueryExpr allows only x IN (SELECT ...) filters that cannot carry one
// person's data into another person's row: either person_id IN (a subquery
// returning person_id), so the row is kept by a fact about its own person, or
// a subquery that reads no person-level table at all.
func (an *analysis) subqueryExpr(n node, c ectx) (einfo, error) {
	var info einfo
	const how = "Only person_id IN (SELECT person_id FROM ...) or IN over lookup tables is allowed in WHERE; scalar and EXISTS subqueries can carry other persons' data into a row."
	if !c.sub || str(n, "subquery_type") != "ANY" || str(n, "comparison_type") != "COMPARE_EQUAL" {
		return info, refusef("This subquery is not allowed. %s", how)
	}
	ci, err := an.expr(obj(n, "child"), c)
	if err != nil {
		return info, err
	}
	rel, err := an.derivedAllowOrphan(obj(obj(n, "subquery"), "node"), c.env)
	if err == nil && c.sc != nil {
		c.sc.filterScans += rel.scans
	}
	if err != nil {
		return info, err
	}
	if len(rel.cols) != 1 {
		return info, refusef("An IN subquery must return exactly one column.")
	}
	if !(ci.person && rel.cols[0].person) && rel.readsPerson {
		return info, refusef("This IN subquery reads person-level data but does not compare person_id with person_id. %s", how)
	}
	// A computed value would be converted to the subquery column's type outside try().
	if c := str(obj(n, "child"), "class"); c != "COLUMN_REF" {
		return info, refusef("Compare a column, as it is, with an IN subquery (compute the value in a CTE first).")
	}
	// The subquery's column stands in as a column of its kind: its values come from data too.
	if err := mixedKinds(obj(n, "child"), node{"class": "COLUMN_REF", annKind: rel.cols[0].kind}); err != nil {
		return info, err
	}
	info.add(ci)
	return info, nil
}

// conjuncts splits an expression at top-level ANDs.
func conjuncts(n node) []node {
	if n == nil {
		return nil
	}
	if str(n, "class") == "CONJUNCTION" && str(n, "type") == "CONJUNCTION_AND" {
		var out []node
		for _, ch := range nodes(n, "children") {
			out = append(out, conjuncts(ch)...)
		}
		return out
	}
	return []node{n}
}

// --- derived relations (CTEs, subqueries) --------------------------------

func (an *analysis) derived(n node, e *env) (*relation, error) {
	rel, err := an.derivedAllowOrphan(n, e)
	if err != nil {
		return nil, err
	}
	if rel.orphan != "" {
		return nil, refusef("%s", rel.orphan)
	}
	return rel, nil
}

func (an *analysis) ctes(n node, e *env) (*env, error) {
	m := nodes(obj(n, "cte_map"), "map")
	if len(m) == 0 {
		return e, nil
	}
	ne := &env{ctes: map[string]*relation{}, parent: e}
	for _, kv := range m {
		name := strings.ToLower(str(kv, "key"))
		if strings.HasPrefix(name, "__") {
			return nil, refusef("Names starting with __ are reserved.")
		}
		if _, ok := an.tables[name]; ok || ne.ctes[name] != nil {
			return nil, refusef("The CTE name %s is already used by a table or another CTE; choose a distinct name.", quoteName(name))
		}
		v := obj(kv, "value")
		if len(list(v, "aliases")) > 0 {
			return nil, refusef("Column lists on CTEs (WITH c(a, b) AS ...) are not supported; use AS inside the CTE.")
		}
		if str(v, "materialized") != "" && str(v, "materialized") != "CTE_MATERIALIZE_DEFAULT" && str(v, "materialized") != "CTE_MATERIALIZE_ALWAYS" && str(v, "materialized") != "CTE_MATERIALIZE_NEVER" {
			return nil, refusef("This kind of CTE is not supported.")
		}
		if len(list(v, "key_targets")) > 0 {
			return nil, refusef("Recursive CTEs are not supported.")
		}
		rel, err := an.derivedAllowOrphan(obj(obj(v, "query"), "node"), ne)
		if err != nil {
			return nil, err
		}
		ne.ctes[name] = rel
	}
	return ne, nil
}

// sampleOrGroupByAll refuses, in the outer query and in subqueries alike, USING SAMPLE and
// GROUP BY ALL.
func sampleOrGroupByAll(n node) error {
	if !isNull(n, "sample") {
		return refusef("USING SAMPLE is not allowed: samples are random and defeat the disclosure checks.")
	}
	if str(n, "aggregate_handling") != "STANDARD_HANDLING" {
		return refusef("GROUP BY ALL is not supported; list the grouping columns.")
	}
	return nil
}

// derivedAllowOrphan analyses a SELECT used as a relation. Its result may be
// "orphan" person data (no person column): fine for IN over a lookup, refused
// in FROM.
func (an *analysis) derivedAllowOrphan(n node, e *env) (*relation, error) {
	switch str(n, "type") {
	case "SELECT_NODE":
	case "SET_OPERATION_NODE":
		return an.setOp(n, e)
	case "RECURSIVE_CTE_NODE", "CTE_NODE":
		return nil, refusef("Recursive CTEs are not supported.")
	default:
		return nil, refusef("This kind of subquery is not supported.")
	}
	for _, m := range nodes(n, "modifiers") {
		switch str(m, "type") {
		case "ORDER_MODIFIER", "DISTINCT_MODIFIER":
		default:
			return nil, refusef("LIMIT and OFFSET are not allowed in subqueries or CTEs: they pick rows arbitrarily. Filter with WHERE instead.")
		}
	}
	if err := sampleOrGroupByAll(n); err != nil {
		return nil, err
	}
	e, err := an.ctes(n, e)
	if err != nil {
		return nil, err
	}
	an.scopes++
	sc := &scope{id: an.scopes, using: map[string]int{}}
	if err := an.from(obj(n, "from_table"), e, sc); err != nil {
		return nil, err
	}
	setUnit(sc)
	fan, scans, err := fanOut(sc)
	if err != nil {
		return nil, err
	}
	rel := &relation{fan: fan, scans: scans}
	for _, b := range sc.bindings {
		rel.readsPerson = rel.readsPerson || b.rel.readsPerson
	}
	if w := obj(n, "where_clause"); w != nil {
		if _, err := an.expr(w, ectx{sc: sc, env: e, sub: true, clause: "WHERE"}); err != nil {
			return nil, err
		}
		if err := condition(w); err != nil {
			return nil, err
		}
		an.filters = append(an.filters, conjuncts(w)...)
		if _, rel.scans, err = fanOut(sc); err != nil { // with the IN subqueries' tables
			return nil, err
		}
	}
	// Aggregation: GROUP BY, or an aggregate anywhere in the SELECT list.
	groups := nodes(n, "group_expressions")
	aggregating := len(groups) > 0
	sel := nodes(n, "select_list")
	for _, s := range sel {
		if containsAggregate(s) {
			aggregating = true
		}
	}
	groupedPerson := map[string]bool{} // annID of person columns among the keys
	if aggregating {
		sets := list(n, "group_sets")
		if len(sets) > 1 {
			return nil, refusef("ROLLUP, CUBE and GROUPING SETS are only supported in the outer query.")
		}
		for _, g := range groups {
			g, err := an.groupExpr(g, sel, sc)
			if err != nil {
				return nil, err
			}
			gi, err := an.expr(g, ectx{sc: sc, env: e, clause: "GROUP BY"})
			if err != nil {
				return nil, err
			}
			if gi.person {
				groupedPerson[str(g, annID)] = true
			}
		}
		if h := obj(n, "having"); h != nil {
			if _, err := an.expr(h, ectx{sc: sc, env: e, agg: true, clause: "HAVING"}); err != nil {
				return nil, err
			}
			if err := condition(h); err != nil {
				return nil, err
			}
		}
	} else if !isNull(n, "having") {
		return nil, refusef("HAVING needs GROUP BY.")
	}
	for _, s := range sel {
		if str(s, "class") == "STAR" {
			if aggregating {
				return nil, refusef("SELECT * cannot be combined with GROUP BY.")
			}
			cols, err := expandStar(s, sc)
			if err != nil {
				return nil, err
			}
			rel.cols = append(rel.cols, cols...)
			continue
		}
		si, err := an.expr(s, ectx{sc: sc, env: e, agg: aggregating, window: !aggregating, clause: "the SELECT list"})
		if err != nil {
			return nil, err
		}
		if computesOnAggregate(s) {
			return nil, refusef("Compute on aggregates and window functions in a further step (WITH t AS (SELECT person_id, max(units) AS m ... GROUP BY person_id) SELECT ... m * 2 ... FROM t): a computation that holds one cannot be kept from failing on some rows, and whether a query fails must not depend on the data.")
		}
		name := strings.ToLower(str(s, "alias"))
		if err := checkAlias(name); err != nil {
			return nil, err
		}
		col := column{tainted: si.tainted, kind: kindOf(s), computed: str(s, "class") != "COLUMN_REF" && str(s, "class") != "CONSTANT", size: si.size, copies: si.copies}
		if str(s, "class") == "COLUMN_REF" {
			names := strings_(s, "column_names")
			if name == "" {
				name = strings.ToLower(names[len(names)-1])
			}
			col.person = si.person && (!aggregating || groupedPerson[str(s, annID)])
			if bi, ci, err := an.lookupCol(sc, lower(names)); err == nil {
				col.nullable = sc.bindings[bi].nullable
				// A plain reference keeps a base column's values (as a grouping key too).
				col.base = sc.bindings[bi].rel.cols[ci].base
			}
			col.tainted = col.tainted || si.person && !col.person
			col.key, _ = s[annKey].(string)
		}
		col.name = name
		rel.cols = append(rel.cols, col)
	}
	if qf := obj(n, "qualify"); qf != nil {
		if aggregating {
			return nil, refusef("QUALIFY cannot be combined with GROUP BY here.")
		}
		if _, err := an.expr(qf, ectx{sc: sc, env: e, window: true, clause: "QUALIFY"}); err != nil {
			return nil, err
		}
		if err := condition(qf); err != nil {
			return nil, err
		}
		an.filters = append(an.filters, conjuncts(qf)...)
	}
	markDuplicates(rel)
	if aggregating && len(groupedPerson) == len(groups) && (len(groups) == 0 || rel.unit() >= 0) {
		rel.fan = 0 // one row per person (GROUP BY person_id), or one row in all
	}
	if rel.readsPerson && rel.unit() < 0 {
		if aggregating {
			rel.orphan = "A subquery or CTE that aggregates person-level data must GROUP BY person_id and return it, so that each of its rows still belongs to one person; aggregate across persons only in the outer query."
		} else {
			rel.orphan = "A subquery or CTE over person-level tables must return person_id unchanged (a plain column, not computed), so that each of its rows still belongs to one person."
		}
	}
	return rel, nil
}

func (an *analysis) setOp(n node, e *env) (*relation, error) {
	switch str(n, "setop_type") {
	case "UNION", "EXCEPT", "INTERSECT":
	default:
		return nil, refusef("UNION BY NAME is not supported; list the columns in the same order in each branch.")
	}
	for _, m := range nodes(n, "modifiers") {
		if str(m, "type") != "ORDER_MODIFIER" && str(m, "type") != "DISTINCT_MODIFIER" {
			return nil, refusef("LIMIT and OFFSET are not allowed in subqueries or CTEs: they pick rows arbitrarily. Filter with WHERE instead.")
		}
	}
	e, err := an.ctes(n, e)
	if err != nil {
		return nil, err
	}
	l, err := an.derivedAllowOrphan(obj(n, "left"), e)
	if err != nil {
		return nil, err
	}
	r, err := an.derivedAllowOrphan(obj(n, "right"), e)
	if err != nil {
		return nil, err
	}
	if len(l.cols) != len(r.cols) {
		return nil, refusef("Each branch of a UNION, EXCEPT or INTERSECT must return the same number of columns.")
	}
	rel := &relation{readsPerson: l.readsPerson || r.readsPerson, fan: max(l.fan, r.fan), scans: l.scans + r.scans}
	if rel.scans > maxScans {
		return nil, tooManyScans(rel.scans)
	}
	for i := range l.cols {
		c := l.cols[i]
		c.person = l.cols[i].person && r.cols[i].person
		c.base = l.cols[i].base && r.cols[i].base
		c.tainted = l.cols[i].tainted || r.cols[i].tainted || (l.cols[i].person != r.cols[i].person)
		c.kind = unionKind(l.cols[i].kind, r.cols[i].kind)
		c.size = max(l.cols[i].size, r.cols[i].size)
		c.copies = max(l.cols[i].copies, r.cols[i].copies)
		if err := mixedKinds(node{"class": "COLUMN_REF", annKind: l.cols[i].kind}, node{"class": "COLUMN_REF", annKind: r.cols[i].kind}); err != nil {
			return nil, err
		}
		if l.cols[i].computed || r.cols[i].computed {
			return nil, refusef("UNION, EXCEPT and INTERSECT take columns and constants as they are (compute after them, in a further CTE): combining a computed value with another branch's type can fail for some rows.")
		}
		c.key = ""
		rel.cols = append(rel.cols, c)
	}
	markDuplicates(rel)
	if rel.readsPerson && rel.unit() < 0 {
		rel.orphan = "Each branch of a UNION, EXCEPT or INTERSECT over person-level data must return person_id in the same position, so that each row still belongs to one person."
	}
	return rel, nil
}

func markDuplicates(rel *relation) {
	seen := map[string]int{}
	for i, c := range rel.cols {
		if c.name == "" {
			continue
		}
		if j, ok := seen[c.name]; ok {
			rel.cols[i].ambiguous = true
			rel.cols[j].ambiguous = true
		}
		seen[c.name] = i
	}
}

func expandStar(s node, sc *scope) ([]column, error) {
	if len(list(s, "replace_list")) > 0 || len(list(s, "rename_list")) > 0 || boolean(s, "columns") || !isNull(s, "expr") || len(list(s, "qualified_exclude_list")) > 0 {
		return nil, refusef("Only plain SELECT * or SELECT * EXCLUDE (...) are supported; REPLACE, RENAME and COLUMNS(...) are not.")
	}
	if str(s, "alias") != "" {
		return nil, refusef("SELECT * cannot have an alias.")
	}
	exclude := setOf(lower(strings_(s, "exclude_list"))...)
	rn := strings.ToLower(str(s, "relation_name"))
	var out []column
	usingDone := map[string]bool{}
	found := rn == ""
	for _, b := range sc.bindings {
		if rn != "" && b.name != rn {
			continue
		}
		found = true
		for _, c := range b.rel.cols {
			if exclude[c.name] {
				continue
			}
			c.nullable = c.nullable || b.nullable
			if ub, ok := sc.using[c.name]; ok && rn == "" {
				if usingDone[c.name] {
					continue
				}
				usingDone[c.name] = true
				c = sc.bindings[ub].rel.cols[colIndex(sc.bindings[ub].rel, c.name)]
				c.nullable = c.nullable || sc.bindings[ub].nullable
			}
			if c.key == "" {
				c.key = b.name + "." + c.name
			}
			out = append(out, c)
		}
	}
	if !found {
		return nil, refusef("Unknown table or alias %s in %s.*.", quoteName(rn), rn)
	}
	return out, nil
}

func colIndex(r *relation, name string) int {
	for i, c := range r.cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

// containsAggregate reports whether n calls an aggregate outside any subquery of its own.
func containsAggregate(n any) bool {
	return anyNode(n, isAggregate, func(v node) bool { return str(v, "class") == "SUBQUERY" })
}

// anyNode reports whether some node below n matches, not descending into nodes for which skip
// (if not nil) is true.
func anyNode(n any, match, skip func(node) bool) bool {
	switch v := n.(type) {
	case map[string]any:
		if skip != nil && skip(v) {
			return false
		}
		if match(v) {
			return true
		}
		for _, x := range v {
			if anyNode(x, match, skip) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if anyNode(x, match, skip) {
				return true
			}
		}
	}
	return false
}

// groupExpr turns GROUP BY 2 into the second SELECT item and GROUP BY alias into
// the aliased expression (a FROM column of that name takes precedence, as in
// DuckDB), so the rewrite never depends on the analyst's SELECT list.
func (an *analysis) groupExpr(g node, sel []node, sc *scope) (node, error) {
	if str(g, "class") == "COLUMN_REF" {
		names := lower(strings_(g, "column_names"))
		if len(names) != 1 {
			return g, nil
		}
		if _, _, err := an.lookupCol(sc, names); err == nil {
			return g, nil
		}
		for _, s := range sel {
			if strings.ToLower(str(s, "alias")) == names[0] {
				if containsAggregate(s) {
					return nil, refusef("GROUP BY %s refers to an aggregate.", names[0])
				}
				c := cloneNode(s)
				c["alias"] = ""
				return c, nil
			}
		}
		return g, nil
	}
	if str(g, "class") != "CONSTANT" {
		return g, nil
	}
	v := obj(g, "value")
	if t := str(obj(v, "type"), "id"); t != "INTEGER" && t != "BIGINT" {
		return nil, refusef("GROUP BY a constant is not meaningful; group by columns or expressions.")
	}
	var pos int
	if _, err := fmt.Sscan(fmt.Sprint(v["value"]), &pos); err != nil || pos < 1 || pos > len(sel) {
		return nil, refusef("GROUP BY position %v is out of range.", v["value"])
	}
	item := sel[pos-1]
	if containsAggregate(item) || str(item, "class") == "STAR" {
		return nil, refusef("GROUP BY %d refers to an aggregate.", pos)
	}
	c := cloneNode(item)
	c["alias"] = ""
	return c, nil
}
