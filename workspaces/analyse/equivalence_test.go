package analyse

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// accepted is a corpus of queries the analyser must accept. The equivalence
// test runs each one as written and as rewritten on the fixture and demands the
// same values, and the same distinct persons per row as a direct COUNT(DISTINCT).
var accepted = []string{
	// One-row-per-person table only: rewritten in one level (see rewriteFlat).
	`SELECT sex, avg(birth_year) AS mean, count(DISTINCT person_id) AS persons, count(region) AS with_region, count_if(birth_year > 1980) AS young FROM patients WHERE lsoa <> 'L3' GROUP BY ROLLUP (sex) ORDER BY sex`,
	`SELECT region, sum(birth_year) FILTER (WHERE sex = 'F') AS f_years, avg(birth_year) FILTER (WHERE sex = 'M') AS m_mean, count(*) FILTER (WHERE lsoa = 'L1') AS l1 FROM patients GROUP BY region`,
	`SELECT count(*), sum(birth_year), count(DISTINCT person_id) FROM patients`,
	`SELECT lsoa, region, round(avg(birth_year), 1) AS mean FROM patients WHERE birth_year > 1950 GROUP BY CUBE (lsoa, region) ORDER BY 1, 2`,
	`SELECT region, count(*) FROM patients GROUP BY region`,
	// Like compared with like, or constants converted once: not the implicit-cast oracle.
	`SELECT region, count(*) FROM patients WHERE lsoa <> '12' AND birth_year <> 1950 AND TRY_CAST(region AS INTEGER) IS NULL GROUP BY region`,
	`SELECT region, count(*) FROM patients WHERE lsoa IN ('L1', 'L2', 'L3') AND birth_year NOT IN (1, 2) AND nullif(region, 'R9') IS NOT NULL GROUP BY region`,
	`SELECT count(*) FROM gp_events`,
	`SELECT count(*) AS n, sum(units), avg(value) FROM gp_events WHERE code = 'nothing'`,
	`SELECT sex, count(DISTINCT person_id) AS persons FROM gp_events JOIN patients USING (person_id) GROUP BY sex`,
	`SELECT region, sex, count(*), count(DISTINCT person_id), sum(value) AS s, avg(units) FROM patients JOIN gp_events USING (person_id) WHERE code = 'E11' GROUP BY ROLLUP (region, sex) ORDER BY 1, 2`,
	`SELECT region, sex, count(*) AS n FROM patients GROUP BY CUBE (region, sex)`,
	`SELECT kind, round(avg(cost), 1) AS mean_cost, round(median(los)) AS med, count_if(los > 3) AS long_stays, count_if(los > 3) FILTER (WHERE cost > 1000) AS long_dear FROM admissions GROUP BY kind`,
	`SELECT region, sex, count(*) AS n, sum(birth_year) AS s FROM patients GROUP BY GROUPING SETS ((region), (sex), ())`,
	`SELECT code, sum(cost), avg(cost), sum(units), avg(units), count(value), sum(value), avg(value) FROM gp_events GROUP BY code`,
	`SELECT region, count(*) FILTER (WHERE code = 'E11') AS diabetes, count(*) AS events, sum(value) FILTER (WHERE code = 'I10') AS bp FROM patients p JOIN gp_events g ON p.person_id = g.person_id GROUP BY region`,
	`WITH diab AS (SELECT person_id, min(event_date) AS first_dx FROM gp_events WHERE code = 'E11' GROUP BY person_id)
	 SELECT year(first_dx) AS yr, count(*) FROM diab GROUP BY yr ORDER BY yr`,
	`SELECT region, count(*) FROM patients WHERE person_id IN (SELECT person_id FROM admissions WHERE kind = 'emergency') GROUP BY region`,
	`SELECT region, count(*) FROM patients WHERE person_id NOT IN (SELECT person_id FROM admissions) GROUP BY region`,
	`SELECT l.imd_decile, count(DISTINCT a.person_id) AS persons, count(*) AS admissions FROM admissions a JOIN patients p USING (person_id) JOIN lsoa_lookup l ON p.lsoa = l.lsoa WHERE a.kind = 'emergency' GROUP BY l.imd_decile`,
	`SELECT p.sex, count(a.person_id) AS with_adm, count(DISTINCT a.person_id) AS persons_adm, count(*) AS n, sum(a.cost) AS cost FROM patients p LEFT JOIN admissions a ON p.person_id = a.person_id GROUP BY p.sex`,
	`SELECT practice, count(DISTINCT code) AS codes, count(DISTINCT event_date) FILTER (WHERE units > 2) AS days FROM gp_events GROUP BY practice`,
	`SELECT (2024 - birth_year) // 10 * 10 AS age_band, count(*) FROM patients GROUP BY age_band`,
	`SELECT (2024 - birth_year) // 10 * 10, count(*) FROM patients GROUP BY 1 ORDER BY 1`,
	`SELECT kind, min(los), max(los), median(cost), quantile_cont(cost, 0.9) AS p90, quantile_disc(los, 0.5) AS q, stddev(cost), var_pop(los) AS v FROM admissions GROUP BY kind`,
	`SELECT src, count(*) AS n, count(DISTINCT person_id) AS persons FROM (SELECT person_id, 'gp' AS src FROM gp_events UNION ALL SELECT person_id, 'adm' FROM admissions) u GROUP BY src`,
	`SELECT n_events, count(*) AS persons FROM (SELECT person_id, count(*) AS n_events FROM gp_events GROUP BY person_id) t GROUP BY n_events ORDER BY n_events`,
	`SELECT CASE WHEN birth_year < 1960 THEN 'older' ELSE 'younger' END AS band, sum(value) AS total, avg(value) AS mean FROM patients JOIN gp_events USING (person_id) GROUP BY band`,
	`SELECT region, count(*) FROM patients p SEMI JOIN admissions a ON p.person_id = a.person_id GROUP BY region`,
	`SELECT region, count(*) FROM patients p ANTI JOIN admissions a ON p.person_id = a.person_id GROUP BY region`,
	`SELECT code, count(*) FROM gp_events WHERE event_date >= DATE '2021-01-01' AND code IN ('E11', 'I10') AND value IS NOT NULL GROUP BY code`,
	`SELECT date_trunc('month', admit_date) AS month, kind, count(*), sum(los) FROM admissions GROUP BY ROLLUP (month, kind)`,
	`WITH e AS (SELECT * FROM gp_events WHERE code = 'J45'), p AS (SELECT person_id, region FROM patients)
	 SELECT p.region, count(DISTINCT e.person_id) AS persons, sum(e.units) AS units FROM e JOIN p ON e.person_id = p.person_id GROUP BY p.region`,
	`SELECT region FROM patients GROUP BY region`,
	`SELECT s.sex, sum(s.total) AS total FROM (SELECT person_id, sex, birth_year AS total FROM patients) AS s GROUP BY s.sex`,
	`SELECT kind, sum(cost) AS cost FROM admissions a WHERE a.los BETWEEN 2 AND 5 OR a.kind LIKE 'emer%' GROUP BY kind`,
	`SELECT region, lsoa, count(*) FROM patients GROUP BY region, lsoa ORDER BY lsoa DESC, region`,
	`SELECT m.msoa, count(*) FROM patients p JOIN lsoa_lookup m ON p.lsoa = m.lsoa GROUP BY ROLLUP (m.msoa)`,
	`SELECT extract(year FROM event_date) AS y, count(*) FROM gp_events WHERE event_date > current_date - INTERVAL 10 YEAR GROUP BY y`,
	`SELECT l.msoa, count(*) FROM patients p JOIN (SELECT lsoa, msoa FROM lsoa_lookup) l USING (lsoa) GROUP BY l.msoa`,
	`SELECT region, count(*) FROM patients WHERE region IN (SELECT 'North' FROM lsoa_lookup) GROUP BY region`,
	`SELECT pid_count, count(*) FROM (SELECT person_id AS pid, count(*) AS pid_count FROM gp_events GROUP BY pid) s GROUP BY pid_count`,
	`SELECT region, count(*) FROM (SELECT person_id FROM patients EXCEPT SELECT person_id FROM admissions) e JOIN patients USING (person_id) GROUP BY region`,
	`SELECT region, count(*) FROM patients p WHERE p.person_id = ANY (SELECT person_id FROM admissions GROUP BY person_id HAVING count(*) > 2) GROUP BY region`,
	`SELECT region, count(*) FILTER (WHERE person_id = 'p0001') AS one, count(*) AS n FROM Patients AS P GROUP BY P.Region`,
	`SELECT region, sex, count(*) AS n, count(*) FILTER (WHERE u.units > 3) AS heavy FROM patients JOIN (SELECT person_id, sum(units) AS units FROM gp_events GROUP BY person_id) u USING (person_id) GROUP BY CUBE (region, sex)`,
	`WITH first AS (SELECT person_id, code, event_date, row_number() OVER (PARTITION BY person_id ORDER BY event_date, code) AS rn FROM gp_events)
	 SELECT code, count(*) AS persons FROM first WHERE rn = 1 GROUP BY code`,
	`SELECT code, count(*) AS n FROM (SELECT person_id, code FROM gp_events QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY event_date DESC, code) = 1) s GROUP BY code`,
	`WITH w AS (SELECT person_id, event_date, lag(event_date) OVER (PARTITION BY person_id ORDER BY event_date) AS prev FROM gp_events)
	 SELECT gap_band, count(*) AS n FROM (SELECT person_id, event_date - prev AS gap,
	   CASE WHEN event_date - prev > 100 THEN 'long' ELSE 'short' END AS gap_band FROM w) g GROUP BY gap_band`,
}

