-- The differencing ledger: per release, the fingerprint and person counts the disclosure engine
-- compares later queries against. True (unrounded) counts: never returned to users.
ALTER TABLE releases ADD COLUMN ledger TEXT;

-- Analysts' queries: status while running, and the released result once done. The SQL is the
-- analyst's own and is shown only to them.
CREATE TABLE queries (
	id           TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	user_id      TEXT NOT NULL,
	sql          TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
	release_id   TEXT,
	result       TEXT,
	error_code   TEXT,
	error_msg    TEXT,
	created_at   TEXT NOT NULL,
	finished_at  TEXT
) STRICT;
CREATE INDEX queries_ws_user ON queries(workspace_id, user_id, created_at);
