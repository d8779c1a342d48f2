//go:build !duckdb_arrow

package worker

import (
	"context"
	"errors"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// The worker streams DuckDB's Arrow results, which duckdb-go only builds with -tags duckdb_arrow.
type engine struct{}

var errNoArrow = errors.New("this build of sde has no DuckDB Arrow support; rebuild with -tags duckdb_arrow")

var errNotSelect = errors.New("not a single SELECT statement")

func openEngine(ctx context.Context, o Options, private string) (*engine, error) {
	return nil, errNoArrow
}

func (e *engine) close() error { return nil }

func (e *engine) query(ctx context.Context, text string, emit func(array.RecordReader) error) error {
	return errNoArrow
}
