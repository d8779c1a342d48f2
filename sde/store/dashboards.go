package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/sqlrows"
)

// DashboardService implements sde.DashboardService.
type DashboardService struct{ s *Store }

var _ sde.DashboardService = (*DashboardService)(nil)

// maxPanels bounds a dashboard: each refresh runs every panel's query.
const maxPanels = 12

// Create stores a dashboard; the caller must be able to query the workspace (an analyst member).
func (ds *DashboardService) Create(ctx context.Context, d *sde.Dashboard) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if strings.TrimSpace(d.Title) == "" {
		return sde.Errorf(sde.EINVALID, "A dashboard needs a title.")
	}
	if len(d.Panels) == 0 || len(d.Panels) > maxPanels {
		return sde.Errorf(sde.EINVALID, "A dashboard has between 1 and %d panels.", maxPanels)
	}
	for i, pn := range d.Panels {
		switch {
		case strings.TrimSpace(pn.Title) == "" || strings.TrimSpace(pn.SQL) == "":
			return sde.Errorf(sde.EINVALID, "Panel %d needs a title and a query.", i+1)
		case !slices.Contains(sde.ChartKinds, pn.Chart):
			return sde.Errorf(sde.EINVALID, "Panel %d: chart must be one of %s.", i+1, strings.Join(sde.ChartKinds, ", "))
		case pn.Chart != "table" && (pn.X == "" || pn.Y == ""):
			return sde.Errorf(sde.EINVALID, "Panel %d: a %s chart names its x column and its y measure.", i+1, pn.Chart)
		case len(pn.SQL) > maxSQL:
			return sde.Errorf(sde.ETOOLARGE, "Panel %d: the query is too long.", i+1)
		}
	}
	panels, _ := json.Marshal(d.Panels)
	d.ID, d.CreatedBy, d.CreatedAt = sde.NewID("dash-"), p.User, ds.s.Now()
	return ds.s.write(ctx, func(tx *sql.Tx) error {
		rec, err := visible(ctx, tx, ds.s, p, d.Workspace)
		if err != nil {
			return err
		}
		if err := access(p, rec, d.CreatedAt, sde.RoleAnalyst); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO dashboards (id, workspace_id, title, description, panels, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			d.ID, d.Workspace, d.Title, d.Description, string(panels), d.CreatedBy, ts(d.CreatedAt))
		return err
	})
}

// Get returns a dashboard and the latest result of each panel, to members of its workspace.
func (ds *DashboardService) Get(ctx context.Context, ws sde.WorkspaceID, id string) (*sde.Dashboard, []sde.PanelResult, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var d *sde.Dashboard
	var results []sde.PanelResult
	err = ds.s.read(ctx, func(tx *sql.Tx) error {
		if err := ds.member(ctx, tx, p, ws); err != nil {
			return err
		}
		if d, err = loadDashboard(ctx, tx, ws, id); err != nil {
			return err
		}
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			r, err := scanPanelResult(rows)
			results = append(results, r)
			return err
		}, `SELECT panel, release_id, result, error_code, error_msg, refreshed_by, refreshed_at FROM dashboard_results r
			WHERE dashboard_id = ? AND rowid = (SELECT max(rowid) FROM dashboard_results WHERE dashboard_id = r.dashboard_id AND panel = r.panel) ORDER BY panel`, id)
	})
	return d, results, err
}

// History lists a dashboard's refreshes, newest first, to members of its workspace; at most the
// last 500, and without the results themselves.
func (ds *DashboardService) History(ctx context.Context, ws sde.WorkspaceID, id string) ([]sde.PanelResult, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	out := []sde.PanelResult{}
	err = ds.s.read(ctx, func(tx *sql.Tx) error {
		if err := ds.member(ctx, tx, p, ws); err != nil {
			return err
		}
		if _, err := loadDashboard(ctx, tx, ws, id); err != nil {
			return err
		}
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			r, err := scanPanelResult(rows)
			out = append(out, r)
			return err
		}, `SELECT panel, release_id, NULL, error_code, error_msg, refreshed_by, refreshed_at FROM dashboard_results
			WHERE dashboard_id = ? ORDER BY rowid DESC LIMIT 500`, id)
	})
	return out, err
}

func scanPanelResult(rows *sql.Rows) (sde.PanelResult, error) {
	var r sde.PanelResult
	var rel, result, code, msg sql.NullString
	var at string
	if err := rows.Scan(&r.Panel, &rel, &result, &code, &msg, &r.RefreshedBy, &at); err != nil {
		return r, err
	}
	r.Release, r.RefreshedAt = sde.ReleaseID(rel.String), parseTS(at)
	if result.Valid {
		r.Result = json.RawMessage(result.String)
	}
	if code.Valid {
		r.Error = &sde.QueryError{Code: code.String, Message: msg.String}
	}
	return r, nil
}

// List returns a workspace's dashboards to its members.
func (ds *DashboardService) List(ctx context.Context, ws sde.WorkspaceID) ([]*sde.Dashboard, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	out := []*sde.Dashboard{}
	err = ds.s.read(ctx, func(tx *sql.Tx) error {
		if err := ds.member(ctx, tx, p, ws); err != nil {
			return err
		}
		ids, err := sqlrows.Strings(ctx, tx, "SELECT id FROM dashboards WHERE workspace_id = ? ORDER BY created_at, id", ws)
		if err != nil {
			return err
		}
		for _, id := range ids {
			d, err := loadDashboard(ctx, tx, ws, id)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// Record stores a refresh's results; the caller must be a member who may view the workspace now.
func (ds *DashboardService) Record(ctx context.Context, ws sde.WorkspaceID, id string, results []sde.PanelResult) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	now := ds.s.Now()
	return ds.s.write(ctx, func(tx *sql.Tx) error {
		if err := ds.member(ctx, tx, p, ws); err != nil {
			return err
		}
		if _, err := loadDashboard(ctx, tx, ws, id); err != nil {
			return err
		}
		for _, r := range results {
			var rel, result, code, msg any
			if r.Release != "" {
				rel = string(r.Release)
			}
			if len(r.Result) > 0 {
				result = string(r.Result)
			}
			if r.Error != nil {
				code, msg = r.Error.Code, r.Error.Message
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO dashboard_results (dashboard_id, panel, release_id, result, error_code, error_msg, refreshed_by, refreshed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				id, r.Panel, rel, result, code, msg, p.User, ts(now)); err != nil {
				return err
			}
		}
		return nil
	})
}

// member checks the caller may view the workspace's data now (any member role).
func (ds *DashboardService) member(ctx context.Context, tx *sql.Tx, p *sde.Principal, ws sde.WorkspaceID) error {
	rec, err := visible(ctx, tx, ds.s, p, ws)
	if err != nil {
		return err
	}
	return access(p, rec, ds.s.Now(), "")
}

func loadDashboard(ctx context.Context, tx *sql.Tx, ws sde.WorkspaceID, id string) (*sde.Dashboard, error) {
	d := &sde.Dashboard{Workspace: ws}
	var panels, created string
	err := tx.QueryRowContext(ctx, "SELECT id, title, description, panels, created_by, created_at FROM dashboards WHERE id = ? AND workspace_id = ?", id, ws).
		Scan(&d.ID, &d.Title, &d.Description, &panels, &d.CreatedBy, &created)
	if err == sql.ErrNoRows {
		return nil, sde.Errorf(sde.ENOTFOUND, "No dashboard %s in this workspace.", id)
	} else if err != nil {
		return nil, err
	}
	d.CreatedAt = parseTS(created)
	return d, json.Unmarshal([]byte(panels), &d.Panels)
}
