//go:build duckdb_arrow

package catalog

import (
	"context"
	"database/sql/driver"
	"errors"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/opensde/sde/sde"
)

// loadArrow copies an Arrow IPC file or stream into src. The registered view is copied into a
// table at once and dropped: DuckDB's Arrow scan returns wrong data when it pushes projections
// or filters into the view (DESIGN.md), and a full copy asks for neither.
func (s *session) loadArrow(ctx context.Context, path, name string) error {
	bad := func(err error) error {
		return sde.Wrap(scrub(err), sde.EINVALID, "The Arrow IPC file %q cannot be read: it is damaged, truncated or not Arrow IPC.", name)
	}
	f, err := os.Open(path)
	if err != nil {
		return bad(err)
	}
	defer f.Close()
	var rdr array.RecordReader
	if fr, err := ipc.NewFileReader(f); err == nil {
		recs := make([]arrow.RecordBatch, 0, fr.NumRecords())
		defer func() {
			for _, r := range recs {
				r.Release()
			}
		}()
		for i := 0; i < fr.NumRecords(); i++ {
			r, err := fr.RecordBatch(i)
			if err != nil {
				return bad(err)
			}
			r.Retain()
			recs = append(recs, r)
		}
		rr, err := array.NewRecordReader(fr.Schema(), recs)
		if err != nil {
			return bad(err)
		}
		rdr = rr
	} else {
		if _, err := f.Seek(0, 0); err != nil {
			return bad(err)
		}
		sr, err := ipc.NewReader(f)
		if err != nil {
			return bad(err)
		}
		rdr = sr
	}
	defer rdr.Release()
	var streamErr error
	err = s.conn.Raw(func(dc any) error {
		a, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		release, err := a.RegisterView(rdr, "arrow_source")
		if err != nil {
			return err
		}
		defer release()
		_, err = dc.(driver.ExecerContext).ExecContext(ctx, "CREATE TEMP TABLE src AS SELECT * FROM arrow_source", nil)
		if sr, ok := rdr.(*ipc.Reader); ok && sr.Err() != nil {
			streamErr = sr.Err()
		}
		if _, derr := dc.(driver.ExecerContext).ExecContext(ctx, "DROP VIEW IF EXISTS arrow_source", nil); err == nil {
			err = derr
		}
		return err
	})
	if streamErr != nil {
		return bad(streamErr)
	}
	if err != nil {
		if oomRe.MatchString(err.Error()) {
			return s.fail(err, "read the source")
		}
		return bad(errors.Join(err))
	}
	return nil
}
