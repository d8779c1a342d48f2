// Package analyse accepts, plans and rewrites an analyst's SQL so that only one safe SELECT reaches a workspace and its result carries the person statistics the disclosure engine needs.
package analyse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opensde/sde/disclosure"
	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/sqlrows"
)

// Limits on analyst input. The parser and our walkers are recursive, so both
// size and nesting are capped before anything else looks at the text.
const (
	MaxSQLBytes = 100 << 10 // 100 KB of SQL
	maxASTDepth = 256       // nesting of the JSON AST (≈ 60–80 levels of SQL nesting)
)

// Schema describes the tables of one workspace.
type Schema struct {
	Tables []Table
	// PersonColumn is the pseudonymous person identifier; a table that has it is
	// person-level, one without it is a lookup table. Empty means "person_id".
	PersonColumn string
}

// Table is one table of a workspace.
type Table struct {
	Name    string
	Columns []Column
	// Source names the table in fingerprints (e.g. "gp_events@v3"), so releases
	// over different versions are not compared; empty means Name.
	Source string
	// OnePerPerson says every row has a person and no person has two rows (the
	// workspace counted it at activation). A query reading only such a table needs
	// no per-person level: each row already is one person's part of its cell.
	OnePerPerson bool
	// Linked says every row has a person (no NULL person_id): a distinct count of the
	// person column then needs no place-holder for the unlinked rows.
	Linked bool
	// Unique lists a lookup table's columns whose values are all different (counted at
	// activation): an equality join on one matches at most one of its rows, so the table does
	// not multiply the rows it is joined to (see maxFan).
	Unique []string
	// Rows is a lookup table's row count (0: unknown). A large lookup joined on anything but a
	// unique column can multiply each row it is joined to by up to this many (see maxFan).
	Rows int64
}

// Column is a column's name and DuckDB type.
type Column struct {
	Name string
	Type string
}

// Analyser parses SQL with DuckDB's own parser in an instance that holds no data.
// It is safe for concurrent use: analyses take turns on a few connections, so one slow
// analysis (a 100 KB query takes up to ≈ 1.5 s) does not hold up every other workspace's.
type Analyser struct {
	db *sql.DB
	// sem holds a token per idle parser connection; idle lists them.
	sem  chan struct{}
	mu   sync.Mutex
	idle []*parser
	all  []*parser
	// closed is closed when Close starts: analyses then stop waiting for a parser.
	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	// twoLevel turns off the one-level rewrites (rewriteOneLevel), so tests can
	// compare them against the general form.
	twoLevel bool

	// done holds accepted analyses by schema and text: dashboards refresh and analysts re-run
	// the same SQL, and an analysis depends on nothing else. Queries are never changed after
	// Analyse returns them, so callers may share one.
	doneMu sync.Mutex
	done   map[string]*Query
}

// parser is one connection to the parser instance with the empty type-check tables it holds
// (temporary tables belong to their connection), and key the schema they were made for: most
// calls come from the same workspace, so they are made once, not per query.
type parser struct {
	conn   *sql.Conn
	tables []string
	key    string
}

// parsers is how many analyses run at once.
const parsers = 4

// take waits for an idle parser, preferring one that holds key's type-check tables.
func (a *Analyser) take(ctx context.Context, key string) (*parser, error) {
	select {
	case <-a.sem:
	case <-ctx.Done():
		return nil, sde.Wrap(ctx.Err(), sde.EUNAVAILABLE, "The query analysis was cancelled.")
	case <-a.closed:
		return nil, sde.Errorf(sde.EUNAVAILABLE, "The service is shutting down; try again shortly.")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.idle, func(p *parser) bool { return p.key == key })
	if i < 0 {
		i = len(a.idle) - 1
	}
	p := a.idle[i]
	a.idle = slices.Delete(a.idle, i, i+1)
	return p, nil
}

