package store

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/sqlrows"
)

// QueryService implements sde.QueryService.
type QueryService struct{ s *Store }

var _ sde.QueryService = (*QueryService)(nil)

// maxSQL bounds a stored query's text; the analyser refuses longer ones first.
const maxSQL = 1 << 20

// Create records a running query by the caller, who must be able to query the workspace now.
func (qs *QueryService) Create(ctx context.Context, q *sde.QueryRecord) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if len(q.SQL) > maxSQL {
		return sde.Errorf(sde.ETOOLARGE, "The query is too long.")
	}
	if q.ID == "" {
		q.ID = sde.NewID("q-")
	}
	now := qs.s.Now()
	return qs.s.write(ctx, func(tx *sql.Tx) error {
		rec, err := visible(ctx, tx, qs.s, p, q.Workspace)
		if err != nil {
			return err
		}
		if err := access(p, rec, now, sde.RoleAnalyst); err != nil {
			return err
		}
		q.User, q.State, q.CreatedAt = p.User, sde.QueryRunning, now
		_, err = tx.ExecContext(ctx, "INSERT INTO queries (id, workspace_id, user_id, sql, state, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			q.ID, q.Workspace, q.User, q.SQL, q.State, ts(now))
		return err
	})
}

// Finish records the outcome of one of the caller's queries with its release, in one
// transaction: the release's access check (the workspace may have been suspended meanwhile)
// and the query's record stand or fall together. A query never created (run while the caller
// waits: one write instead of three) is inserted finished after the analyst check Create makes.
func (qs *QueryService) Finish(ctx context.Context, q *sde.QueryRecord, rel *sde.Release) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if q.State != sde.QueryDone && q.State != sde.QueryFailed {
		return sde.Errorf(sde.EINVALID, "A query finishes done or failed.")
	}
	if len(q.SQL) > maxSQL {
		return sde.Errorf(sde.ETOOLARGE, "The query is too long.")
	}
	var result, code, msg, release any
	if len(q.Result) > 0 {
		if !json.Valid(q.Result) {
			return sde.Errorf(sde.EINVALID, "The query result is not valid JSON.")
		}
		result = string(q.Result)
	}
	if q.Error != nil {
		code, msg = q.Error.Code, q.Error.Message
	}
	if rel != nil {
		if err := checkRelease(rel); err != nil {
			return err
		}
		if rel.ID == "" {
			rel.ID = sde.ReleaseID(sde.NewID("rel-"))
		}
		q.Release = rel.ID // a refused result's release too
	}
	if q.Release != "" {
		release = string(q.Release)
	}
	// The record changes only once the transaction commits, so a caller may retry a failed
	// Finish as it was (a query never created is still inserted).
	id, inserting := q.ID, q.CreatedAt.IsZero()
	if id == "" {
		id = sde.NewID("q-")
	}
	now := qs.s.Now()
	err = qs.s.write(ctx, func(tx *sql.Tx) error {
		var rec *wsRecord
		if inserting {
			if rec, err = visible(ctx, tx, qs.s, p, q.Workspace); err != nil {
				return err
			}
		} else {
			res, err := tx.ExecContext(ctx, "UPDATE queries SET state = ?, release_id = ?, result = ?, error_code = ?, error_msg = ?, finished_at = ? WHERE id = ? AND user_id = ? AND state = 'running'",
				q.State, release, result, code, msg, ts(now), id, p.User)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return sde.Errorf(sde.ENOTFOUND, "No running query %s.", id)
			}
			if rel == nil {
				return nil // a failure is recorded whatever has changed since
			}
			var ws sde.WorkspaceID
			if err := tx.QueryRowContext(ctx, "SELECT workspace_id FROM queries WHERE id = ?", id).Scan(&ws); err != nil {
				return err
			}
			if rec, err = visible(ctx, tx, qs.s, p, ws); err != nil {
				return err
			}
		}
		// Recording a query, or its release, takes an analyst who may query the workspace now.
		if err := access(p, rec, now, sde.RoleAnalyst); err != nil {
			return err
		}
		if inserting {
			if _, err := tx.ExecContext(ctx, "INSERT INTO queries (id, workspace_id, user_id, sql, state, release_id, result, error_code, error_msg, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				id, rec.ws.ID, p.User, q.SQL, q.State, release, result, code, msg, ts(now), ts(now)); err != nil {
				return err
			}
		}
		if rel == nil {
			return nil
		}
		// The release is the query's, in the query's workspace, whatever the caller sent.
		r := *rel
		r.Workspace, r.QueryID = rec.ws.ID, id
		if err := insertRelease(ctx, tx, p, &r, now); err != nil {
			return err
		}
		*rel = r
		return nil
	})
	if err != nil {
		return err
	}
	q.ID, q.FinishedAt = id, &now
	if inserting {
		q.User, q.CreatedAt = p.User, now
	}
	return nil
}

// Get returns one of the caller's own queries.
func (qs *QueryService) Get(ctx context.Context, id string) (*sde.QueryRecord, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var q *sde.QueryRecord
	err = qs.s.read(ctx, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, "SELECT "+queryCols+", q.result FROM queries q LEFT JOIN releases r ON r.id = q.release_id WHERE q.id = ? AND q.user_id = ?", id, p.User)
		q, err = scanQuery(row, true)
		if err == sql.ErrNoRows {
			return sde.Errorf(sde.ENOTFOUND, "No query %s.", id)
		}
		return err
	})
	return q, err
}

// List returns the caller's queries in a workspace, newest first, without results.
func (qs *QueryService) List(ctx context.Context, ws sde.WorkspaceID) ([]*sde.QueryRecord, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out []*sde.QueryRecord
	err = qs.s.read(ctx, func(tx *sql.Tx) error {
		if _, err := visible(ctx, tx, qs.s, p, ws); err != nil {
			return err
		}
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			q, err := scanQuery(rows, false)
			if err != nil {
				return err
			}
			out = append(out, q)
			return nil
		}, "SELECT "+queryCols+", NULL FROM queries q LEFT JOIN releases r ON r.id = q.release_id WHERE q.workspace_id = ? AND q.user_id = ? ORDER BY q.created_at DESC, q.rowid DESC", ws, p.User)
	})
	return out, err
}

// queryCols are read with the release's current status (review turns to released when two
// checkers approve); the result column follows them.
const queryCols = "q.id, q.workspace_id, q.user_id, q.sql, q.state, q.release_id, r.status, q.error_code, q.error_msg, q.created_at, q.finished_at"

func scanQuery(sc interface{ Scan(...any) error }, withResult bool) (*sde.QueryRecord, error) {
	q := &sde.QueryRecord{}
	var release, status, result, code, msg, finished sql.NullString
	var created string
	if err := sc.Scan(&q.ID, &q.Workspace, &q.User, &q.SQL, &q.State, &release, &status, &code, &msg, &created, &finished, &result); err != nil {
		return nil, err
	}
	q.Release, q.Status = sde.ReleaseID(release.String), status.String
	if withResult && result.Valid {
		q.Result = json.RawMessage(result.String)
	}
	if code.Valid {
		q.Error = &sde.QueryError{Code: code.String, Message: msg.String}
	}
	q.CreatedAt = parseTS(created)
	if finished.Valid {
		t := parseTS(finished.String)
		q.FinishedAt = &t
	}
	return q, nil
}
