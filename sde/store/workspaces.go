package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/sqlrows"
)

// WorkspaceService implements sde.WorkspaceService.
type WorkspaceService struct{ s *Store }

var _ sde.WorkspaceService = (*WorkspaceService)(nil)

// wsRecord is a workspace as stored, with what its derived state depends on.
type wsRecord struct {
	ws            *sde.Workspace
	ag            *sde.Agreement
	storedState   string
	archiveReason string
}

// Request creates a workspace request. The requester (an analyst) becomes an analyst member;
// every dataset gets a pending approval for its controlling organisation.
func (svc *WorkspaceService) Request(ctx context.Context, ws *sde.Workspace) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := requireRole(p, sde.RoleAnalyst, "request a workspace"); err != nil {
		return err
	}
	if p.Has(sde.RoleAdmin) {
		return sde.Errorf(sde.EFORBIDDEN, "Administrators may not request workspaces.")
	}
	now := svc.s.Now()
	ws.Name, ws.Purpose = strings.TrimSpace(ws.Name), strings.TrimSpace(ws.Purpose)
	var missing []string
	for _, f := range []struct {
		name  string
		empty bool
	}{
		{"name", ws.Name == ""},
		{"purpose", ws.Purpose == ""},
		{"agreement", ws.Agreement == ""},
		{"datasets", len(ws.Datasets) == 0},
		{"end date", ws.EndDate.IsZero()},
	} {
		if f.empty {
			missing = append(missing, f.name)
		}
	}
	switch {
	case len(missing) > 0:
		return sde.Errorf(sde.EINVALID, "The workspace request is missing: %s.", strings.Join(missing, ", "))
	case !identRe.MatchString(ws.Name):
		return sde.Errorf(sde.EINVALID, "A workspace name is lower-case letters, digits, '-' or '_', starting with a letter (at most 63).")
	case ws.ID != "" && string(ws.ID) != ws.Name:
		return sde.Errorf(sde.EINVALID, "A workspace's id is its name.")
	case !ws.EndDate.After(now):
		return sde.Errorf(sde.EINVALID, "The end date must be in the future.")
	}
	ws.ID, ws.EndDate = sde.WorkspaceID(ws.Name), ws.EndDate.UTC()
	members := []sde.Membership{}
	seen := map[sde.UserID]bool{}
	for _, m := range ws.Members {
		if seen[m.User] {
			return sde.Errorf(sde.EINVALID, "%s is listed twice as a member.", m.User)
		}
		seen[m.User] = true
		members = append(members, sde.Membership{User: m.User, Role: m.Role})
	}
	if !seen[p.User] {
		members = append([]sde.Membership{{User: p.User, Role: sde.RoleAnalyst}}, members...)
	}

	return svc.s.write(ctx, func(tx *sql.Tx) error {
		if me, err := loadPerson(ctx, tx, p.User); sde.ErrorCode(err) == sde.ENOTFOUND || (err == nil && !slices.Contains(me.Roles, sde.RoleAnalyst)) {
			return sde.Errorf(sde.EFORBIDDEN, "You are not registered as an analyst; ask an administrator.")
		} else if err != nil {
			return err
		}
		ag, err := loadAgreement(ctx, tx, ws.Agreement)
		if sde.ErrorCode(err) == sde.ENOTFOUND {
			return sde.Errorf(sde.EINVALID, "Unknown agreement %q.", ws.Agreement)
		} else if err != nil {
			return err
		}
		switch ag.StateAt(now) {
		case sde.AgreementRevoked:
			return sde.Errorf(sde.ECONFLICT, "The agreement has been revoked; a workspace cannot be requested under it.")
		case sde.AgreementExpired:
			return sde.Errorf(sde.ECONFLICT, "The agreement has expired; a workspace cannot be requested under it.")
		}
		if ws.EndDate.After(ag.Expiry) {
			return sde.Errorf(sde.EINVALID, "The end date must not be after the agreement's expiry (%s).", ag.Expiry.Format(time.DateOnly))
		}
		if dup, err := exists(ctx, tx, "SELECT 1 FROM workspaces WHERE id = ? OR name = ?", ws.ID, ws.Name); err != nil {
			return err
		} else if dup {
			return sde.Errorf(sde.ECONFLICT, "The workspace name %q is taken.", ws.Name)
		}
		scopes := make([]sde.DatasetScope, 0, len(ws.Datasets))
		controllers := map[sde.DatasetName]sde.OrgCode{}
		for _, sc := range ws.Datasets {
			if _, dup := controllers[sc.Dataset]; dup {
				return sde.Errorf(sde.EINVALID, "Dataset %s is listed twice.", sc.Dataset)
			}
			d, err := loadDataset(ctx, tx, sc.Dataset)
			if sde.ErrorCode(err) == sde.ENOTFOUND {
				return sde.Errorf(sde.EINVALID, "Unknown dataset %q.", sc.Dataset)
			} else if err != nil {
				return err
			}
			i := slices.IndexFunc(ag.Datasets, func(a sde.DatasetScope) bool { return a.Dataset == d.Name })
			if i < 0 {
				return sde.Errorf(sde.EINVALID, "Dataset %s is not covered by the agreement.", d.Name)
			}
			allowed := ag.Datasets[i].Columns
			if err := checkColumns(d, sc.Columns, allowed); err != nil {
				return err
			}
			cols := slices.Clone(sc.Columns)
			if len(cols) == 0 { // everything the agreement allows, written out so the record is explicit
				cols = slices.Clone(allowed)
				if len(cols) == 0 {
					cols = slices.Clone(d.Columns)
				}
			}
			controllers[d.Name] = d.Controller
			scopes = append(scopes, sde.DatasetScope{Dataset: d.Name, Columns: cols})
		}
		for _, m := range members {
			if m.Role != sde.RoleAnalyst && m.Role != sde.RolePlanner {
				return sde.Errorf(sde.EINVALID, "A member's role is analyst or planner, not %q.", m.Role)
			}
			person, err := loadPerson(ctx, tx, m.User)
			if sde.ErrorCode(err) == sde.ENOTFOUND {
				return sde.Errorf(sde.EINVALID, "Unknown person %q.", m.User)
			} else if err != nil {
				return err
			}
			if !slices.Contains(person.Roles, m.Role) {
				return sde.Errorf(sde.EINVALID, "%s does not hold the %s role.", m.User, m.Role)
			}
		}

		if _, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, name, purpose, agreement_id, end_date, created_by, created_at, state, state_reason, state_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?)`, ws.ID, ws.Name, ws.Purpose, ws.Agreement, ts(ws.EndDate), p.User, ts(now), sde.WorkspaceRequested, ts(now)); err != nil {
			return err
		}
		for _, sc := range scopes {
			if _, err := tx.ExecContext(ctx, "INSERT INTO workspace_datasets (workspace_id, dataset, columns) VALUES (?, ?, ?)", ws.ID, sc.Dataset, toJSON(sc.Columns)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO approvals (workspace_id, dataset, organisation, decision, reason, by_user) VALUES (?, ?, ?, 'pending', '', '')",
				ws.ID, sc.Dataset, controllers[sc.Dataset]); err != nil {
				return err
			}
		}
		for _, m := range members {
			if _, err := tx.ExecContext(ctx, "INSERT INTO memberships (workspace_id, user_id, role, added_at, added_by) VALUES (?, ?, ?, ?, ?)",
				ws.ID, m.User, m.Role, ts(now), p.User); err != nil {
				return err
			}
		}
		if err := addEvent(ctx, tx, &sde.WorkspaceEvent{Workspace: ws.ID, At: now, Kind: "requested", Actor: p.User, To: sde.WorkspaceRequested, Reason: ws.Purpose}); err != nil {
			return err
		}
		if _, err := syncWorkspace(ctx, tx, svc.s, ws.ID, p.User); err != nil {
			return err
		}
		rec, err := loadWorkspace(ctx, tx, svc.s, ws.ID)
		if err != nil {
			return err
		}
		*ws = *rec.ws
		return nil
	})
}

// loadWorkspace returns a workspace and its agreement as tx sees them, with state and membership
// lapses derived at the store's current time. What it read is kept for the next call that sees
// the same generation (see wscache.go).
func loadWorkspace(ctx context.Context, tx *sql.Tx, s *Store, id sde.WorkspaceID) (*wsRecord, error) {
	var gen int64
	if err := tx.QueryRowContext(ctx, "SELECT n FROM generation").Scan(&gen); err != nil {
		return nil, err
	}
	rec, ok := s.workspaces.get(id, gen)
	if !ok {
		var err error
		if rec, err = readWorkspace(ctx, tx, s, id); err != nil {
			return nil, err
		}
		s.workspaces.put(id, gen, rec)
	}
	now := s.Now()
	for i := range rec.ws.Members {
		m := &rec.ws.Members[i]
		m.Lapsed = m.ConfirmedAt.IsZero() || !now.Before(m.ReviewDue)
	}
	rec.ws.State, rec.ws.StateWhy, _ = deriveState(rec, now)
	return rec, nil
}

// readWorkspace reads a workspace and its agreement from tx; nothing in it depends on the time.
func readWorkspace(ctx context.Context, tx *sql.Tx, s *Store, id sde.WorkspaceID) (*wsRecord, error) {
	ws := &sde.Workspace{}
	rec := &wsRecord{ws: ws}
	var end, created, stateAt string
	var activated, archived, archiveReason sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT id, name, purpose, agreement_id, end_date, created_by, created_at, activated_at,
		archived_at, archive_reason, state, state_reason, state_at FROM workspaces WHERE id = ?`, id).Scan(
		&ws.ID, &ws.Name, &ws.Purpose, &ws.Agreement, &end, &ws.CreatedBy, &created, &activated,
		&archived, &archiveReason, &rec.storedState, &ws.StateWhy, &stateAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sde.Errorf(sde.ENOTFOUND, "No workspace %q.", id)
	} else if err != nil {
		return nil, err
	}
	ws.EndDate, ws.CreatedAt = parseTS(end), parseTS(created)
	ws.ActivateAt, ws.ArchivedAt, rec.archiveReason = parseNullTS(activated), parseNullTS(archived), archiveReason.String

	if ws.Datasets, err = loadScopes(ctx, tx, "workspace_datasets", "workspace_id", string(id)); err != nil {
		return nil, err
	}

	if err := sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
		var a sde.Approval
		var at sql.NullString
		if err := rows.Scan(&a.Dataset, &a.Organisation, &a.Decision, &a.Reason, &a.By, &at); err != nil {
			return err
		}
		a.At = parseNullTS(at)
		ws.Approvals = append(ws.Approvals, a)
		return nil
	}, "SELECT dataset, organisation, decision, reason, by_user, at FROM approvals WHERE workspace_id = ? ORDER BY dataset", id); err != nil {
		return nil, err
	}

	if err := sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
		var m sde.Membership
		var added string
		var confirmed, by sql.NullString
		if err := rows.Scan(&m.User, &m.Role, &added, &confirmed, &by); err != nil {
			return err
		}
		m.AddedAt, m.ConfirmedBy = parseTS(added), sde.UserID(by.String)
		if c := parseNullTS(confirmed); c != nil {
			m.ConfirmedAt = *c
			m.ReviewDue = c.Add(s.review)
		}
		ws.Members = append(ws.Members, m)
		return nil
	}, "SELECT user_id, role, added_at, confirmed_at, confirmed_by FROM memberships WHERE workspace_id = ? ORDER BY added_at, user_id", id); err != nil {
		return nil, err
	}

	if rec.ag, err = loadAgreement(ctx, tx, ws.Agreement); err != nil {
		return nil, err
	}
	return rec, nil
}