// put returns a parser taken with take.
func (a *Analyser) put(p *parser) {
	a.mu.Lock()
	a.idle = append(a.idle, p)
	a.mu.Unlock()
	a.sem <- struct{}{}
}

// maxDone bounds the analyses kept; the whole set is dropped when it fills.
const maxDone = 1024

// doneKey names an analysis: everything of the schema the analyser reads, and the text.
func doneKey(schema Schema, text string) string {
	return schema.PersonColumn + "\x00" + schemaKey(schema, true) + "\x00" + text
}

// schemaKey describes the tables' names, columns and types; with all, also what else the
// analyser reads of them (sources, person flags).
func schemaKey(schema Schema, all bool) string {
	var b strings.Builder
	for _, t := range schema.Tables {
		b.WriteString(t.Name)
		if all {
			fmt.Fprintf(&b, "@%s %t %t %q %d", t.Source, t.OnePerPerson, t.Linked, t.Unique, t.Rows)
		}
		b.WriteString("(")
		for _, c := range t.Columns {
			b.WriteString(c.Name + " " + c.Type + ",")
		}
		b.WriteString(")")
	}
	return b.String()
}

// New opens the parser instance: in memory, no external access, no extensions,
// configuration locked, so that even the parser's instance could not read a
// file if a bug let a statement through.
func New(ctx context.Context) (*Analyser, error) {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("analyse: open parser instance: %w", err)
	}
	db := sql.OpenDB(connector)
	a := &Analyser{db: db, sem: make(chan struct{}, parsers), closed: make(chan struct{})}
	for range parsers {
		conn, err := db.Conn(ctx)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("analyse: connect parser instance: %w", err)
		}
		p := &parser{conn: conn}
		a.all = append(a.all, p)
		a.put(p)
	}
	conn := a.all[0].conn
	// The settings are the instance's (global), so one connection makes them for all.
	for _, s := range []string{
		"SET enable_external_access = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET allow_community_extensions = false",
		"SET threads = 1",
		"SET memory_limit = '256MB'",
		"SET lock_configuration = true",
	} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			a.Close()
			return nil, fmt.Errorf("analyse: configure parser instance (%s): %w", s, err)
		}
	}
	return a, nil
}

// Close releases the parser instance, once every analysis under way has finished.
func (a *Analyser) Close() error {
	a.closeOnce.Do(func() {
		close(a.closed)
		var errs []error
		for range a.all {
			<-a.sem
		}
		for _, p := range a.all {
			errs = append(errs, p.conn.Close())
		}
		a.closeErr = errors.Join(append(errs, a.db.Close())...)
	})
	return a.closeErr
}

// serialize parses text with DuckDB's parser. The text is only ever a bound
// VARCHAR parameter of json_serialize_sql: never a statement of its own.
func (a *Analyser) serialize(ctx context.Context, text string) ([]byte, error) {
	p, err := a.take(ctx, "")
	if err != nil {
		return nil, err
	}
	defer a.put(p)
	var out string
	if err := p.conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(CAST($1 AS VARCHAR)) AS VARCHAR)", text).Scan(&out); err != nil {
		return nil, err
	}
	return []byte(out), nil
}

// deserialize turns an AST (ours or the analyst's, edited) back into SQL text.
func (a *Analyser) deserialize(ctx context.Context, stmt node) (string, error) {
	doc := node{"error": false, "statements": []any{stmt}}
	j, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	p, err := a.take(ctx, "")
	if err != nil {
		return "", err
	}
	defer a.put(p)
	var out string
	if err := p.conn.QueryRowContext(ctx, "SELECT json_deserialize_sql(CAST($1 AS JSON))", string(j)).Scan(&out); err != nil {
		return "", err
	}
	return out, nil
}