func TestEquivalence(t *testing.T) {
	ctx := context.Background()
	an := analyser(t)
	db := fixtureDB(t)
	for _, text := range accepted {
		t.Run(short(text), func(t *testing.T) {
			q, err := an.Analyse(ctx, text, testSchema())
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			origCols, origTypes, orig := runSQL(t, db, text)
			cols, types, got := runSQL(t, db, q.Rewritten)
			v := q.StatsColumns.Visible
			if !slices.Equal(origCols, cols[:v]) {
				t.Errorf("columns: original %q, rewritten %q", origCols, cols[:v])
			}
			if !slices.Equal(origTypes, types[:v]) {
				t.Errorf("types: original %q, rewritten %q", origTypes, types[:v])
			}
			var vis []string
			for _, r := range got {
				vis = append(vis, rowKey(r[:v]))
			}
			var want []string
			for _, r := range orig {
				want = append(want, rowKey(r))
			}
			if hasOrder(t, text) {
				if !slices.Equal(vis, want) {
					t.Errorf("ordered rows differ:\noriginal  %q\nrewritten %q", want, vis)
				}
			}
			slices.Sort(vis)
			slices.Sort(want)
			if !slices.Equal(vis, want) {
				t.Errorf("rows differ:\noriginal  %q\nrewritten %q\n%s", want, vis, q.Rewritten)
			}
			checkPersons(t, db, q, text, got)
			checkCells(t, q, got)
		})
	}
}

