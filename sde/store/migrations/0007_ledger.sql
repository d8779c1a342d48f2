-- The differencing ledger holds each distinct released table once per workspace and key. Reading
-- it from releases meant reading every repeat (each dashboard refresh, each re-run) on every
-- query, so the check slowed with use; now a repeat adds nothing. digest is the SHA-256 of entry,
-- written by the service; rows carried over from releases get a unique placeholder instead.
CREATE TABLE ledger (
	seq          INTEGER PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	ledger_key   TEXT NOT NULL,
	digest       TEXT NOT NULL,
	entry        TEXT NOT NULL,
	release_id   TEXT NOT NULL REFERENCES releases(id),
	created_at   TEXT NOT NULL,
	UNIQUE (workspace_id, ledger_key, digest)
) STRICT;
INSERT INTO ledger (workspace_id, ledger_key, digest, entry, release_id, created_at)
	SELECT workspace_id, ledger_key, 'carried:' || rowid, ledger, id, created_at
	FROM releases
	WHERE rowid IN (
		SELECT min(rowid) FROM releases
		WHERE ledger IS NOT NULL AND ledger_key IS NOT NULL AND ledger_key != '' AND status = 'released'
		GROUP BY workspace_id, ledger_key, ledger)
	ORDER BY created_at, rowid;
