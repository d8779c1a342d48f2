package disclosure

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Version is the engine version written into every decision record; it changes
// whenever the same input could produce a different output.
const Version = "0.1.0"

// Outcome is the overall status of a result.
type Outcome string

const (
	// Pass: the released cells may go to the requester.
	Pass Outcome = "pass"
	// Review: nothing goes to the requester until two output checkers approve.
	Review Outcome = "review"
	// Fail: the result is refused as a whole; every cell is suppressed.
	Fail Outcome = "fail"
)

// Cell statuses, the contract with the API and every other consumer.
const (
	StatusOK      = "ok"      // released as computed
	StatusRounded = "rounded" // released after rounding (the value may be unchanged)
)

// Reason is why a cell was suppressed; its status is "suppressed:" + reason.
type Reason string

const (
	ReasonThreshold    Reason = "threshold"    // fewer than k distinct persons (or a disclosive zero)
	ReasonSecondary    Reason = "secondary"    // suppressed to protect another cell through the margins
	ReasonDominance    Reason = "dominance"    // NK or p-ratio rule on per-person contributions
	ReasonDifferencing Reason = "differencing" // differs by fewer than k persons from an earlier release
	ReasonPolicy       Reason = "policy"       // refused aggregate, row cap, or a check the policy turns into suppression
)

// Status returns the cell status string for a suppression reason.
func (r Reason) Status() string { return "suppressed:" + string(r) }

// Flag marks a cell an output checker must look at, with a note that never
// contains data values or person counts.
type Flag struct {
	Row    int    `json:"row"`
	Column int    `json:"column"`
	Rule   string `json:"rule"`
	Note   string `json:"note"`
}

// Counts summarise a result's cells.
type Counts struct {
	Cells      int            `json:"cells"`
	Released   int            `json:"released"`
	Rounded    int            `json:"rounded"`
	Suppressed int            `json:"suppressed"`
	ByReason   map[Reason]int `json:"by_reason,omitempty"`
}

// Decision is the machine-readable record of what the engine did to one result,
// kept with the release and shown to checkers. It holds no suppressed values.
type Decision struct {
	Engine  string       `json:"engine"`
	Policy  Policy       `json:"policy"`
	Query   *Fingerprint `json:"query,omitempty"`
	Status  Outcome      `json:"status"`
	Reasons []string     `json:"reasons,omitempty"` // why the status is review or fail
	Rows    int          `json:"rows"`
	Columns []string     `json:"columns"`
	Counts  Counts       `json:"counts"`
	// Cells is the per-cell outcome, [row][column], the same as Result.Status.
	Cells [][]string `json:"cells"`
	Flags []Flag     `json:"flags,omitempty"`
	// SHA256 is the hex SHA-256 of the released table in canonical form (see
	// CanonicalTable), so a release can be matched to its decision later.
	SHA256 string `json:"sha256"`
}

// JSON returns the decision record indented, for files and terminals.
func (d *Decision) JSON() []byte {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic(err) // only plain data types: cannot fail
	}
	return b
}

// CanonicalTable writes a released table in the form that is hashed: a header
// line of JSON-quoted column names, then one line per row; fields are separated by
// commas, lines end in "\n"; strings are JSON-quoted, nulls are `null`, numbers
// are in Go's shortest 'g' form (integers as decimal digits).
func CanonicalTable(columns []string, rows [][]any) []byte {
	var b strings.Builder
	q := func(s string) string { v, _ := json.Marshal(s); return string(v) }
	for j, c := range columns {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(q(c))
	}
	b.WriteByte('\n')
	for _, row := range rows {
		for j, v := range row {
			if j > 0 {
				b.WriteByte(',')
			}
			switch v := v.(type) {
			case nil:
				b.WriteString("null")
			case string:
				b.WriteString(q(v))
			case int64:
				b.WriteString(strconv.FormatInt(v, 10))
			case float64:
				if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
					b.WriteString(strconv.FormatInt(int64(v), 10))
				} else {
					b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
				}
			default:
				b.WriteString(q(toString(v)))
			}
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func toString(v any) string {
	if s, ok := v.(interface{ String() string }); ok {
		return s.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func hashTable(columns []string, rows [][]any) string {
	sum := sha256.Sum256(CanonicalTable(columns, rows))
	return hex.EncodeToString(sum[:])
}