// exprSQLs prints several expressions in one round trip.
func (a *Analyser) exprSQLs(ctx context.Context, es []node) ([]string, error) {
	if len(es) == 0 {
		return nil, nil
	}
	var docs []any
	for _, e := range es {
		sel := selectNode()
		e = cloneNode(e)
		e["alias"] = ""
		sel["select_list"] = []any{e}
		docs = append(docs, node{"error": false, "statements": []any{node{"node": sel, "named_param_map": []any{}}}})
	}
	j, err := json.Marshal(docs)
	if err != nil {
		return nil, err
	}
	p, err := a.take(ctx, "")
	if err != nil {
		return nil, err
	}
	defer a.put(p)
	out, err := sqlrows.Strings(ctx, p.conn, "SELECT json_deserialize_sql(value) FROM json_each(CAST($1 AS JSON)) ORDER BY CAST(\"key\" AS INTEGER)", string(j))
	if err != nil {
		return nil, err
	}
	for i, s := range out {
		t, ok := strings.CutPrefix(s, "SELECT ")
		if !ok {
			return nil, fmt.Errorf("analyse: unexpected deserialised text %q", s)
		}
		out[i] = t
	}
	if len(out) != len(es) {
		return nil, fmt.Errorf("analyse: %d expressions printed, %d asked", len(out), len(es))
	}
	return out, nil
}

var nearRe = regexp.MustCompile(`at or near "([^"]{0,40})"`)

// parse returns the one SELECT statement of text, or a user-safe error.
func (a *Analyser) parse(ctx context.Context, text string) (node, error) {
	if len(text) > MaxSQLBytes {
		return nil, sde.Errorf(sde.EINVALID, "The query is too long (%d bytes; at most %d). Shorten it, for example by moving long value lists into a lookup table.", len(text), MaxSQLBytes)
	}
	if strings.ContainsRune(text, 0) {
		return nil, sde.Errorf(sde.EINVALID, "The query contains a NUL character.")
	}
	out, err := a.serialize(ctx, text)
	if err != nil {
		if ctx.Err() != nil {
			return nil, sde.Wrap(err, sde.EUNAVAILABLE, "The query analysis was cancelled.")
		}
		if sde.ErrorCode(err) == sde.EUNAVAILABLE {
			return nil, err // no parser (shutting down)
		}
		return nil, sde.Wrap(err, sde.EINVALID, "The query could not be parsed.")
	}
	if d := jsonDepth(out, maxASTDepth); d > maxASTDepth {
		return nil, sde.Errorf(sde.EINVALID, "The query is nested too deeply. Flatten it, for example with a CTE (WITH ...).")
	}
	doc, err := decode(out)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "The query could not be analysed.")
	}
	if boolean(doc, "error") {
		return nil, parseError(text, doc)
	}
	stmts := nodes(doc, "statements")
	switch {
	case len(stmts) == 0:
		return nil, sde.Errorf(sde.EINVALID, "The query is empty.")
	case len(stmts) > 1:
		return nil, sde.Errorf(sde.EREFUSED, "The query has %d statements; send exactly one SELECT.", len(stmts))
	}
	return stmts[0], nil
}

func parseError(text string, doc node) error {
	typ, msg := str(doc, "error_type"), str(doc, "error_message")
	cause := fmt.Errorf("duckdb %s error: %s", typ, msg)
	if strings.Contains(msg, "Only SELECT statements") {
		return sde.Wrap(cause, sde.EREFUSED, "Only a single SELECT query is allowed. Statements that read or write files, attach databases, change settings, load extensions or change data (ATTACH, COPY, EXPORT, INSTALL, LOAD, SET, RESET, PRAGMA, CALL, CREATE, INSERT, ...) are refused.")
	}
	if typ == "parser" {
		where := ""
		if p, err := strconv.Atoi(str(doc, "position")); err == nil && p >= 0 && p <= len(text) {
			line := 1 + strings.Count(text[:p], "\n")
			col := 1 + p - (strings.LastIndexByte(text[:p], '\n') + 1)
			where = fmt.Sprintf(" at line %d, column %d", line, col)
		}
		near := ""
		if m := nearRe.FindStringSubmatch(msg); m != nil {
			near = fmt.Sprintf(" near %q", m[1])
		} else if len(msg) < 200 && !strings.ContainsAny(msg, "/\\\n") {
			near = ": " + msg
		}
		return sde.Wrap(cause, sde.EINVALID, "Syntax error%s%s.", where, near)
	}
	return sde.Wrap(cause, sde.EINVALID, "The query could not be parsed.")
}

