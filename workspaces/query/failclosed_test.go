//go:build duckdb_arrow

package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/workspaces/analyse"
)

// TestUncheckableResultReleasesNothing: a result disclosure control cannot vouch for (here a
// non-finite sum, which ingest and the rewrite keep out of real data) is refused with the
// fail-closed message, and no release is made. Real DuckDB runs the analyser's rewritten SQL.
func TestUncheckableResultReleasesNothing(t *testing.T) {
	ctx := context.Background()
	an, err := analyse.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	schema := analyse.Schema{Tables: []analyse.Table{{Name: "costs", Linked: true, Columns: []analyse.Column{
		{Name: "person_id", Type: "VARCHAR"}, {Name: "service", Type: "VARCHAR"}, {Name: "cost", Type: "DOUBLE"}}}}}
	q, err := an.Analyse(ctx, "SELECT service, sum(cost) AS total FROM costs GROUP BY service", schema)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE costs AS SELECT 'p' || (i % 40) AS person_id, 'home care' AS service,
		CASE WHEN i = 7 THEN 'nan'::DOUBLE ELSE 10.0 END AS cost FROM range(200) t(i)`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rec arrow.RecordBatch
	if err := conn.Raw(func(dc any) error {
		a, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rr, err := a.QueryContext(ctx, q.Rewritten)
		if err != nil {
			return err
		}
		rec, err = collect(rr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rec.Release()

	s := &Service{Releases: &fakeReleases{}}
	res, rel, err := s.decide(ctx, "ws", "q-1", q, rec, DefaultPolicy(), q.Fingerprint.Key())
	if sde.ErrorCode(err) != sde.EREFUSED || !strings.Contains(sde.ErrorMessage(err), "could not check this result") {
		t.Fatalf("decide = %v", err)
	}
	if res != nil || rel != nil {
		t.Errorf("something would be released: %+v %+v", res, rel)
	}
}