// unlinkedQueries read rows without a person, which every rewrite counts as one
// person per cell.
var unlinkedQueries = []string{
	`SELECT service, count(*) AS n, count(DISTINCT person_id) AS persons FROM contacts GROUP BY ROLLUP (service)`,
	`SELECT service, count(*) FILTER (WHERE hours > 3) AS long_contacts, count(*) AS n FROM contacts GROUP BY service`,
	`SELECT p.region, count(*) AS n FROM contacts c LEFT JOIN patients p ON p.person_id = c.person_id GROUP BY p.region`,
	`SELECT service, sum(hours) AS hours FROM contacts GROUP BY service`,
	// No rows at all: the grand total of ROLLUP/CUBE must not appear from nothing.
	`SELECT service, count(*) AS n FROM contacts WHERE service = 'none' GROUP BY ROLLUP (service)`,
	`SELECT region, count(*) AS n, sum(birth_year) AS s FROM patients WHERE region = 'nowhere' GROUP BY CUBE (region)`,
	`SELECT count(*) AS n FROM patients WHERE region = 'nowhere'`,
}

// TestOneLevelMatchesTwoLevel: where a query is rewritten in one level (a
// one-row-per-person table, or only person counts) it returns exactly what the
// two-level rewrite does, the person statistics the disclosure engine reads
// included.
func TestOneLevelMatchesTwoLevel(t *testing.T) {
	an, general, db := analyser(t), twoLevelAnalyser(t), fixtureDB(t)
	flats := 0
	for _, text := range append(slices.Clone(accepted), unlinkedQueries...) {
		if compareLevels(t, an, general, db, text, true) {
			flats++
		}
	}
	t.Logf("%d queries rewritten in one level", flats)
	if flats < 15 {
		t.Errorf("only %d queries took a one-level rewrite; the corpus no longer exercises them", flats)
	}
}

