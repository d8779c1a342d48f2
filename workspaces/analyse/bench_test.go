package analyse

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// BenchmarkAnalyse measures analysis alone (parse, checks, rewrite, type-check).
func BenchmarkAnalyse(b *testing.B) {
	an := analyser(b)
	ctx := context.Background()
	text := accepted[4] // ROLLUP with COUNT, COUNT DISTINCT, SUM, AVG
	for b.Loop() {
		if _, err := an.Analyse(ctx, text, testSchema()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRewriteCost runs typical queries on 1M event rows three ways: as the
// analyst wrote them, with COUNT(DISTINCT person) added (the least any safe
// answer needs), and rewritten. Compare ns/op between the sub-benchmarks.
func BenchmarkRewriteCost(b *testing.B) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		"SET threads = 2",
		`CREATE TABLE patients AS SELECT 'p' || i AS person_id, CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END AS sex,
			1930 + (i * 37) % 80 AS birth_year, 'L' || (i % 7) AS lsoa, ['North', 'South', 'East'][1 + i % 3] AS region FROM range(50000) t(i)`,
		`CREATE TABLE gp_events AS SELECT 'p' || (hash(i) % 50000) AS person_id, DATE '2020-01-01' + (i % 1000)::INTEGER AS event_date,
			['E11', 'I10', 'J45', 'F32'][1 + (i % 4)::INTEGER] AS code, 'P' || (i % 50) AS practice, (i % 97) * 1.5 AS value,
			(i % 5)::INTEGER AS units, ((i * 31) % 1000 / 10.0)::DECIMAL(10,2) AS cost FROM range(1000000) t(i)`,
	} {
		if _, err := db.Exec(s); err != nil {
			b.Fatal(err)
		}
	}
	an := analyser(b)
	for _, c := range []struct{ name, sql, baseline string }{
		{"prevalence", `SELECT region, sex, count(DISTINCT person_id) AS persons FROM patients JOIN gp_events USING (person_id) WHERE code = 'E11' GROUP BY region, sex`,
			`SELECT region, sex, count(DISTINCT person_id) AS persons FROM patients JOIN gp_events USING (person_id) WHERE code = 'E11' GROUP BY region, sex`},
		{"rollup", `SELECT region, sex, count(*) AS n FROM patients JOIN gp_events USING (person_id) GROUP BY ROLLUP (region, sex)`,
			`SELECT region, sex, count(*) AS n, count(DISTINCT person_id) AS p FROM patients JOIN gp_events USING (person_id) GROUP BY ROLLUP (region, sex)`},
		{"cost", `SELECT practice, sum(cost) AS cost FROM gp_events GROUP BY practice`,
			`SELECT practice, sum(cost) AS cost, count(DISTINCT person_id) AS p FROM gp_events GROUP BY practice`},
	} {
		q, err := an.Analyse(context.Background(), c.sql, testSchema())
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range []struct{ name, sql string }{{"raw", c.sql}, {"baseline", c.baseline}, {"rewritten", q.Rewritten}} {
			b.Run(fmt.Sprintf("%s/%s", c.name, v.name), func(b *testing.B) {
				for b.Loop() {
					rows, err := db.Query(v.sql)
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					rows.Close()
				}
			})
		}
	}
}
