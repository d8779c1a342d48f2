-- A membership gives access to every organisation's data in the workspace, so each of those
-- organisations' controllers confirms it; memberships.confirmed_at is then the oldest of their
-- confirmations (NULL until all have confirmed), and lapses from there.
CREATE TABLE membership_confirmations (
	workspace_id TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	organisation TEXT NOT NULL,
	confirmed_at TEXT NOT NULL,
	confirmed_by TEXT NOT NULL,
	PRIMARY KEY (workspace_id, user_id, organisation)
) STRICT;
INSERT INTO membership_confirmations (workspace_id, user_id, organisation, confirmed_at, confirmed_by)
	SELECT DISTINCT m.workspace_id, m.user_id, a.organisation, m.confirmed_at, m.confirmed_by
	FROM memberships m JOIN approvals a ON a.workspace_id = m.workspace_id
	WHERE m.confirmed_at IS NOT NULL;
