package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/sqlrows"
)

// ReviewService implements sde.ReviewService.
type ReviewService struct{ s *Store }

var _ sde.ReviewService = (*ReviewService)(nil)

// reviewsNeeded is how many different checkers must approve a held result.
const reviewsNeeded = 2

// Queue lists held results the caller has not reviewed yet, oldest first; checkers only, and
// never their own requests.
func (rv *ReviewService) Queue(ctx context.Context) ([]*sde.ReviewItem, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := requireRole(p, sde.RoleChecker, "review outputs"); err != nil {
		return nil, err
	}
	var out []*sde.ReviewItem
	err = rv.s.read(ctx, func(tx *sql.Tx) error {
		ids, err := sqlrows.Strings(ctx, tx, "SELECT id FROM releases WHERE status = 'review' AND user_id <> ? AND id NOT IN (SELECT release_id FROM release_reviews WHERE checker = ?) ORDER BY created_at, rowid", p.User, p.User)
		if err != nil {
			return err
		}
		for _, id := range ids {
			it, err := loadReview(ctx, tx, sde.ReleaseID(id))
			if err != nil {
				return err
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// Decide records a checker's verdict. The second approval by a different checker releases the
// result: it becomes the requester's query result and enters the differencing ledger. A rejection
// refuses it for good.
func (rv *ReviewService) Decide(ctx context.Context, id sde.ReleaseID, verdict, comment string) (*sde.ReviewItem, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := requireRole(p, sde.RoleChecker, "review outputs"); err != nil {
		return nil, err
	}
	if verdict != sde.ReviewApproved && verdict != sde.ReviewRejected {
		return nil, sde.Errorf(sde.EINVALID, "A verdict is approved or rejected.")
	}
	if strings.TrimSpace(comment) == "" {
		return nil, sde.Errorf(sde.EINVALID, "Say why in a comment; it is kept with the release.")
	}
	now := rv.s.Now()
	var it *sde.ReviewItem
	err = rv.s.write(ctx, func(tx *sql.Tx) error {
		if it, err = loadReview(ctx, tx, id); err != nil {
			return err
		}
		switch {
		case it.Requester == p.User:
			return sde.Errorf(sde.EFORBIDDEN, "You may not review your own output.")
		case it.Status != sde.ReleaseReview:
			return sde.Errorf(sde.ECONFLICT, "This output is no longer waiting for review (it is %s).", it.Status)
		}
		for _, r := range it.Reviews {
			if r.Checker == p.User {
				return sde.Errorf(sde.ECONFLICT, "You have already reviewed this output; a second checker must.")
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO release_reviews (release_id, checker, verdict, comment, at) VALUES (?, ?, ?, ?, ?)", id, p.User, verdict, comment, ts(now)); err != nil {
			return err
		}
		it.Reviews = append(it.Reviews, sde.Review{Checker: p.User, Verdict: verdict, Comment: comment, At: now})
		approvals := 0
		for _, r := range it.Reviews {
			if r.Verdict == sde.ReviewApproved {
				approvals++
			}
		}
		switch {
		case verdict == sde.ReviewRejected:
			it.Status = sde.ReleaseRefused
			if _, err := tx.ExecContext(ctx, "UPDATE releases SET status = 'refused', held = NULL WHERE id = ?", id); err != nil {
				return err
			}
		case approvals >= reviewsNeeded:
			it.Status = sde.ReleaseReleased
			var ws sde.WorkspaceID
			var key, entry sql.NullString
			if err := tx.QueryRowContext(ctx, "UPDATE releases SET status = 'released' WHERE id = ? RETURNING workspace_id, ledger_key, ledger", id).Scan(&ws, &key, &entry); err != nil {
				return err
			}
			if err := addToLedger(ctx, tx, ws, key.String, entry.String, id, now); err != nil {
				return err
			}
			// The requester's query now carries the released result.
			released, err := markReleased(it.Result)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE queries SET result = ? WHERE id = ?", string(released), it.QueryID); err != nil {
				return err
			}
		}
		return nil
	})
	return it, err
}

// markReleased sets a held result's status to released.
func markReleased(held json.RawMessage) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(held, &m); err != nil {
		return nil, err
	}
	m["status"] = sde.ReleaseReleased
	delete(m, "message")
	return json.Marshal(m)
}

func loadReview(ctx context.Context, tx *sql.Tx, id sde.ReleaseID) (*sde.ReviewItem, error) {
	it := &sde.ReviewItem{Release: id, Reviews: []sde.Review{}}
	var decision, held sql.NullString
	var created string
	err := tx.QueryRowContext(ctx, "SELECT workspace_id, query_id, user_id, status, decision, held, created_at FROM releases WHERE id = ?", id).
		Scan(&it.Workspace, &it.QueryID, &it.Requester, &it.Status, &decision, &held, &created)
	if err == sql.ErrNoRows {
		return nil, sde.Errorf(sde.ENOTFOUND, "No output %s is waiting for review.", id)
	} else if err != nil {
		return nil, err
	}
	if held.String == "" && it.Status == sde.ReleaseReview {
		return nil, sde.Errorf(sde.ENOTFOUND, "No output %s is waiting for review.", id)
	}
	it.Decision, it.Result, it.CreatedAt = json.RawMessage(decision.String), json.RawMessage(held.String), parseTS(created)
	err = sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
		var r sde.Review
		var at string
		if err := rows.Scan(&r.Checker, &r.Verdict, &r.Comment, &at); err != nil {
			return err
		}
		r.At = parseTS(at)
		it.Reviews = append(it.Reviews, r)
		return nil
	}, "SELECT checker, verdict, comment, at FROM release_reviews WHERE release_id = ? ORDER BY at, checker", id)
	if err != nil {
		return nil, err
	}
	return it, nil
}
