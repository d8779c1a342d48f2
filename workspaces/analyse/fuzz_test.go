package analyse

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/opensde/sde/sde"
)

// oracle counts statements and their types through DuckDB's C API
// (extract, then prepare — which binds but never executes), a different path
// from json_serialize_sql, in an instance holding empty copies of the tables.
type oracle struct {
	mu   sync.Mutex
	db   mapping.Database
	conn mapping.Connection
}

func newOracle(t testing.TB) *oracle {
	t.Helper()
	o := &oracle{}
	if mapping.Open("", &o.db) == mapping.StateError {
		t.Fatal("open oracle")
	}
	if mapping.Connect(o.db, &o.conn) == mapping.StateError {
		t.Fatal("connect oracle")
	}
	for _, tb := range testSchema().Tables {
		var cols []string
		for _, c := range tb.Columns {
			cols = append(cols, quoteIdent(c.Name)+" "+c.Type)
		}
		o.exec(t, "CREATE TABLE "+quoteIdent(tb.Name)+" ("+strings.Join(cols, ", ")+")")
	}
	o.exec(t, "SET enable_external_access = false")
	o.exec(t, "SET lock_configuration = true")
	t.Cleanup(func() {
		mapping.Disconnect(&o.conn)
		mapping.Close(&o.db)
	})
	return o
}

func (o *oracle) exec(t testing.TB, text string) {
	var res mapping.Result
	if mapping.Query(o.conn, text, &res) == mapping.StateError {
		t.Fatalf("%s: %s", text, mapping.ResultError(&res))
	}
	mapping.DestroyResult(&res)
}

// statements returns the number of statements in text and whether each is a
// SELECT that prepares (binds) successfully.
func (o *oracle) statements(text string) (n int, allSelect bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ex mapping.ExtractedStatements
	count := mapping.ExtractStatements(o.conn, text, &ex)
	defer mapping.DestroyExtracted(&ex)
	allSelect = true
	for i := mapping.IdxT(0); i < count; i++ {
		var st mapping.PreparedStatement
		if mapping.PrepareExtractedStatement(o.conn, ex, i, &st) == mapping.StateError {
			allSelect = false
		} else if mapping.PreparedStatementType(st) != mapping.StatementTypeSelect {
			allSelect = false
		}
		mapping.DestroyPrepare(&st)
	}
	return int(count), allSelect
}

func TestOracle(t *testing.T) {
	o := newOracle(t)
	for _, c := range []struct {
		sql string
		n   int
		ok  bool
	}{
		{"SELECT count(*) FROM patients", 1, true},
		{"SELECT 1; SELECT 2", 2, true},
		{"COPY patients TO 'x.csv'", 1, false},
		{"SELECT count(*) FROM patients /* ; */ ; ATTACH 'x.db'", 2, false},
	} {
		n, ok := o.statements(c.sql)
		if n != c.n || ok != c.ok {
			t.Errorf("%s: %d statements, all SELECT %v; want %d, %v", c.sql, n, ok, c.n, c.ok)
		}
	}
}

// FuzzAnalyse: Analyse never panics, errors are *sde.Error with a code, and
// whatever it accepts is — by DuckDB's C API, not by the parser path the
// analyser uses — exactly one SELECT, as is its rewrite.
func FuzzAnalyse(f *testing.F) {
	for _, s := range accepted {
		f.Add(s)
	}
	for _, r := range refusals {
		f.Add(r.sql)
	}
	f.Add("SELECT region, count(*) FROM patients GROUP BY region; SELECT 1")
	f.Add("SELECT region, count(*) FROM patients WHERE region = ';' GROUP BY region")
	f.Add("SELECT region, count(*) FROM patients /* x */ GROUP BY region -- ; DROP TABLE x")
	an := analyser(f)
	o := newOracle(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, text string) {
		q, err := an.Analyse(ctx, text, testSchema())
		if err != nil {
			if sde.ErrorCode(err) == sde.EINTERNAL {
				t.Fatalf("internal error for %q: %v", text, err)
			}
			if sde.ErrorMessage(err) == "" {
				t.Fatalf("empty message for %q", text)
			}
			return
		}
		if n, ok := o.statements(text); n != 1 || !ok {
			t.Fatalf("accepted %q: DuckDB sees %d statements (all SELECT: %v)", text, n, ok)
		}
		if n, ok := o.statements(q.Rewritten); n != 1 || !ok {
			t.Fatalf("rewrite of %q: DuckDB sees %d statements (all SELECT: %v)\n%s", text, n, ok, q.Rewritten)
		}
		if len(q.Plan.Columns) == 0 || q.StatsColumns.Visible != len(q.Plan.Columns) {
			t.Fatalf("accepted %q with an empty or inconsistent plan", text)
		}
	})
}