// refusef is the analyser's refusal: a safety rule, with what to do instead.
func refusef(format string, args ...any) error {
	return sde.Errorf(sde.EREFUSED, format, args...)
}

// Query is an accepted query: what to run and how to read its result.
type Query struct {
	// Rewritten is the SQL the worker runs (from the edited AST, never from
	// the analyst's text).
	Rewritten string
	// Plan describes the analyst's columns (the first len(Plan.Columns) columns of
	// the rewritten result).
	Plan disclosure.Plan
	// Columns are the analyst's output columns.
	Columns []OutputColumn
	// StatsColumns says where the person statistics are in the rewritten result.
	StatsColumns StatsColumns
	// Fingerprint describes the query for the differencing ledger.
	Fingerprint disclosure.Fingerprint
}

// OutputColumn is one column the analyst asked for.
type OutputColumn struct {
	Name string
	// Type is the DuckDB type when the analyser can tell without data (plain
	// columns of a table, counts); empty otherwise — the result's Arrow schema
	// is authoritative.
	Type      string
	Kind      disclosure.ColumnKind
	Aggregate disclosure.Aggregate
}

// Analyse accepts sql if it is one safe aggregate SELECT over schema's tables, and
// returns its plan and rewrite. Errors are *sde.Error: EINVALID for malformed
// input, EREFUSED when a safety rule refuses the query (the message says why and
// what to do instead).
func (a *Analyser) Analyse(ctx context.Context, text string, schema Schema) (*Query, error) {
	key := doneKey(schema, text)
	a.doneMu.Lock()
	q, ok := a.done[key]
	a.doneMu.Unlock()
	if ok {
		return q, nil
	}
	q, err := a.analyse(ctx, text, schema)
	if err != nil {
		return nil, err
	}
	a.doneMu.Lock()
	if a.done == nil || len(a.done) >= maxDone {
		a.done = map[string]*Query{}
	}
	a.done[key] = q
	a.doneMu.Unlock()
	return q, nil
}

func (a *Analyser) analyse(ctx context.Context, text string, schema Schema) (*Query, error) {
	stmt, err := a.parse(ctx, text)
	if err != nil {
		return nil, err
	}
	if len(obj(stmt, "named_param_map")) > 0 || len(list(stmt, "named_param_map")) > 0 {
		return nil, refusef("Query parameters ($1, ?) are not supported; write the values into the query.")
	}
	root := obj(stmt, "node")
	if root == nil {
		return nil, sde.Errorf(sde.EINVALID, "The query could not be analysed.")
	}
	an := newAnalysis(schema)
	out, err := an.outer(root)
	if err != nil {
		return nil, err
	}
	original, err := a.deserialize(ctx, strip(cloneNode(stmt)).(map[string]any))
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "The query could not be analysed.")
	}
	q, err := a.build(ctx, an, out)
	if err != nil {
		return nil, err
	}
	if err := a.typecheck(ctx, schema, original, q); err != nil {
		return nil, err
	}
	return q, nil
}

var typeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_ ]*(\([0-9, ]+\))?(\[\])*$`)

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// typecheck binds the accepted query and its rewrite against empty copies of the
// workspace's tables, inside a transaction that is rolled back: the analyst gets
// DuckDB's binder errors (unknown columns, wrong argument types) at analysis
// time, and the output columns get their types. Only SQL deserialised from the
// checked AST runs here, never the analyst's text, and the tables are empty.
func (a *Analyser) typecheck(ctx context.Context, schema Schema, original string, q *Query) error {
	p, err := a.take(ctx, schemaKey(schema, false))
	if err != nil {
		return err
	}
	defer a.put(p)
	if err := p.emptyTables(ctx, schema); err != nil {
		return err
	}
	// A transaction that is rolled back: nothing the checked SQL could do persists.
	tx, err := p.conn.BeginTx(ctx, nil)
	if err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "The query could not be analysed.")
	}
	defer tx.Rollback()
	if _, err := columnTypes(ctx, tx, original); err != nil {
		return sde.Wrap(err, sde.EINVALID, "%s", binderMessage(err))
	}
	types, err := columnTypes(ctx, tx, q.Rewritten)
	if err != nil {
		// The query binds but its recombination does not: an aggregate over a
		// type that cannot be summed per person (AVG of dates, ...).
		return sde.Wrap(err, sde.EREFUSED, "An aggregate in this query cannot be checked for disclosure with its column's type; measures must be numeric aggregates (COUNT, SUM, AVG, ...) of numeric columns.")
	}
	for j := range q.Columns {
		c := &q.Columns[j]
		c.Type = types[j]
		if c.Kind == disclosure.Measure && !numericType(c.Type) {
			return refusef("The output column %s is of type %s; only numeric aggregates can be checked for disclosure (MIN, MAX and quantiles of dates or text are not supported).", quoteName(c.Name), c.Type)
		}
	}
	return nil
}

// emptyTables makes the connection hold empty tables shaped like schema's, reusing them when
// the schema is the one they were made for.
func (p *parser) emptyTables(ctx context.Context, schema Schema) error {
	key := schemaKey(schema, false)
	if key == p.key {
		return nil
	}
	for _, t := range p.tables {
		if _, err := p.conn.ExecContext(ctx, "DROP TABLE IF EXISTS temp."+quoteIdent(t)); err != nil {
			return sde.Wrap(err, sde.EINTERNAL, "The workspace schema could not be loaded.")
		}
	}
	p.tables, p.key = nil, ""
	for _, t := range schema.Tables {
		var cols []string
		for _, c := range t.Columns {
			if !typeRe.MatchString(c.Type) {
				return sde.Wrap(fmt.Errorf("column %s.%s has type %q", t.Name, c.Name, c.Type), sde.EINTERNAL, "The workspace schema could not be loaded.")
			}
			cols = append(cols, quoteIdent(c.Name)+" "+c.Type)
		}
		if _, err := p.conn.ExecContext(ctx, "CREATE TEMP TABLE "+quoteIdent(t.Name)+" ("+strings.Join(cols, ", ")+")"); err != nil {
			return sde.Wrap(err, sde.EINTERNAL, "The workspace schema could not be loaded.")
		}
		p.tables = append(p.tables, t.Name)
	}
	p.key = key
	return nil
}

func columnTypes(ctx context.Context, tx *sql.Tx, text string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, text)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cts {
		out = append(out, c.DatabaseTypeName())
	}
	for rows.Next() {
	}
	return out, rows.Err()
}

func numericType(t string) bool {
	switch t {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE":
		return true
	}
	return strings.HasPrefix(t, "DECIMAL")
}

// binderMessage keeps the first line of DuckDB's binder message (it names only
// the analyst's own columns and functions) and drops it when it could show
// anything else.
func binderMessage(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	for _, p := range []string{"Binder Error: ", "Conversion Error: ", "Catalog Error: ", "Invalid Input Error: ", "Out of Range Error: ", "Not implemented Error: "} {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			if strings.ContainsAny(rest, "/\\") || strings.Contains(strings.ToLower(rest), "setting") || len(rest) > 300 {
				break
			}
			return "The query does not fit this workspace's tables: " + rest
		}
	}
	return "The query does not fit this workspace's tables (check column names and the types of function arguments)."
}
