package sqlrows

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	_ "modernc.org/sqlite"
)

// Each returns a failing query's error and stops at the first row its callback refuses.
func TestEachStopsOnError(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := Each(ctx, db, func(*sql.Rows) error { return nil }, "SELECT nope FROM no_such_table"); err == nil {
		t.Error("a failing query gave no error")
	}
	boom, seen := errors.New("boom"), 0
	err = Each(ctx, db, func(*sql.Rows) error {
		if seen++; seen == 2 {
			return boom
		}
		return nil
	}, "SELECT value FROM json_each('[1,2,3,4]')")
	if !errors.Is(err, boom) || seen != 2 {
		t.Errorf("err %v after %d rows; want boom after 2", err, seen)
	}
	got, err := Strings(ctx, db, "SELECT value FROM json_each(?)", `["a","b"]`)
	if err != nil || len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Strings = %v, %v", got, err)
	}
	if _, err := Strings(ctx, db, "SELECT 1, 2"); err == nil {
		t.Error("Strings over two columns gave no error")
	}
}
