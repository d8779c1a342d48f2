-- Planner dashboards: named sets of fixed queries in a workspace, each with a chart. Every
-- refresh re-runs them through disclosure control; each panel's results are kept, newest last.
CREATE TABLE dashboards (
	id           TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	title        TEXT NOT NULL,
	description  TEXT NOT NULL,
	panels       TEXT NOT NULL,
	created_by   TEXT NOT NULL,
	created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX dashboards_ws ON dashboards(workspace_id, created_at);

CREATE TABLE dashboard_results (
	dashboard_id TEXT NOT NULL REFERENCES dashboards(id),
	panel        INTEGER NOT NULL,
	release_id   TEXT,
	result       TEXT,
	error_code   TEXT,
	error_msg    TEXT,
	refreshed_by TEXT NOT NULL,
	refreshed_at TEXT NOT NULL
) STRICT;
CREATE INDEX dashboard_results_latest ON dashboard_results(dashboard_id, panel, refreshed_at);
