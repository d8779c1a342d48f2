//go:build !duckdb_arrow

package catalog

import (
	"context"

	"github.com/opensde/sde/sde"
)

// loadArrow needs DuckDB's Arrow API, which duckdb-go only builds with -tags duckdb_arrow.
func (s *session) loadArrow(ctx context.Context, path, name string) error {
	return sde.Errorf(sde.EINVALID, "This build of sde cannot read Arrow IPC; rebuild with -tags duckdb_arrow (make build does).")
}
