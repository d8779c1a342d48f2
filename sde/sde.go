// Package sde holds the domain vocabulary of the secure data environment: identifiers,
// error codes with user-safe messages, and the small interfaces the subpackages implement.
package sde

import (
	"crypto/rand"
	"encoding/hex"
)

// Distinct string types so the compiler catches mix-ups between kinds of name.
type (
	// OrgCode identifies an organisation that controls data (e.g. a GP federation or a trust).
	OrgCode string
	// DatasetName names a dataset in the catalogue, e.g. "gp_events".
	DatasetName string
	// WorkspaceID names a workspace, e.g. "demo".
	WorkspaceID string
	// Pseudonym is a keyed hash standing for a person; see package crypto for its format.
	Pseudonym string
	// UserID is the subject of an authenticated person.
	UserID string
)

// NewID is a random identifier with a kind prefix ("q-", "rel-", ...): 64 random bits, so the
// service can name a record before writing it (a query's result names its own release).
func NewID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// MaxMagnitude bounds every number that reaches an aggregate: ingest quarantines DOUBLE values
// beyond it (and infinities and NaN), and the query rewrite turns computed values beyond it into
// NULL before SUM, AVG, MEDIAN, STDDEV and the like see them. Past it those aggregates overflow:
// STDDEV and VARIANCE then fail and SUM and AVG give infinity, which disclosure control refuses —
// for the rows that hold such a value only, so a query's failing would say that they exist.
// Squares of numbers this large, summed over any realistic table, stay finite.
const MaxMagnitude = 1e18
