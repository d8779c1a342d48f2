-- Results the disclosure engine flags for review are held with their release until two
-- independent output checkers (never the requester) approve them.
ALTER TABLE releases ADD COLUMN held TEXT;

CREATE TABLE release_reviews (
	release_id TEXT NOT NULL REFERENCES releases(id),
	checker    TEXT NOT NULL,
	verdict    TEXT NOT NULL CHECK (verdict IN ('approved', 'rejected')),
	comment    TEXT NOT NULL,
	at         TEXT NOT NULL,
	PRIMARY KEY (release_id, checker)
) STRICT;