// deriveState computes a workspace's state at now from its inputs alone, so suspension needs no
// background job. It also returns when the condition that decides the state began (for history).
// The order matters: the first matching rule wins.
func deriveState(rec *wsRecord, now time.Time) (state, reason string, since time.Time) {
	ws, ag := rec.ws, rec.ag
	var pending []string
	var pendingOrgs []string
	latest := ws.CreatedAt
	for _, a := range ws.Approvals {
		if a.At != nil && a.At.After(latest) {
			latest = *a.At
		}
	}
	if ws.ArchivedAt != nil {
		r := "Archived."
		if rec.archiveReason != "" {
			r = "Archived: " + rec.archiveReason
		}
		return sde.WorkspaceArchived, r, *ws.ArchivedAt
	}
	for _, a := range ws.Approvals {
		if a.Decision == sde.DecisionRefused {
			return sde.WorkspaceRefused, fmt.Sprintf("%s refused the use of %s: %s", a.Organisation, a.Dataset, a.Reason), *a.At
		}
	}
	switch ag.StateAt(now) {
	case sde.AgreementRevoked:
		return sde.WorkspaceSuspended, "The agreement was revoked: " + ag.RevokeReason, *ag.RevokedAt
	case sde.AgreementExpired:
		return sde.WorkspaceSuspended, fmt.Sprintf("The agreement expired on %s.", ag.Expiry.Format(time.DateOnly)), ag.Expiry
	}
	if !now.Before(ws.EndDate) {
		return sde.WorkspaceSuspended, fmt.Sprintf("The workspace's end date (%s) has passed.", ws.EndDate.Format(time.DateOnly)), ws.EndDate
	}
	for _, a := range ws.Approvals {
		switch a.Decision {
		case sde.DecisionWithdrawn:
			return sde.WorkspaceSuspended, fmt.Sprintf("%s withdrew approval for %s: %s", a.Organisation, a.Dataset, a.Reason), *a.At
		case sde.DecisionPending:
			pending = append(pending, string(a.Dataset))
			if !slices.Contains(pendingOrgs, string(a.Organisation)) {
				pendingOrgs = append(pendingOrgs, string(a.Organisation))
			}
		}
	}
	if len(pending) > 0 {
		return sde.WorkspaceRequested, fmt.Sprintf("Waiting for %s to decide on %s.", strings.Join(pendingOrgs, ", "), strings.Join(pending, ", ")), ws.CreatedAt
	}
	if unsigned := ag.Unsigned(); len(unsigned) > 0 {
		names := make([]string, len(unsigned))
		for i, o := range unsigned {
			names[i] = string(o)
		}
		return sde.WorkspaceRequested, fmt.Sprintf("Approved; waiting for %s to sign the agreement.", strings.Join(names, ", ")), latest
	}
	for _, sg := range ag.Signatures {
		if sg.At.After(latest) {
			latest = sg.At
		}
	}
	return sde.WorkspaceActive, "", latest
}