// FuzzOneLevelMatchesTwoLevel: the same, for whatever the fuzzer makes that the
// analyser accepts.
func FuzzOneLevelMatchesTwoLevel(f *testing.F) {
	for _, s := range append(slices.Clone(accepted), unlinkedQueries...) {
		f.Add(s)
	}
	an, general, db := analyser(f), twoLevelAnalyser(f), fixtureDB(f)
	f.Fuzz(func(t *testing.T, text string) {
		compareLevels(t, an, general, db, text, false)
	})
}

// twoLevelAnalyser is an analyser that never takes a one-level rewrite.
func twoLevelAnalyser(t testing.TB) *Analyser {
	general, err := New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { general.Close() })
	general.twoLevel = true
	return general
}

// compareLevels analyses text both ways and, where the rewrites differ, runs both
// on the fixture and demands the same columns, types and rows. It reports whether
// a one-level rewrite was taken. Unless mustAccept, a refused or failing query is
// skipped (the fuzzer makes many).
func compareLevels(t *testing.T, an, general *Analyser, db *sql.DB, text string, mustAccept bool) bool {
	t.Helper()
	ctx := context.Background()
	q1, err1 := an.Analyse(ctx, text, testSchema())
	q2, err2 := general.Analyse(ctx, text, testSchema())
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("%s: accepted by one form only: %v / %v", short(text), err1, err2)
	}
	if err1 != nil {
		if mustAccept {
			t.Fatalf("%s: %v", short(text), err1)
		}
		return false
	}
	if q1.Rewritten == q2.Rewritten {
		return false
	}
	if q1.StatsColumns.Visible != q2.StatsColumns.Visible || !slices.Equal(q1.StatsColumns.Cells, q2.StatsColumns.Cells) ||
		q1.StatsColumns.Persons != q2.StatsColumns.Persons || q1.StatsColumns.Set != q2.StatsColumns.Set {
		t.Errorf("%s: stats columns differ: %+v / %+v", short(text), q1.StatsColumns, q2.StatsColumns)
	}
	cols1, types1, rows1, e1 := trySQL(db, q1.Rewritten)
	cols2, types2, rows2, e2 := trySQL(db, q2.Rewritten)
	if (e1 == nil) != (e2 == nil) {
		t.Fatalf("%s: runs in one form only: %v / %v", short(text), e1, e2)
	}
	if e1 != nil {
		return true // both fail on this data (e.g. an overflow): nothing released either way
	}
	if !slices.Equal(cols1, cols2) || !slices.Equal(types1, types2) {
		t.Errorf("%s: columns %q %q, two-level %q %q", short(text), cols1, types1, cols2, types2)
	}
	var k1, k2 []string
	for _, r := range rows1 {
		k1 = append(k1, rowKey(r))
	}
	for _, r := range rows2 {
		k2 = append(k2, rowKey(r))
	}
	slices.Sort(k1)
	slices.Sort(k2)
	if !slices.Equal(k1, k2) {
		t.Errorf("%s: rows differ:\none level %q\ntwo levels %q", short(text), k1, k2)
	}
	return true
}

