-- Control-plane schema, version 1. Times are UTC text in one fixed-width format, so they sort.
-- Derived things (agreement state, workspace state, membership lapse) are computed from these
-- inputs on read; workspaces.state is the last persisted transition, kept for history.

CREATE TABLE organisations (
	code       TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	created_at TEXT NOT NULL
) STRICT;

CREATE TABLE people (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	email        TEXT NOT NULL,
	organisation TEXT NOT NULL REFERENCES organisations(code),
	roles        TEXT NOT NULL, -- JSON array
	created_at   TEXT NOT NULL
) STRICT;

CREATE TABLE datasets (
	name          TEXT PRIMARY KEY,
	title         TEXT NOT NULL,
	description   TEXT NOT NULL,
	controller    TEXT NOT NULL REFERENCES organisations(code),
	columns       TEXT NOT NULL, -- JSON array of stored column names
	spec          TEXT NOT NULL,
	registered_by TEXT NOT NULL,
	registered_at TEXT NOT NULL
) STRICT;

CREATE TABLE agreements (
	id                TEXT PRIMARY KEY,
	title             TEXT NOT NULL,
	lawful_basis_art6 TEXT NOT NULL,
	condition_art9    TEXT NOT NULL,
	purpose_category  TEXT NOT NULL CHECK (purpose_category IN ('direct_care', 'planning', 'research')),
	purpose           TEXT NOT NULL,
	escalation_route  TEXT NOT NULL,
	review_date       TEXT NOT NULL,
	expiry            TEXT NOT NULL,
	policy            TEXT, -- disclosure-policy overrides as JSON, stricter only
	created_by        TEXT NOT NULL,
	created_at        TEXT NOT NULL,
	revoked_at        TEXT,
	revoked_by        TEXT,
	revoke_reason     TEXT
) STRICT;

CREATE TABLE agreement_parties (
	agreement_id TEXT NOT NULL REFERENCES agreements(id),
	organisation TEXT NOT NULL REFERENCES organisations(code),
	PRIMARY KEY (agreement_id, organisation)
) STRICT;

CREATE TABLE agreement_datasets (
	agreement_id TEXT NOT NULL REFERENCES agreements(id),
	dataset      TEXT NOT NULL REFERENCES datasets(name),
	columns      TEXT NOT NULL, -- JSON array; empty means every column
	PRIMARY KEY (agreement_id, dataset)
) STRICT;

CREATE TABLE signatures (
	agreement_id TEXT NOT NULL,
	organisation TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	at           TEXT NOT NULL,
	PRIMARY KEY (agreement_id, organisation),
	FOREIGN KEY (agreement_id, organisation) REFERENCES agreement_parties(agreement_id, organisation)
) STRICT;

CREATE TABLE workspaces (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL UNIQUE,
	purpose        TEXT NOT NULL,
	agreement_id   TEXT NOT NULL REFERENCES agreements(id),
	end_date       TEXT NOT NULL,
	created_by     TEXT NOT NULL,
	created_at     TEXT NOT NULL,
	activated_at   TEXT,
	archived_at    TEXT,
	archived_by    TEXT,
	archive_reason TEXT,
	state          TEXT NOT NULL,
	state_reason   TEXT NOT NULL,
	state_at       TEXT NOT NULL
) STRICT;

CREATE TABLE workspace_datasets (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	dataset      TEXT NOT NULL REFERENCES datasets(name),
	columns      TEXT NOT NULL, -- JSON array, always explicit
	PRIMARY KEY (workspace_id, dataset)
) STRICT;

CREATE TABLE approvals (
	workspace_id TEXT NOT NULL,
	dataset      TEXT NOT NULL,
	organisation TEXT NOT NULL REFERENCES organisations(code),
	decision     TEXT NOT NULL CHECK (decision IN ('pending', 'approved', 'refused', 'withdrawn')),
	reason       TEXT NOT NULL,
	by_user      TEXT NOT NULL,
	at           TEXT,
	PRIMARY KEY (workspace_id, dataset),
	FOREIGN KEY (workspace_id, dataset) REFERENCES workspace_datasets(workspace_id, dataset)
) STRICT;

CREATE TABLE memberships (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	user_id      TEXT NOT NULL REFERENCES people(id),
	role         TEXT NOT NULL CHECK (role IN ('analyst', 'planner')),
	added_at     TEXT NOT NULL,
	added_by     TEXT NOT NULL,
	confirmed_at TEXT, -- NULL until a controller confirms
	confirmed_by TEXT,
	lapsed_at    TEXT, -- when ApplyLifecycle recorded the lapse; cleared on confirmation
	PRIMARY KEY (workspace_id, user_id)
) STRICT;

CREATE TABLE workspace_events (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	at           TEXT NOT NULL,
	kind         TEXT NOT NULL,
	actor        TEXT NOT NULL,
	subject      TEXT NOT NULL,
	from_state   TEXT NOT NULL,
	to_state     TEXT NOT NULL,
	reason       TEXT NOT NULL
) STRICT;
CREATE INDEX workspace_events_ws ON workspace_events(workspace_id, seq);

CREATE TABLE releases (
	id           TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	query_id     TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('released', 'review', 'refused')),
	decision     TEXT,
	created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX releases_ws ON releases(workspace_id, created_at);