// syncWorkspace persists a change of derived state (with its reason, dated when its cause began)
// and records memberships that have lapsed since they were last looked at.
func syncWorkspace(ctx context.Context, tx *sql.Tx, s *Store, id sde.WorkspaceID, actor sde.UserID) ([]*sde.WorkspaceEvent, error) {
	rec, err := loadWorkspace(ctx, tx, s, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	ws := rec.ws
	state, reason, since := deriveState(rec, now)
	var events []*sde.WorkspaceEvent
	if state != rec.storedState {
		at := since
		if at.IsZero() || at.After(now) {
			at = now
		}
		who := actor
		if state == sde.WorkspaceSuspended && rec.ag.RevokedAt == nil && (!now.Before(rec.ag.Expiry) || !now.Before(ws.EndDate)) {
			who = "" // caused by the passage of time, not by whoever happened to look
		}
		ev := &sde.WorkspaceEvent{Workspace: id, At: at, Kind: "state", Actor: who, From: rec.storedState, To: state, Reason: reason}
		if err := addEvent(ctx, tx, ev); err != nil {
			return nil, err
		}
		events = append(events, ev)
		if _, err := tx.ExecContext(ctx, "UPDATE workspaces SET state = ?, state_reason = ?, state_at = ? WHERE id = ?", state, reason, ts(at), id); err != nil {
			return nil, err
		}
		if state == sde.WorkspaceActive && ws.ActivateAt == nil {
			// The controllers approved the request with its member list, so first activation
			// confirms the members named in the request.
			if _, err := tx.ExecContext(ctx, "UPDATE workspaces SET activated_at = ? WHERE id = ?", ts(now), id); err != nil {
				return nil, err
			}
			// Only members named in the request: one the requester added afterwards was never
			// seen by a controller and needs their own confirmation (second security review, F2).
			// Every organisation approved the request with these members: each confirms them.
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO membership_confirmations (workspace_id, user_id, organisation, confirmed_at, confirmed_by)
				SELECT m.workspace_id, m.user_id, a.organisation, ?, a.by_user FROM memberships m JOIN approvals a ON a.workspace_id = m.workspace_id
				WHERE m.workspace_id = ? AND m.confirmed_at IS NULL AND m.added_at <= (SELECT created_at FROM workspaces WHERE id = ?)`,
				ts(now), id, id); err != nil {
				return nil, err
			}
			if err := recomputeConfirmations(ctx, tx, id); err != nil {
				return nil, err
			}
		}
	}
	if state != sde.WorkspaceArchived {
		type lapse struct {
			user string
			due  time.Time
		}
		var lapses []lapse
		if err := sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			var u, c string
			if err := rows.Scan(&u, &c); err != nil {
				return err
			}
			if due := parseTS(c).Add(s.review); !now.Before(due) {
				lapses = append(lapses, lapse{u, due})
			}
			return nil
		}, "SELECT user_id, confirmed_at FROM memberships WHERE workspace_id = ? AND confirmed_at IS NOT NULL AND lapsed_at IS NULL ORDER BY user_id", id); err != nil {
			return nil, err
		}
		for _, l := range lapses {
			if _, err := tx.ExecContext(ctx, "UPDATE memberships SET lapsed_at = ? WHERE workspace_id = ? AND user_id = ?", ts(l.due), id, l.user); err != nil {
				return nil, err
			}
			ev := &sde.WorkspaceEvent{Workspace: id, At: l.due, Kind: "member_lapsed", Subject: l.user,
				Reason: fmt.Sprintf("Not re-confirmed within %d days.", int(s.review.Hours()/24))}
			if err := addEvent(ctx, tx, ev); err != nil {
				return nil, err
			}
			events = append(events, ev)
		}
	}
	return events, nil
}

// syncAgreementWorkspaces re-derives every workspace under an agreement after it changed.
func syncAgreementWorkspaces(ctx context.Context, tx *sql.Tx, s *Store, id sde.AgreementID, actor sde.UserID) ([]*sde.WorkspaceEvent, error) {
	ids, err := sqlrows.Strings(ctx, tx, "SELECT id FROM workspaces WHERE agreement_id = ? AND archived_at IS NULL ORDER BY id", id)
	if err != nil {
		return nil, err
	}
	var all []*sde.WorkspaceEvent
	for _, w := range ids {
		evs, err := syncWorkspace(ctx, tx, s, sde.WorkspaceID(w), actor)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	return all, nil
}

func addEvent(ctx context.Context, tx *sql.Tx, ev *sde.WorkspaceEvent) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO workspace_events (workspace_id, at, kind, actor, subject, from_state, to_state, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ev.Workspace, ts(ev.At), ev.Kind, ev.Actor, ev.Subject, ev.From, ev.To, ev.Reason)
	if err != nil {
		return err
	}
	ev.Seq, err = res.LastInsertId()
	return err
}

// controls reports whether p acts as controller for an organisation whose datasets ws uses.
func controls(p *sde.Principal, ws *sde.Workspace) bool {
	if !p.Has(sde.RoleController) || p.Has(sde.RoleAdmin) {
		return false
	}
	return slices.ContainsFunc(ws.Approvals, func(a sde.Approval) bool { return a.Organisation == p.Organisation })
}

func member(ws *sde.Workspace, u sde.UserID) *sde.Membership {
	for i := range ws.Members {
		if ws.Members[i].User == u {
			return &ws.Members[i]
		}
	}
	return nil
}

// canSee: the requester, members, controllers of its datasets and output checkers. Others get
// ENOTFOUND, so a workspace's existence is not disclosed.
func canSee(p *sde.Principal, ws *sde.Workspace) bool {
	return p.User == ws.CreatedBy || member(ws, p.User) != nil || controls(p, ws) || p.Has(sde.RoleChecker)
}

// visible loads a workspace the caller may see.
func visible(ctx context.Context, tx *sql.Tx, s *Store, p *sde.Principal, id sde.WorkspaceID) (*wsRecord, error) {
	rec, err := loadWorkspace(ctx, tx, s, id)
	if err != nil {
		return nil, err
	}
	if !canSee(p, rec.ws) {
		return nil, sde.Errorf(sde.ENOTFOUND, "No workspace %q.", id)
	}
	return rec, nil
}

// Get returns a workspace the caller may see, with its state derived now.
func (svc *WorkspaceService) Get(ctx context.Context, id sde.WorkspaceID) (*sde.Workspace, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var ws *sde.Workspace
	err = svc.s.read(ctx, func(tx *sql.Tx) error {
		rec, err := visible(ctx, tx, svc.s, p, id)
		if err == nil {
			ws = rec.ws
		}
		return err
	})
	return ws, err
}

// List returns the workspaces the caller may see that match f, oldest first.
func (svc *WorkspaceService) List(ctx context.Context, f sde.WorkspaceFilter) ([]*sde.Workspace, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out []*sde.Workspace
	err = svc.s.read(ctx, func(tx *sql.Tx) error {
		recs, err := allWorkspaces(ctx, tx, svc.s)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			ws := rec.ws
			switch {
			case !canSee(p, ws):
			case f.State != "" && ws.State != f.State:
			case f.Agreement != "" && ws.Agreement != f.Agreement:
			case f.Dataset != "" && !slices.ContainsFunc(ws.Datasets, func(d sde.DatasetScope) bool { return d.Dataset == f.Dataset }):
			case f.Member != "" && member(ws, f.Member) == nil:
			default:
				out = append(out, ws)
			}
		}
		return nil
	})
	return out, err
}

// allWorkspaces loads every workspace, oldest first.
func allWorkspaces(ctx context.Context, tx *sql.Tx, s *Store) ([]*wsRecord, error) {
	return loadEach(ctx, tx, "SELECT id FROM workspaces ORDER BY created_at, id", func(id string) (*wsRecord, error) {
		return loadWorkspace(ctx, tx, s, sde.WorkspaceID(id))
	})
}

// History lists a workspace's events, oldest first.
func (svc *WorkspaceService) History(ctx context.Context, id sde.WorkspaceID) ([]*sde.WorkspaceEvent, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out []*sde.WorkspaceEvent
	err = svc.s.read(ctx, func(tx *sql.Tx) error {
		if _, err := visible(ctx, tx, svc.s, p, id); err != nil {
			return err
		}
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			ev := &sde.WorkspaceEvent{Workspace: id}
			var at string
			if err := rows.Scan(&ev.Seq, &at, &ev.Kind, &ev.Actor, &ev.Subject, &ev.From, &ev.To, &ev.Reason); err != nil {
				return err
			}
			ev.At = parseTS(at)
			out = append(out, ev)
			return nil
		}, `SELECT seq, at, kind, actor, subject, from_state, to_state, reason
			FROM workspace_events WHERE workspace_id = ? ORDER BY seq`, id)
	})
	return out, err
}

// mutate runs fn on a workspace the caller may see, in a write transaction, then persists any
// state change and returns the workspace as it now is.
func (svc *WorkspaceService) mutate(ctx context.Context, id sde.WorkspaceID, fn func(tx *sql.Tx, p *sde.Principal, rec *wsRecord, now time.Time) error) (*sde.Workspace, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var ws *sde.Workspace
	err = svc.s.write(ctx, func(tx *sql.Tx) error {
		rec, err := visible(ctx, tx, svc.s, p, id)
		if err != nil {
			return err
		}
		if err := fn(tx, p, rec, svc.s.Now()); err != nil {
			return err
		}
		if _, err := syncWorkspace(ctx, tx, svc.s, id, p.User); err != nil {
			return err
		}
		rec, err = loadWorkspace(ctx, tx, svc.s, id)
		if err == nil {
			ws = rec.ws
		}
		return err
	})
	return ws, err
}

// Decide records a controller's verdict on their organisation's datasets in a workspace.
func (svc *WorkspaceService) Decide(ctx context.Context, id sde.WorkspaceID, d sde.Decision) (*sde.Workspace, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := asController(p, "approve or refuse workspaces"); err != nil {
		return nil, err
	}
	d.Reason = strings.TrimSpace(d.Reason)
	switch d.Verdict {
	case sde.DecisionApproved:
	case sde.DecisionRefused, sde.DecisionWithdrawn:
		if d.Reason == "" {
			return nil, sde.Errorf(sde.EINVALID, "Give a reason to refuse or withdraw.")
		}
	default:
		return nil, sde.Errorf(sde.EINVALID, "The verdict must be approved, refused or withdrawn.")
	}
	return svc.mutate(ctx, id, func(tx *sql.Tx, p *sde.Principal, rec *wsRecord, now time.Time) error {
		ws := rec.ws
		if ws.CreatedBy == p.User {
			return sde.Errorf(sde.EFORBIDDEN, "You may not decide on your own request.")
		}
		if member(ws, p.User) != nil {
			return sde.Errorf(sde.EFORBIDDEN, "Members of a workspace may not decide on it.")
		}
		if ws.State == sde.WorkspaceArchived {
			return sde.Errorf(sde.ECONFLICT, "The workspace is archived.")
		}
		var targets []sde.Approval
		for _, a := range ws.Approvals {
			if d.Dataset != "" && a.Dataset != d.Dataset {
				continue
			}
			if a.Organisation != p.Organisation {
				if d.Dataset != "" {
					return sde.Errorf(sde.EFORBIDDEN, "Only a controller of %s may decide on %s.", a.Organisation, a.Dataset)
				}
				continue
			}
			if d.Dataset == "" && a.Decision == d.Verdict {
				continue // deciding on all of ours: those already decided this way stay as they are
			}
			targets = append(targets, a)
		}
		if d.Dataset != "" && len(targets) == 0 {
			return sde.Errorf(sde.EINVALID, "The workspace does not use dataset %q.", d.Dataset)
		}
		if len(targets) == 0 {
			if slices.ContainsFunc(ws.Approvals, func(a sde.Approval) bool { return a.Organisation == p.Organisation }) {
				return sde.Errorf(sde.ECONFLICT, "Your datasets in this workspace are already %s.", d.Verdict)
			}
			return sde.Errorf(sde.EFORBIDDEN, "The workspace uses none of %s's datasets.", p.Organisation)
		}
		if d.Verdict == sde.DecisionApproved {
			switch rec.ag.StateAt(now) {
			case sde.AgreementRevoked:
				return sde.Errorf(sde.ECONFLICT, "The agreement has been revoked.")
			case sde.AgreementExpired:
				return sde.Errorf(sde.ECONFLICT, "The agreement has expired.")
			}
			if !now.Before(ws.EndDate) {
				return sde.Errorf(sde.ECONFLICT, "The workspace's end date has passed.")
			}
		}
		for _, a := range targets {
			ok := false
			switch d.Verdict {
			case sde.DecisionApproved:
				ok = a.Decision == sde.DecisionPending || a.Decision == sde.DecisionWithdrawn
			case sde.DecisionRefused:
				ok = a.Decision == sde.DecisionPending
			case sde.DecisionWithdrawn:
				ok = a.Decision == sde.DecisionApproved
			}
			if !ok {
				return sde.Errorf(sde.ECONFLICT, "%s is %s and cannot be %s.", a.Dataset, a.Decision, d.Verdict)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE approvals SET decision = ?, reason = ?, by_user = ?, at = ? WHERE workspace_id = ? AND dataset = ?",
				d.Verdict, d.Reason, p.User, ts(now), ws.ID, a.Dataset); err != nil {
				return err
			}
			if err := addEvent(ctx, tx, &sde.WorkspaceEvent{Workspace: ws.ID, At: now, Kind: "decision", Actor: p.User,
				Subject: string(a.Dataset), From: a.Decision, To: d.Verdict, Reason: d.Reason}); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddMember adds an analyst or planner. The requester may propose members, who wait for a
// controller's confirmation; a controller of the workspace's datasets adds them confirmed.
func (svc *WorkspaceService) AddMember(ctx context.Context, id sde.WorkspaceID, user sde.UserID, role sde.Role) (*sde.Workspace, error) {
	if role != sde.RoleAnalyst && role != sde.RolePlanner {
		return nil, sde.Errorf(sde.EINVALID, "A member's role is analyst or planner.")
	}
	return svc.mutate(ctx, id, func(tx *sql.Tx, p *sde.Principal, rec *wsRecord, now time.Time) error {
		ws := rec.ws
		isController := controls(p, ws)
		if ws.CreatedBy != p.User && !isController {
			return sde.Errorf(sde.EFORBIDDEN, "Only the requester or a controller of the workspace's datasets may add members.")
		}
		if ws.State == sde.WorkspaceArchived || ws.State == sde.WorkspaceRefused {
			return sde.Errorf(sde.ECONFLICT, "The workspace is %s.", ws.State)
		}
		if member(ws, user) != nil {
			return sde.Errorf(sde.ECONFLICT, "%s is already a member.", user)
		}
		person, err := loadPerson(ctx, tx, user)
		if sde.ErrorCode(err) == sde.ENOTFOUND {
			return sde.Errorf(sde.EINVALID, "Unknown person %q.", user)
		} else if err != nil {
			return err
		}
		if !slices.Contains(person.Roles, role) {
			return sde.Errorf(sde.EINVALID, "%s does not hold the %s role.", user, role)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO memberships (workspace_id, user_id, role, added_at, added_by) VALUES (?, ?, ?, ?, ?)",
			ws.ID, user, role, ts(now), p.User); err != nil {
			return err
		}
		// A controller's addition counts as their organisation's confirmation, except of
		// themselves or their own request; the other organisations must still confirm.
		if isController && user != p.User && ws.CreatedBy != p.User && ws.ActivateAt != nil {
			if err := confirmFor(ctx, tx, ws.ID, user, p, now); err != nil {
				return err
			}
		}
		return addEvent(ctx, tx, &sde.WorkspaceEvent{Workspace: ws.ID, At: now, Kind: "member_added", Actor: p.User, Subject: string(user), To: string(role)})
	})
}

// ConfirmMember re-confirms a membership for another review period.
func (svc *WorkspaceService) ConfirmMember(ctx context.Context, id sde.WorkspaceID, user sde.UserID) (*sde.Workspace, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := asController(p, "confirm members"); err != nil {
		return nil, err
	}
	return svc.mutate(ctx, id, func(tx *sql.Tx, p *sde.Principal, rec *wsRecord, now time.Time) error {
		ws := rec.ws
		switch {
		case !controls(p, ws):
			return sde.Errorf(sde.EFORBIDDEN, "Only a controller of the workspace's datasets may confirm members.")
		case user == p.User:
			return sde.Errorf(sde.EFORBIDDEN, "You may not confirm your own membership.")
		case ws.CreatedBy == p.User:
			return sde.Errorf(sde.EFORBIDDEN, "You may not confirm members of your own request.")
		case ws.State == sde.WorkspaceArchived || ws.State == sde.WorkspaceRefused:
			return sde.Errorf(sde.ECONFLICT, "The workspace is %s.", ws.State)
		case member(ws, user) == nil:
			return sde.Errorf(sde.ENOTFOUND, "%s is not a member of the workspace.", user)
		}
		if err := confirmFor(ctx, tx, ws.ID, user, p, now); err != nil {
			return err
		}
		return addEvent(ctx, tx, &sde.WorkspaceEvent{Workspace: ws.ID, At: now, Kind: "member_confirmed", Actor: p.User, Subject: string(user),
			Reason: fmt.Sprintf("Confirmed for %s until %s.", p.Organisation, now.Add(svc.s.review).Format(time.DateOnly))})
	})
}

// RemoveMember ends a membership: by the requester, a controller of the datasets, or the member.
func (svc *WorkspaceService) RemoveMember(ctx context.Context, id sde.WorkspaceID, user sde.UserID) (*sde.Workspace, error) {
	return svc.mutate(ctx, id, func(tx *sql.Tx, p *sde.Principal, rec *wsRecord, now time.Time) error {
		ws := rec.ws
		if ws.CreatedBy != p.User && user != p.User && !controls(p, ws) {
			return sde.Errorf(sde.EFORBIDDEN, "Only the requester, a controller of the workspace's datasets or the member may remove a member.")
		}
		if member(ws, user) == nil {
			return sde.Errorf(sde.ENOTFOUND, "%s is not a member of the workspace.", user)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?", ws.ID, user); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM membership_confirmations WHERE workspace_id = ? AND user_id = ?", ws.ID, user); err != nil {
			return err
		}
		return addEvent(ctx, tx, &sde.WorkspaceEvent{Workspace: ws.ID, At: now, Kind: "member_removed", Actor: p.User, Subject: string(user)})
	})
}

// Archive closes a workspace for good: by its requester or a controller of its datasets.
func (svc *WorkspaceService) Archive(ctx context.Context, id sde.WorkspaceID, reason string) (*sde.Workspace, error) {
	reason = strings.TrimSpace(reason)
	return svc.mutate(ctx, id, func(tx *sql.Tx, p *sde.Principal, rec *wsRecord, now time.Time) error {
		ws := rec.ws
		if ws.CreatedBy != p.User && !controls(p, ws) {
			return sde.Errorf(sde.EFORBIDDEN, "Only the requester or a controller of the workspace's datasets may archive it.")
		}
		if ws.ArchivedAt != nil {
			return sde.Errorf(sde.ECONFLICT, "The workspace is already archived.")
		}
		if _, err := tx.ExecContext(ctx, "UPDATE workspaces SET archived_at = ?, archived_by = ?, archive_reason = ? WHERE id = ?",
			ts(now), p.User, reason, ws.ID); err != nil {
			return err
		}
		return addEvent(ctx, tx, &sde.WorkspaceEvent{Workspace: ws.ID, At: now, Kind: "archived", Actor: p.User, Reason: reason})
	})
}

// ApplyLifecycle persists what the passage of time has done: suspensions at agreement expiry or
// end date, and memberships that lapsed. State is derived on read anyway, so this only makes the
// history (and anything reading the stored state) catch up; run it periodically or on start-up.
func (svc *WorkspaceService) ApplyLifecycle(ctx context.Context) ([]*sde.WorkspaceEvent, error) {
	var all []*sde.WorkspaceEvent
	err := svc.s.write(ctx, func(tx *sql.Tx) error {
		all = nil
		ids, err := sqlrows.Strings(ctx, tx, "SELECT id FROM workspaces WHERE state <> 'archived' ORDER BY id")
		if err != nil {
			return err
		}
		for _, id := range ids {
			evs, err := syncWorkspace(ctx, tx, svc.s, sde.WorkspaceID(id), "")
			if err != nil {
				return err
			}
			all = append(all, evs...)
		}
		return nil
	})
	return all, err
}

// CanQuery reports whether the caller may run queries in the workspace now.
func (svc *WorkspaceService) CanQuery(ctx context.Context, id sde.WorkspaceID) error {
	return svc.can(ctx, id, sde.RoleAnalyst)
}

// CanView reports whether the caller may see the workspace's released outputs now (any member role).
func (svc *WorkspaceService) CanView(ctx context.Context, id sde.WorkspaceID) error {
	return svc.can(ctx, id, "")
}

func (svc *WorkspaceService) can(ctx context.Context, id sde.WorkspaceID, role sde.Role) error {
	_, _, err := svc.Use(ctx, id, role)
	return err
}

// Use returns the workspace and its agreement to a caller who may use it now in role.
func (svc *WorkspaceService) Use(ctx context.Context, id sde.WorkspaceID, role sde.Role) (*sde.Workspace, *sde.Agreement, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var rec *wsRecord
	now := svc.s.Now()
	err = svc.s.read(ctx, func(tx *sql.Tx) error {
		if rec, err = visible(ctx, tx, svc.s, p, id); err != nil {
			return err
		}
		return access(p, rec, now, role)
	})
	if err != nil {
		return nil, nil, err
	}
	rec.ag.State = rec.ag.StateAt(now)
	return rec.ws, rec.ag, nil
}

// access is the one place the "may use this workspace now" rule lives.
func access(p *sde.Principal, rec *wsRecord, now time.Time, role sde.Role) error {
	ws := rec.ws
	m := member(ws, p.User)
	switch {
	case p.Has(sde.RoleAdmin):
		return sde.Errorf(sde.EFORBIDDEN, "Administrators may not use workspace data.")
	case m == nil:
		return sde.Errorf(sde.EFORBIDDEN, "You are not a member of this workspace.")
	case role != "" && m.Role != role:
		return sde.Errorf(sde.EFORBIDDEN, "Your membership (%s) does not allow this.", m.Role)
	case role != "" && !p.Has(role):
		return sde.Errorf(sde.EFORBIDDEN, "You do not hold the %s role.", role)
	case ws.State != sde.WorkspaceActive:
		msg := fmt.Sprintf("The workspace is %s", ws.State)
		if ws.StateWhy != "" {
			msg += ": " + ws.StateWhy
		} else {
			msg += "."
		}
		return sde.Errorf(sde.EFORBIDDEN, "%s", msg)
	case !rec.ag.InForce(now):
		return sde.Errorf(sde.EFORBIDDEN, "The workspace's agreement is not in force.")
	case m.ConfirmedAt.IsZero():
		return sde.Errorf(sde.EFORBIDDEN, "Your membership has not been confirmed by a controller yet.")
	case m.Lapsed:
		return sde.Errorf(sde.EFORBIDDEN, "Your membership lapsed on %s; a controller must re-confirm it.", m.ReviewDue.Format(time.DateOnly))
	}
	return nil
}

// confirmFor records p's organisation's confirmation of a membership and recomputes it.
func confirmFor(ctx context.Context, tx *sql.Tx, ws sde.WorkspaceID, user sde.UserID, p *sde.Principal, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO membership_confirmations (workspace_id, user_id, organisation, confirmed_at, confirmed_by) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, user_id, organisation) DO UPDATE SET confirmed_at = excluded.confirmed_at, confirmed_by = excluded.confirmed_by`,
		ws, user, p.Organisation, ts(now), p.User); err != nil {
		return err
	}
	return recomputeConfirmations(ctx, tx, ws)
}

// recomputeConfirmations sets each membership's confirmed_at to the oldest confirmation among the
// organisations whose datasets the workspace uses, or NULL while any of them has not confirmed:
// a member sees every organisation's data, so every organisation vouches for them (second security
// review, F3). A membership confirmed anew by all is no longer lapsed.
func recomputeConfirmations(ctx context.Context, tx *sql.Tx, ws sde.WorkspaceID) error {
	_, err := tx.ExecContext(ctx, `UPDATE memberships AS m SET
		confirmed_at = c.oldest, confirmed_by = c.by,
		lapsed_at = CASE WHEN c.oldest IS NOT NULL AND (m.confirmed_at IS NULL OR c.oldest > m.confirmed_at) THEN NULL ELSE m.lapsed_at END
		FROM (
			SELECT m2.user_id,
				CASE WHEN count(mc.organisation) = (SELECT count(DISTINCT organisation) FROM approvals WHERE workspace_id = ?) THEN min(mc.confirmed_at) END AS oldest,
				(SELECT confirmed_by FROM membership_confirmations x WHERE x.workspace_id = ? AND x.user_id = m2.user_id ORDER BY confirmed_at LIMIT 1) AS by
			FROM memberships m2
			LEFT JOIN membership_confirmations mc ON mc.workspace_id = m2.workspace_id AND mc.user_id = m2.user_id
				AND mc.organisation IN (SELECT organisation FROM approvals WHERE workspace_id = ?)
			WHERE m2.workspace_id = ?
			GROUP BY m2.user_id
		) AS c
		WHERE m.workspace_id = ? AND m.user_id = c.user_id`, ws, ws, ws, ws, ws)
	return err
}
