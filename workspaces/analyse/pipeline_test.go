//go:build duckdb_arrow

package analyse

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/opensde/sde/disclosure"
)

// TestPipeline runs every accepted query's rewrite through Arrow, Stats and the
// disclosure engine: the engine refuses (ErrInvalid) any plan, statistics or
// margins that do not fit the values, so this checks the rewrite and Stats
// against the engine's own contract.
func TestPipeline(t *testing.T) {
	ctx := context.Background()
	an := analyser(t)
	db := fixtureDB(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, text := range accepted {
		t.Run(short(text), func(t *testing.T) {
			q, err := an.Analyse(ctx, text, testSchema())
			if err != nil {
				t.Fatal(err)
			}
			rec := arrowQuery(t, conn, q.Rewritten)
			defer rec.Release()
			vis, stats, sets, err := q.Stats(rec)
			if err != nil {
				t.Fatal(err)
			}
			defer vis.Release()
			plan := q.Plan
			plan.RowSets = sets
			for _, pol := range []disclosure.Policy{disclosure.DefaultPolicy(), permissive()} {
				res, err := disclosure.Apply(disclosure.Input{Record: vis, Plan: plan, Stats: stats, Policy: pol, Query: q.Fingerprint, Ledger: &disclosure.MemLedger{}})
				if err != nil {
					t.Fatalf("engine: %v\n%s", err, q.Rewritten)
				}
				res.Record.Release()
			}
		})
	}
}

// permissive allows every aggregate, so the engine validates all measures.
func permissive() disclosure.Policy {
	p := disclosure.DefaultPolicy()
	p.Refuse = []disclosure.Aggregate{}
	return p
}

func arrowQuery(t *testing.T, conn interface {
	Raw(func(any) error) error
}, text string) arrow.RecordBatch {
	t.Helper()
	var out arrow.RecordBatch
	err := conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rdr, err := ar.QueryContext(context.Background(), text)
		if err != nil {
			return err
		}
		defer rdr.Release()
		var recs []arrow.RecordBatch
		for rdr.Next() {
			r := rdr.RecordBatch()
			r.Retain()
			recs = append(recs, r)
		}
		if len(recs) == 0 {
			return errors.New("no record")
		}
		out = concat(t, recs)
		return rdr.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// concat joins the reader's batches into one record.
func concat(t *testing.T, recs []arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	if len(recs) == 1 {
		return recs[0]
	}
	var cols []arrow.Array
	var n int64
	for j := 0; j < int(recs[0].NumCols()); j++ {
		var parts []arrow.Array
		for _, r := range recs {
			parts = append(parts, r.Column(j))
		}
		c, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	for _, r := range recs {
		n += r.NumRows()
		defer r.Release()
	}
	return array.NewRecordBatch(recs[0].Schema(), cols, n)
}
