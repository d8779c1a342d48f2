-- A workspace is read on every request that touches it (three times per query) and loading one
-- reads the eight tables below. The service keeps what it read, keyed by this generation, which
-- changes with every change to those tables, in the same transaction, whichever process or tool
-- makes it. A random value rather than a counter: a restored copy of the store never brings back
-- a number that meant other contents.
CREATE TABLE generation (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
) STRICT;
INSERT INTO generation (id, n) VALUES (1, random());

CREATE TRIGGER workspaces_insert_generation AFTER INSERT ON workspaces BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER workspaces_update_generation AFTER UPDATE ON workspaces BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER workspaces_delete_generation AFTER DELETE ON workspaces BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER workspace_datasets_insert_generation AFTER INSERT ON workspace_datasets BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER workspace_datasets_update_generation AFTER UPDATE ON workspace_datasets BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER workspace_datasets_delete_generation AFTER DELETE ON workspace_datasets BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER approvals_insert_generation AFTER INSERT ON approvals BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER approvals_update_generation AFTER UPDATE ON approvals BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER approvals_delete_generation AFTER DELETE ON approvals BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER memberships_insert_generation AFTER INSERT ON memberships BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER memberships_update_generation AFTER UPDATE ON memberships BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER memberships_delete_generation AFTER DELETE ON memberships BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER agreements_insert_generation AFTER INSERT ON agreements BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER agreements_update_generation AFTER UPDATE ON agreements BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER agreements_delete_generation AFTER DELETE ON agreements BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER agreement_parties_insert_generation AFTER INSERT ON agreement_parties BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER agreement_parties_update_generation AFTER UPDATE ON agreement_parties BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER agreement_parties_delete_generation AFTER DELETE ON agreement_parties BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER agreement_datasets_insert_generation AFTER INSERT ON agreement_datasets BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER agreement_datasets_update_generation AFTER UPDATE ON agreement_datasets BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER agreement_datasets_delete_generation AFTER DELETE ON agreement_datasets BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER signatures_insert_generation AFTER INSERT ON signatures BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER signatures_update_generation AFTER UPDATE ON signatures BEGIN UPDATE generation SET n = random(); END;
CREATE TRIGGER signatures_delete_generation AFTER DELETE ON signatures BEGIN UPDATE generation SET n = random(); END;