// hasOrder: the outer query's ORDER BY fixes the order of every row (margins
// can tie with NULL keys, so queries with several grouping sets are compared
// as sets).
func hasOrder(t *testing.T, text string) bool {
	stmt, err := analyser(t).parse(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	root := obj(stmt, "node")
	if len(list(root, "group_sets")) > 1 {
		return false
	}
	for _, m := range nodes(root, "modifiers") {
		if str(m, "type") == "ORDER_MODIFIER" {
			return true
		}
	}
	return false
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// checkPersons compares __persons with a direct COUNT(DISTINCT person) over the
// analyst's FROM and WHERE, grouped the same way (GROUPING() tells margins apart).
func checkPersons(t *testing.T, db *sql.DB, q *Query, text string, got [][]any) {
	t.Helper()
	direct := personsQuery(t, text)
	_, _, rows := runSQL(t, db, direct)
	want := map[string]int64{}
	for _, r := range rows {
		want[rowKey(r[:len(r)-1])] = toInt(r[len(r)-1])
	}
	sc := q.StatsColumns
	for _, r := range got {
		var key []any
		for j, c := range q.Plan.Columns {
			if c.Kind == "dimension" {
				key = append(key, r[j])
			}
		}
		key = append(key, r[sc.Set])
		k := rowKey(key)
		w, ok := want[k]
		if !ok {
			t.Errorf("row %s has no direct count (%s)", k, direct)
			continue
		}
		if p := toInt(r[sc.Persons]); p != w {
			t.Errorf("row %s: __persons = %d, COUNT(DISTINCT person_id) = %d", k, p, w)
		}
	}
	if len(rows) != len(got) {
		t.Errorf("direct count has %d rows, the rewritten result %d", len(rows), len(got))
	}
}

// personsQuery builds SELECT <dims>, GROUPING(<keys>), count(DISTINCT <person>)
// with the analyst's own FROM, WHERE and GROUP BY — DuckDB's distinct
// aggregate, not the rewrite's two levels.
func personsQuery(t *testing.T, text string) string {
	t.Helper()
	ctx := context.Background()
	a := analyser(t)
	stmt, err := a.parse(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	an := newAnalysis(testSchema())
	q, err := an.outer(obj(stmt, "node"))
	if err != nil {
		t.Fatal(err)
	}
	root := cloneNode(q.root)
	var sel []any
	for _, it := range q.items {
		if it.m == nil {
			sel = append(sel, cloneNode(it.expr))
		}
	}
	if len(q.groups) > 0 {
		sel = append(sel, groupingFn(q.groups))
	} else {
		sel = append(sel, cast(constInt(0), "BIGINT"))
	}
	b := q.sc.bindings[q.sc.unitB]
	cnt := fn("count", colRef(b.name, b.rel.cols[q.sc.unitC].name))
	cnt["distinct"] = true
	sel = append(sel, cnt)
	root["select_list"] = sel
	root["modifiers"] = []any{}
	s, err := a.deserialize(ctx, node{"node": strip(root), "named_param_map": []any{}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkCells checks the cell statistics against the values they explain.
func checkCells(t *testing.T, q *Query, got [][]any) {
	t.Helper()
	sc := q.StatsColumns
	for i, r := range got {
		persons := toInt(r[sc.Persons])
		for j, c := range sc.Cells {
			if c.Persons < 0 {
				continue
			}
			p := toInt(r[c.Persons])
			if p < 0 || p > persons {
				t.Errorf("row %d column %d: cell persons %d, row persons %d", i, j, p, persons)
			}
			if q.Plan.Columns[j].Aggregate == "count_distinct" && strings.Contains(q.Plan.Columns[j].Key, "person_id") && toInt(r[j]) != p {
				t.Errorf("row %d column %d: COUNT(DISTINCT person_id) = %v, cell persons %d", i, j, r[j], p)
			}
			if c.Total >= 0 {
				total, m1, m2 := toFloat(r[c.Total]), toFloat(r[c.Max1]), toFloat(r[c.Max2])
				if q.Plan.Columns[j].Aggregate == "sum" && r[j] != nil && !near(toFloat(r[j]), total) {
					t.Errorf("row %d column %d: SUM %v, total of contributions %v", i, j, r[j], total)
				}
				if r[c.AnyNegative] != true && (m2 > m1 || m1+m2 > total+1e-9*math.Abs(total)) {
					t.Errorf("row %d column %d: max1 %v max2 %v total %v inconsistent", i, j, m1, m2, total)
				}
			}
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }

func runSQL(t *testing.T, db *sql.DB, text string) ([]string, []string, [][]any) {
	t.Helper()
	cols, types, out, err := trySQL(db, text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return cols, types, out
}

// trySQL runs a query and returns its column names, types and rows.
func trySQL(db *sql.DB, text string) ([]string, []string, [][]any, error) {
	rows, err := db.Query(text)
	if err != nil {
		return nil, nil, nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	cts, _ := rows.ColumnTypes()
	var types []string
	for _, c := range cts {
		types = append(types, c.DatabaseTypeName())
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptr := make([]any, len(cols))
		for i := range vals {
			ptr[i] = &vals[i]
		}
		if err := rows.Scan(ptr...); err != nil {
			return nil, nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, types, out, rows.Err()
}

// rowKey renders values so that equal values give equal text; floats are
// compared to 12 significant digits (the rewrite adds per-person partial sums
// in a different order than a direct SUM of doubles).
func rowKey(r []any) string {
	var parts []string
	for _, v := range r {
		switch v := v.(type) {
		case float64:
			parts = append(parts, fmt.Sprintf("%.12g", v))
		case time.Time:
			parts = append(parts, v.UTC().Format(time.RFC3339))
		case duckdb.Decimal:
			parts = append(parts, v.String())
		case *big.Int:
			parts = append(parts, v.String())
		default:
			parts = append(parts, fmt.Sprintf("%v", v))
		}
	}
	return strings.Join(parts, "|")
}

func toInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case *big.Int:
		return v.Int64()
	}
	panic(fmt.Sprintf("not an integer: %T %v", v, v))
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case nil:
		return 0
	case float64:
		return v
	case int64:
		return float64(v)
	case *big.Int:
		f, _ := new(big.Float).SetInt(v).Float64()
		return f
	case duckdb.Decimal:
		return v.Float64()
	}
	panic(fmt.Sprintf("not a number: %T %v", v, v))
}

func TestColumnTypes(t *testing.T) {
	q, err := analyser(t).Analyse(context.Background(), `SELECT region, (2024 - birth_year) // 10 AS band, count(*) AS n, sum(birth_year) AS s, avg(birth_year) AS a FROM patients GROUP BY region, band`, testSchema())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range q.Columns {
		got = append(got, c.Name+":"+c.Type+":"+string(c.Kind)+":"+string(c.Aggregate))
	}
	want := []string{"region:VARCHAR:dimension:", "band:INTEGER:dimension:", "n:BIGINT:measure:count", "s:HUGEINT:measure:sum", "a:DOUBLE:measure:avg"}
	if !slices.Equal(got, want) {
		t.Errorf("columns %q, want %q", got, want)
	}
}
