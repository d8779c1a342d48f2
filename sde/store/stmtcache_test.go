package store

import (
	"context"
	"database/sql"
	"testing"

	"github.com/opensde/sde/sde/sqlrows"
)

// TestKeptStatementsNestAndRepeat: a text run again inside its own row loop (the kept
// statement is busy) gets a statement of its own, and both loops read every row; repeated
// texts are compiled once per connection.
func TestKeptStatementsNestAndRepeat(t *testing.T) {
	st, _ := seeded(t)
	ctx := context.Background()
	const q = "SELECT code FROM organisations WHERE code >= ? ORDER BY code"
	for round := 0; round < 3; round++ {
		err := st.read(ctx, func(tx *sql.Tx) error {
			outer, inner := 0, 0
			err := sqlrows.Each(ctx, tx, func(r *sql.Rows) error {
				outer++
				ids, err := sqlrows.Strings(ctx, tx, q, "")
				inner += len(ids)
				return err
			}, q, "")
			if err != nil {
				return err
			}
			if outer == 0 || inner != outer*outer {
				t.Errorf("round %d: outer loop read %d rows, inner loops %d in all", round, outer, inner)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// One connection ran every round (the read pool reuses an idle one): the text is kept once.
	conn, err := st.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Raw(func(dc any) error {
		c := dc.(*stmtConn)
		if cs := c.stmts[q]; cs == nil || cs.busy {
			t.Errorf("the statement is not kept, or still busy after its rows closed: %+v", cs)
		}
		return nil
	})
	// A script of several statements is never kept.
	const script = "SELECT 1; SELECT 2"
	w, err := st.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.ExecContext(ctx, script); err != nil {
		t.Fatal(err)
	}
	w.Raw(func(dc any) error {
		if dc.(*stmtConn).stmts[script] != nil {
			t.Errorf("a script was kept")
		}
		return nil
	})
}
