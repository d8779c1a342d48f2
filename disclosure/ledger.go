package disclosure

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
)

// Fingerprint describes a query well enough to find the earlier releases it could
// be differenced against. The SQL planner fills it in from the analysed query.
// All strings are normalised by the planner (canonical SQL for each conjunct,
// qualified table and column names) so equal meaning gives equal text.
type Fingerprint struct {
	// Sources are the tables read, e.g. "gp_events@v3".
	Sources []string `json:"sources"`
	// Grouping are the grouping columns' keys (ColumnPlan.Key) and, for ROLLUP,
	// CUBE and GROUPING SETS, one entry per grouping set, e.g. "sets:(a,b),(a),()".
	Grouping []string `json:"grouping"`
	// Measures are the measure expressions; they are recorded but do not limit
	// comparability, because an attacker may difference a COUNT against a SUM.
	Measures []string `json:"measures,omitempty"`
	// Filters are the WHERE clause's top-level conjuncts.
	Filters []string `json:"filters"`
}

// Normalize returns f with every list sorted and de-duplicated, so that the
// order of tables, grouping columns or conjuncts does not matter.
func (f Fingerprint) Normalize() Fingerprint {
	norm := func(s []string) []string {
		s = slices.Clone(s)
		slices.Sort(s)
		return slices.Compact(s)
	}
	return Fingerprint{Sources: norm(f.Sources), Grouping: norm(f.Grouping), Measures: norm(f.Measures), Filters: norm(f.Filters)}
}

// Key identifies the results f can be compared with — those over the same sources — so a
// persistent ledger can index its releases by it and hand the engine only those; Differences
// still decides.
func (f Fingerprint) Key() string {
	n := f.Normalize()
	sum := sha256.Sum256([]byte(strings.Join(n.Sources, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// Differences reports whether a result for f could be subtracted from a result for g to
// isolate persons: the same sources, and different filters or a differently written grouping.
// Any difference counts, not just one extra condition: whether one population contains the
// other cannot be read from the text (a tautology added to a condition, or a condition or
// grouping written another way, hides a subset), so every such pair is compared, row by row on
// the dimension values.
func (f Fingerprint) Differences(g Fingerprint) bool {
	f, g = f.Normalize(), g.Normalize()
	if !slices.Equal(f.Sources, g.Sources) {
		return false
	}
	return symmetricDifference(f.Filters, g.Filters) > 0 || !slices.Equal(f.Grouping, g.Grouping)
}

// symmetricDifference counts elements in exactly one of two sorted, compacted lists.
func symmetricDifference(a, b []string) int {
	n, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch strings.Compare(a[i], b[j]) {
		case 0:
			i, j = i+1, j+1
		case -1:
			n, i = n+1, i+1
		default:
			n, j = n+1, j+1
		}
	}
	return n + len(a) - i + len(b) - j
}

// Release is what the ledger keeps of one released result: enough to detect
// differencing later, nothing that is released to anyone. Persons counts are
// kept only for cells that were released.
type Release struct {
	Query Fingerprint `json:"query"`
	// Rows maps a row key (grouping-set columns and values) to the row's persons.
	Rows map[string]int64 `json:"rows"`
	// Cells maps a cell key (row key and measure key) to the cell's persons.
	Cells map[string]int64 `json:"cells"`
}

// Ledger is what the engine reads of a workspace's record of earlier releases. Recording is
// the release step's business, once a result is actually delivered (Result.Release), so a
// refused or withdrawn result never counts; MemLedger.Record does it in memory.
type Ledger interface {
	// Releases returns the earlier releases that might be comparable with q
	// (returning more is fine: the engine filters with Fingerprint.Differences).
	Releases(q Fingerprint) ([]Release, error)
}

// MemLedger is an in-memory Ledger, safe for concurrent use. Persistent ledgers
// live with the control-plane store.
type MemLedger struct {
	mu       sync.Mutex
	releases []Release
}

// Releases returns the releases over the same sources and grouping as q.
func (l *MemLedger) Releases(q Fingerprint) ([]Release, error) {
	q = q.Normalize()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Release
	for _, r := range l.releases {
		if r.Query.Key() == q.Key() {
			out = append(out, r)
		}
	}
	return out, nil
}

// Record appends r.
func (l *MemLedger) Record(r Release) error {
	r.Query = r.Query.Normalize()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releases = append(l.releases, r)
	return nil
}
