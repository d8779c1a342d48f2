// Package sqlrows reads database/sql result rows one way everywhere: the rows are always closed
// and an error met while reading them is returned, so a list is either whole or an error, never
// silently short.
package sqlrows

import (
	"context"
	"database/sql"
)

// Querier is a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Each runs query and hands each result row to row, in order, stopping at the first error.
func Each(ctx context.Context, q Querier, row func(*sql.Rows) error, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
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

// Strings returns the one string column of query's rows.
func Strings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	var out []string
	err := Each(ctx, q, func(r *sql.Rows) error {
		var s string
		err := r.Scan(&s)
		out = append(out, s)
		return err
	}, query, args...)
	return out, err
}
