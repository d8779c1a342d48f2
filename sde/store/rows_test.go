package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

// eachRow returns a failing query's error and stops at the first row its callback refuses, so a
// list read from the store is either whole or an error, never silently short.
func TestEachRowStopsOnError(t *testing.T) {
	s, _, _ := open(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := eachRow(ctx, tx, func(*sql.Rows) error { return nil }, "SELECT nope FROM no_such_table"); err == nil {
			t.Error("a failing query gave no error")
		}
		seen := 0
		err := eachRow(ctx, tx, func(r *sql.Rows) error {
			seen++
			if seen == 2 {
				return boom
			}
			return nil
		}, "SELECT value FROM json_each('[1,2,3,4]')")
		if !errors.Is(err, boom) || seen != 2 {
			t.Errorf("err %v after %d rows; want boom after 2", err, seen)
		}
		got, err := queryStrings(ctx, tx, "SELECT value FROM json_each('[\"a\",\"b\"]')")
		if err != nil || len(got) != 2 || got[0] != "a" || got[1] != "b" {
			t.Errorf("queryStrings = %v, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
