package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/sqlrows"
)

// ReleaseService implements sde.ReleaseService.
type ReleaseService struct{ s *Store }

var _ sde.ReleaseService = (*ReleaseService)(nil)

// Record stores a release made by the caller. The access rule is checked again in the same
// transaction, so a release is never recorded for a workspace that was suspended meanwhile.
func (rs *ReleaseService) Record(ctx context.Context, r *sde.Release) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	switch r.Status {
	case sde.ReleaseReleased, sde.ReleaseReview, sde.ReleaseRefused:
	default:
		return sde.Errorf(sde.EINVALID, "A release's status is released, review or refused.")
	}
	var decision any
	if len(bytes.TrimSpace(r.Decision)) > 0 {
		if !json.Valid(r.Decision) {
			return sde.Errorf(sde.EINVALID, "The decision record is not valid JSON.")
		}
		decision = string(r.Decision)
	}
	if r.ID == "" {
		r.ID = sde.ReleaseID(newID("rel-"))
	}
	now := rs.s.Now()
	return rs.s.write(ctx, func(tx *sql.Tx) error {
		rec, err := visible(ctx, tx, rs.s, p, r.Workspace)
		if err != nil {
			return err
		}
		if err := access(p, rec, now, ""); err != nil {
			return err
		}
		if dup, err := exists(ctx, tx, "SELECT 1 FROM releases WHERE id = ?", r.ID); err != nil {
			return err
		} else if dup {
			return sde.Errorf(sde.ECONFLICT, "Release %s is already recorded.", r.ID)
		}
		r.User, r.CreatedAt = p.User, now
		var ledger, held any
		if len(r.Ledger) > 0 {
			ledger = string(r.Ledger)
		}
		if len(r.Held) > 0 {
			if r.Status != sde.ReleaseReview || !json.Valid(r.Held) {
				return sde.Errorf(sde.EINVALID, "Only a result held for review is stored with its release.")
			}
			held = string(r.Held)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO releases (id, workspace_id, query_id, user_id, status, decision, created_at, ledger, ledger_key, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			r.ID, r.Workspace, r.QueryID, r.User, r.Status, decision, ts(now), ledger, r.LedgerKey, held)
		return err
	})
}

// List returns a workspace's releases, oldest first, to those who may see the workspace.
func (rs *ReleaseService) List(ctx context.Context, ws sde.WorkspaceID) ([]*sde.Release, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out []*sde.Release
	err = rs.s.read(ctx, func(tx *sql.Tx) error {
		if _, err := visible(ctx, tx, rs.s, p, ws); err != nil {
			return err
		}
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			r := &sde.Release{Workspace: ws}
			var decision sql.NullString
			var at string
			if err := rows.Scan(&r.ID, &r.QueryID, &r.User, &r.Status, &decision, &at); err != nil {
				return err
			}
			if decision.Valid {
				r.Decision = json.RawMessage(decision.String)
			}
			r.CreatedAt = parseTS(at)
			out = append(out, r)
			return nil
		}, "SELECT id, query_id, user_id, status, decision, created_at FROM releases WHERE workspace_id = ? ORDER BY created_at, rowid", ws)
	})
	return out, err
}

// Ledger returns the ledger entries of a workspace's releases with key, oldest first. Only callers who may
// query the workspace get them (the engine runs as the analyst), and they never leave the service.
func (rs *ReleaseService) Ledger(ctx context.Context, ws sde.WorkspaceID, key string) ([]json.RawMessage, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	err = rs.s.read(ctx, func(tx *sql.Tx) error {
		rec, err := visible(ctx, tx, rs.s, p, ws)
		if err != nil {
			return err
		}
		// Any member who may run queries or refresh dashboards needs the ledger's comparison; it
		// never leaves the service.
		if err := access(p, rec, rs.s.Now(), ""); err != nil {
			return err
		}
		// The same query releasing the same table again (a dashboard refresh, a re-run) adds
		// nothing to compare with: identical entries are read once, so the differencing check
		// does not grow with repetition.
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			var l string
			if err := rows.Scan(&l); err != nil {
				return err
			}
			out = append(out, json.RawMessage(l))
			return nil
		}, "SELECT ledger FROM releases WHERE workspace_id = ? AND ledger_key = ? AND ledger IS NOT NULL AND status = 'released' GROUP BY ledger ORDER BY min(created_at), min(rowid)", ws, key)
	})
	return out, err
}
