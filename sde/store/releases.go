package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"time"

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
	if err := checkRelease(r); err != nil {
		return err
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
		return insertRelease(ctx, tx, p, r, now)
	})
}

// checkRelease validates a release before any transaction starts.
func checkRelease(r *sde.Release) error {
	switch r.Status {
	case sde.ReleaseReleased, sde.ReleaseReview, sde.ReleaseRefused:
	default:
		return sde.Errorf(sde.EINVALID, "A release's status is released, review or refused.")
	}
	if len(bytes.TrimSpace(r.Decision)) > 0 && !json.Valid(r.Decision) {
		return sde.Errorf(sde.EINVALID, "The decision record is not valid JSON.")
	}
	if len(r.Held) > 0 && (r.Status != sde.ReleaseReview || !json.Valid(r.Held)) {
		return sde.Errorf(sde.EINVALID, "Only a result held for review is stored with its release.")
	}
	return nil
}

// insertRelease writes a checked release by p, whose access the transaction has confirmed; a
// released table enters the differencing ledger in the same transaction.
func insertRelease(ctx context.Context, tx *sql.Tx, p *sde.Principal, r *sde.Release, now time.Time) error {
	if r.ID == "" {
		r.ID = sde.ReleaseID(sde.NewID("rel-"))
	}
	if dup, err := exists(ctx, tx, "SELECT 1 FROM releases WHERE id = ?", r.ID); err != nil {
		return err
	} else if dup {
		return sde.Errorf(sde.ECONFLICT, "Release %s is already recorded.", r.ID)
	}
	r.User, r.CreatedAt = p.User, now
	var decision, ledger, held any
	if len(bytes.TrimSpace(r.Decision)) > 0 {
		decision = string(r.Decision)
	}
	// A released table's entry lives in the ledger table (once, however often it is released);
	// a held one waits on its release until the checkers decide.
	if len(r.Ledger) > 0 && r.Status == sde.ReleaseReview {
		ledger = string(r.Ledger)
	}
	if len(r.Held) > 0 {
		held = string(r.Held)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO releases (id, workspace_id, query_id, user_id, status, decision, created_at, ledger, ledger_key, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.Workspace, r.QueryID, r.User, r.Status, decision, ts(now), ledger, r.LedgerKey, held); err != nil {
		return err
	}
	if r.Status != sde.ReleaseReleased {
		return nil
	}
	return addToLedger(ctx, tx, r.Workspace, r.LedgerKey, string(r.Ledger), r.ID, now)
}

// addToLedger enters a released table into the workspace's differencing ledger unless the same
// table was released under the same key before: a repeat (a dashboard refresh, a re-run) adds
// nothing to compare with, so the ledger grows with what was released, not with how often.
func addToLedger(ctx context.Context, tx *sql.Tx, ws sde.WorkspaceID, key, entry string, id sde.ReleaseID, now time.Time) error {
	if key == "" || entry == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(entry))
	_, err := tx.ExecContext(ctx, `INSERT INTO ledger (workspace_id, ledger_key, digest, entry, release_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, ledger_key, digest) DO NOTHING`, ws, key, hex.EncodeToString(sum[:]), entry, id, ts(now))
	return err
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

// Ledger returns the ledger entries under key in ws with seq above after, oldest first. Only
// callers who may query the workspace get them (the engine runs as the analyst), and they never
// leave the service. seq is the ledger's INTEGER PRIMARY KEY and no entry is ever deleted, so
// each new entry's is higher than every earlier one's.
func (rs *ReleaseService) Ledger(ctx context.Context, ws sde.WorkspaceID, key string, after int64) ([]sde.LedgerEntry, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out []sde.LedgerEntry
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
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			var e sde.LedgerEntry
			var l string
			if err := rows.Scan(&e.Seq, &l); err != nil {
				return err
			}
			e.Entry = json.RawMessage(l)
			out = append(out, e)
			return nil
		}, "SELECT seq, entry FROM ledger WHERE workspace_id = ? AND ledger_key = ? AND seq > ? ORDER BY seq", ws, key, after)
	})
	return out, err
}
