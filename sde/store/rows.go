package store

import (
	"context"
	"database/sql"
)

// eachRow runs query and hands each result row to row, in order. It always closes the rows and
// returns an error met while reading them, so a list is never silently cut short.
func eachRow(ctx context.Context, tx *sql.Tx, row func(*sql.Rows) error, query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryStrings returns the one string column of query's rows.
func queryStrings(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	var out []string
	err := eachRow(ctx, tx, func(r *sql.Rows) error {
		var s string
		err := r.Scan(&s)
		out = append(out, s)
		return err
	}, query, args...)
	return out, err
}
