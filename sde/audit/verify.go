package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opensde/sde/crypto"
)

// MaxRecordBytes bounds one line of the log. Append refuses a larger record (trim Details);
// a reader treats a longer line as damage rather than buffering without limit.
const MaxRecordBytes = 256 << 10

// hashSuffix is how every line ends: `,"hash":"` + 64 hex digits + `"}`.
const (
	hashKey       = `,"hash":"`
	hashSuffixLen = len(hashKey) + 64 + len(`"}`)
)

// VerifyError names the first bad record of a log and what is wrong with it.
type VerifyError struct {
	Line   int    // 1-based line of the file; 0 if unknown (the tail check of Open)
	Seq    int64  // the sequence number the line claims; 0 if it cannot be read
	Reason string // what is wrong, in words an operator can act on
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString("audit log: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d", e.Line)
	}
	if e.Seq > 0 {
		if e.Line > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "(seq %d)", e.Seq)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// chain checks records one line at a time. Anchored chains start at seq 1 from the zero hash;
// an unanchored one (the tail of a file) takes its first record on trust, except its own hash.
type chain struct {
	anchored bool
	line     int // lines consumed
	n        int // records accepted
	head     crypto.Hash
	seq      int64
	body     []byte // scratch
}

// check verifies one line (without its newline) against the chain so far and advances it.
func (c *chain) check(line []byte) (Record, *VerifyError) {
	c.line++
	var rec Record
	bad := func(format string, args ...any) (Record, *VerifyError) {
		return Record{}, &VerifyError{Line: c.line, Seq: rec.Seq, Reason: fmt.Sprintf(format, args...)}
	}
	if len(line) == 0 {
		return bad("empty line")
	}
	if len(line) < hashSuffixLen+2 || !bytes.Equal(line[len(line)-hashSuffixLen:][:len(hashKey)], []byte(hashKey)) ||
		line[len(line)-2] != '"' || line[len(line)-1] != '}' {
		// Still try to name the seq, to help whoever reads the report.
		_ = json.Unmarshal(line, &rec)
		return bad("not a record: unparsable, or its hash is not the last member")
	}
	stored, err := crypto.ParseHash(string(line[len(line)-hashSuffixLen+len(hashKey) : len(line)-2]))
	if err != nil {
		return bad("not a record: malformed hash")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return bad("not a record: invalid JSON at byte %d", syn.Offset)
		}
		return bad("not a record: %v", err)
	} else if dec.More() {
		return bad("not a record: data after the record")
	}
	prev, err := crypto.ParseHash(rec.Prev)
	if err != nil {
		return bad("not a record: malformed prev")
	}
	if rec.Hash != stored.String() {
		return bad("not a record: more than one hash member")
	}
	c.body = append(append(c.body[:0], line[:len(line)-hashSuffixLen]...), '}')
	if crypto.ChainHash(prev, c.body) != stored {
		return bad("record altered: its hash does not match its contents")
	}
	switch {
	case c.n == 0 && !c.anchored:
		// The tail window's first record: its own hash is all we can check.
	case c.n == 0 && rec.Seq != 1:
		return bad("the log starts at seq %d, not 1: records are missing from the start", rec.Seq)
	case c.n == 0 && prev != (crypto.Hash{}):
		return bad("the first record's prev is not the zero hash: records are missing from the start")
	case c.n > 0 && rec.Seq != c.seq+1:
		return bad("expected seq %d after seq %d: a record was deleted, or records were reordered or copied", c.seq+1, c.seq)
	case c.n > 0 && prev != c.head:
		return bad("prev is not the hash of the record before it: a record was replaced, removed or moved")
	}
	c.n++
	c.seq = rec.Seq
	c.head = stored
	return rec, nil
}

// scan reads r line by line through the chain and calls fn for each good record with its line
// as stored (without the newline). It stops at the first bad record with a *VerifyError, or at
// a read error, or when fn fails.
func scan(r io.Reader, fn func(rec Record, line []byte) error) (*chain, error) {
	c := &chain{anchored: true}
	br := bufio.NewReaderSize(r, MaxRecordBytes+1)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			return c, &VerifyError{Line: c.line + 1, Reason: fmt.Sprintf("line longer than %d bytes: not a record", MaxRecordBytes)}
		case err == io.EOF && len(line) == 0:
			return c, nil
		case err == io.EOF:
			return c, &VerifyError{Line: c.line + 1, Reason: "incomplete final line (no newline): the write of this record never finished"}
		case err != nil:
			return c, err
		}
		rec, verr := c.check(line[:len(line)-1])
		if verr != nil {
			return c, verr
		}
		if fn != nil {
			if err := fn(rec, line[:len(line)-1]); err != nil {
				return c, err
			}
		}
	}
}

// Verify reads a whole log and checks every link of its chain: each record's hash against its
// contents, its prev against the record before, gapless seqs from 1, and the zero-hash anchor.
// It returns the number of good records and the head hash. The first bad record is reported as
// a *VerifyError; a failure to read r as that error. A log cut at a record boundary verifies:
// compare the head with one recorded elsewhere to detect that.
func Verify(r io.Reader) (n int, head crypto.Hash, err error) {
	return Scan(r, nil)
}

// Scan is Verify that also hands each good record, in order, to fn (which may be nil); an
// error from fn stops it and is returned.
func Scan(r io.Reader, fn func(Record) error) (n int, head crypto.Hash, err error) {
	var each func(Record, []byte) error
	if fn != nil {
		each = func(rec Record, _ []byte) error { return fn(rec) }
	}
	c, err := scan(r, each)
	return c.n, c.head, err
}

// Filter selects records for Export. Zero fields match everything.
type Filter struct {
	Actor     string // exact user ID
	Workspace string // exact workspace ID
	Action    string // exact action, or a prefix ending ".*" ("auth.*"), or "*"
	Outcome   string // exact outcome
	Since     time.Time
	Until     time.Time // exclusive
}

// Match reports whether rec passes the filter.
func (f Filter) Match(rec Record) bool {
	switch {
	case f.Actor != "" && string(rec.Actor) != f.Actor:
		return false
	case f.Workspace != "" && string(rec.Workspace) != f.Workspace:
		return false
	case f.Outcome != "" && rec.Outcome != f.Outcome:
		return false
	case !f.Since.IsZero() && rec.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !rec.Time.Before(f.Until):
		return false
	}
	switch a := f.Action; {
	case a == "" || a == "*":
		return true
	case strings.HasSuffix(a, ".*"):
		return strings.HasPrefix(rec.Action, a[:len(a)-1])
	default:
		return rec.Action == a
	}
}

// Export copies the records of the log in r that match f to w as JSON lines, byte for byte as
// stored, so each exported record still carries the hash a reviewer can check against the log.
// It verifies the chain as it reads and stops at the first bad record with a *VerifyError, so
// an export never silently includes records after damage; records before it have been written.
// It returns the number of records exported.
func Export(r io.Reader, w io.Writer, f Filter) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	_, err := scan(r, func(rec Record, line []byte) error {
		if !f.Match(rec) {
			return nil
		}
		n++
		if _, err := bw.Write(line); err != nil {
			return err
		}
		return bw.WriteByte('\n')
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return n, err
}
