-- The query service keeps each key's ledger parsed and asks only for entries after the last it
-- has (seq > ?): this index finds them without reading the key's earlier entries.
CREATE INDEX ledger_by_key_seq ON ledger (workspace_id, ledger_key, seq);
