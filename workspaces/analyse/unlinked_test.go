//go:build duckdb_arrow

package analyse

import (
	"context"
	"testing"

	"github.com/opensde/sde/disclosure"
)

// TestUnlinkedRows: records with no person (NULL person_id, e.g. social care without an NHS
// number) must not make a SUM unverifiable.
func TestUnlinkedRows(t *testing.T) {
	ctx := context.Background()
	db := fixtureDB(t)
	if _, err := db.Exec(`CREATE TABLE care (person_id VARCHAR, service VARCHAR, cost DOUBLE);
		INSERT INTO care SELECT CASE WHEN i % 5 = 0 THEN NULL ELSE 'P' || (i % 40) END, CASE WHEN i % 2 = 0 THEN 'home' ELSE 'day' END, 100 + i FROM range(400) t(i)`); err != nil {
		t.Fatal(err)
	}
	conn, _ := db.Conn(ctx)
	defer conn.Close()
	schema := Schema{Tables: []Table{{Name: "care", Columns: []Column{{"person_id", "VARCHAR"}, {"service", "VARCHAR"}, {"cost", "DOUBLE"}}}}}
	for _, text := range []string{
		"SELECT service, sum(cost) AS cost FROM care GROUP BY service",
		"SELECT service, avg(cost) AS cost FROM care GROUP BY service",
		"SELECT service, count(*) AS n FROM care GROUP BY service",
	} {
		q, err := analyser(t).Analyse(ctx, text, schema)
		if err != nil {
			t.Fatal(err)
		}
		rec := arrowQuery(t, conn, q.Rewritten)
		vis, stats, sets, err := q.Stats(rec)
		if err != nil {
			t.Fatal(err)
		}
		plan := q.Plan
		plan.RowSets = sets
		res, err := disclosure.Apply(disclosure.Input{Record: vis, Plan: plan, Stats: stats, Policy: disclosure.DefaultPolicy(), Query: q.Fingerprint})
		if err != nil {
			t.Errorf("%s: %v\nstats %+v", text, err, stats)
			continue
		}
		res.Record.Release()
		// 16 linked people per service, and the unlinked records together as one more.
		for i, st := range stats {
			if st.Persons != 17 {
				t.Errorf("%s: row %d persons = %d, want 17", text, i, st.Persons)
			}
		}
		if res.Decision.Status != disclosure.Pass {
			t.Errorf("%s: %s %v", text, res.Decision.Status, res.Decision.Reasons)
		}
	}
}
