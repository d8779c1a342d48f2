-- Releases are compared for differencing only with releases over the same sources and grouping
-- (disclosure.Fingerprint.Key); index by it so a query reads only those, not the whole ledger.
ALTER TABLE releases ADD COLUMN ledger_key TEXT;
CREATE INDEX releases_ledger ON releases(workspace_id, ledger_key) WHERE ledger IS NOT NULL;
