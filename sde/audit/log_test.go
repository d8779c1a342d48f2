package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/sde"
)

// clock returns a deterministic clock that advances one second per reading.
func clock(start time.Time) func() time.Time {
	var mu sync.Mutex
	t := start.Add(-time.Second)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func openTest(t testing.TB, path string) *Log {
	t.Helper()
	l, err := Open(path, Options{Now: clock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustAppend(t testing.TB, l *Log, ev Event) Record {
	t.Helper()
	rec, err := l.Append(context.Background(), ev)
	if err != nil {
		t.Fatalf("append %s: %v", ev.Action, err)
	}
	return rec
}

// sample appends n ordinary events and returns the log's path.
func sample(t *testing.T, n int) string {
	t.Helper()
	path := Path(t.TempDir())
	l := openTest(t, path)
	for i := range n {
		mustAppend(t, l, Event{Actor: sde.UserID(fmt.Sprintf("user%d", i%3)), Action: ActionQueryRun, Outcome: OutcomeOK, Workspace: "demo", Target: fmt.Sprintf("q%d", i+1)})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func verifyFile(t *testing.T, path string) (int, crypto.Hash, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Verify(f)
}

func lines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))
}

func writeLines(t *testing.T, path string, ls [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(ls, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAppendVerifyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := Path(dir)
	l := openTest(t, path)
	p := &sde.Principal{User: "analyst1", Organisation: "RVGPC", Roles: []sde.Role{sde.RoleAnalyst}}
	events := []Event{
		{Actor: "analyst1", Organisation: "RVGPC", Action: ActionSignIn, Outcome: OutcomeOK, RemoteAddr: "127.0.0.1:5000",
			Details: map[string]any{"method": "oidc", "access_token": "eyJhbGciOi", "nested": map[string]any{"client_secret": "s3cret", "ok": 1}}},
		{Actor: "mallory", Action: ActionAuthRefused, Outcome: OutcomeRefused, Details: map[string]any{"reason": "<bad> & \"expired\"", "Authorization": "Bearer x"}},
		{Actor: "controller1", Action: "agreement.create", Outcome: OutcomeOK, Target: "dsa-1"},
		{Actor: "controller1", Action: "workspace.decide", Outcome: OutcomeOK, Workspace: "demo"},
		func() Event {
			ev := FromPrincipal(p, ActionQueryRun, OutcomeRefused)
			ev.Workspace, ev.Details = "demo", map[string]any{"code": "refused", "sql_sha256": "ab12"}
			return ev
		}(),
		{Actor: "analyst1", Action: "review.decide", Outcome: OutcomeOK, Workspace: "demo", Target: "rel-1", Details: map[string]any{"cells": 12, "suppressed": 3}},
		{Actor: "analyst1", Action: "dashboard.download", Outcome: OutcomeOK, Workspace: "demo", Target: "rel-1"},
	}
	var recs []Record
	for _, ev := range events {
		recs = append(recs, mustAppend(t, l, ev))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	n, head, err := verifyFile(t, path)
	if err != nil || n != len(events) {
		t.Fatalf("Verify = %d, %v; want %d records", n, err, len(events))
	}
	if seq, h := l.Head(); seq != int64(n) || h != head || h.String() != recs[n-1].Hash {
		t.Errorf("Head() = %d %s; Verify head %s, last record %s", seq, h, head, recs[n-1].Hash)
	}

	ls := lines(t, path)
	prev := crypto.Hash{}.String()
	for i, rec := range recs {
		if rec.Seq != int64(i+1) || rec.Prev != prev || !rec.Time.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Errorf("record %d: seq %d prev %s time %v", i, rec.Seq, rec.Prev, rec.Time)
		}
		prev = rec.Hash
		var got Record
		if err := json.Unmarshal(ls[i], &got); err != nil {
			t.Fatal(err)
		}
		if got.Hash != rec.Hash || got.Action != rec.Action || got.Actor != rec.Actor || !bytes.Equal(got.Details, rec.Details) {
			t.Errorf("line %d = %+v, Append returned %+v", i+1, got, rec)
		}
		// The hash is over the line without its hash member, as the package comment says.
		body := strings.TrimSuffix(string(ls[i]), "\n")
		body = body[:strings.LastIndex(body, `,"hash":`)] + "}"
		ph, _ := crypto.ParseHash(rec.Prev)
		if crypto.ChainHash(ph, []byte(body)).String() != rec.Hash {
			t.Errorf("line %d: hash is not ChainHash(prev, body)", i+1)
		}
	}
	if recs[4].Actor != "analyst1" || recs[4].Organisation != "RVGPC" {
		t.Errorf("FromPrincipal: %+v", recs[4])
	}
	data, _ := os.ReadFile(path)
	for _, secret := range []string{"eyJhbGciOi", "s3cret", "Bearer", "access_token", "client_secret"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the log contains %q", secret)
		}
	}
	if !bytes.Contains(data, []byte(`"nested":{"ok":1}`)) {
		t.Errorf("nested details lost: %s", ls[0])
	}

	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", filepath.Base(p), fi.Mode().Perm(), want, err)
		}
	}
}

func TestReopenResumesChain(t *testing.T) {
	path := sample(t, 3)
	l := openTest(t, path)
	if seq, _ := l.Head(); seq != 3 {
		t.Fatalf("reopened at seq %d, want 3", seq)
	}
	if rec := mustAppend(t, l, Event{Action: "dashboard.download", Outcome: OutcomeOK}); rec.Seq != 4 {
		t.Fatalf("seq %d after reopen, want 4", rec.Seq)
	}
	l.Close()
	if n, _, err := verifyFile(t, path); err != nil || n != 4 {
		t.Fatalf("Verify = %d, %v", n, err)
	}
}

// forge rewrites a line with edit applied and a hash recomputed over the new body with the
// line's own prev, as someone who knows the format but cannot rewrite the rest would.
func forge(t *testing.T, line []byte, edit func(*Record)) []byte {
	t.Helper()
	var rec Record
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatal(err)
	}
	edit(&rec)
	rec.Hash = ""
	body, _ := json.Marshal(rec)
	prev, _ := crypto.ParseHash(rec.Prev)
	rec.Hash = crypto.ChainHash(prev, body).String()
	out, _ := json.Marshal(rec)
	return append(out, '\n')
}

func TestVerifyNamesFirstBadRecord(t *testing.T) {
	const n = 6
	tests := []struct {
		name     string
		edit     func(t *testing.T, ls [][]byte) [][]byte
		line     int
		seq      int64
		reason   string
		okN      int // records verified when the damage cannot be seen from inside the log
		headFrom int // if okN > 0: the head must be that of this original record
	}{
		{name: "tampered field", line: 3, seq: 3, reason: "record altered", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls[2] = bytes.Replace(ls[2], []byte(`"actor":"user2"`), []byte(`"actor":"user9"`), 1)
			return ls
		}},
		{name: "tampered seq", line: 3, seq: 7, reason: "record altered", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls[2] = bytes.Replace(ls[2], []byte(`"seq":3`), []byte(`"seq":7`), 1)
			return ls
		}},
		{name: "tampered whitespace", line: 2, seq: 2, reason: "record altered", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`"seq":2,`), []byte(`"seq":2, `), 1)
			return ls
		}},
		{name: "tampered and rehashed", line: 4, seq: 4, reason: "prev is not the hash", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls[2] = forge(t, ls[2], func(r *Record) { r.Outcome = OutcomeRefused })
			return ls
		}},
		{name: "deleted record", line: 3, seq: 4, reason: "expected seq 3 after seq 2", edit: func(t *testing.T, ls [][]byte) [][]byte {
			return append(ls[:2:2], ls[3:]...)
		}},
		{name: "deleted and renumbered", line: 3, seq: 3, reason: "prev is not the hash", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls = append(ls[:2:2], ls[3:]...)
			for i := 2; i < n-1; i++ {
				ls[i] = forge(t, ls[i], func(r *Record) { r.Seq-- })
			}
			return ls
		}},
		{name: "swapped records", line: 3, seq: 4, reason: "expected seq 3 after seq 2", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls[2], ls[3] = ls[3], ls[2]
			return ls
		}},
		{name: "duplicated record", line: 4, seq: 3, reason: "expected seq 4 after seq 3", edit: func(t *testing.T, ls [][]byte) [][]byte {
			return append(ls[:3:3], append([][]byte{ls[2]}, ls[3:]...)...)
		}},
		{name: "first record deleted", line: 1, seq: 2, reason: "starts at seq 2", edit: func(t *testing.T, ls [][]byte) [][]byte {
			return ls[1:]
		}},
		{name: "first record re-anchored", line: 1, seq: 1, reason: "zero hash", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls[0] = forge(t, ls[0], func(r *Record) { r.Prev = strings.Repeat("1", 64) })
			return ls
		}},
		{name: "tail truncated mid-record", line: n, reason: "incomplete final line", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls[n-1] = ls[n-1][:len(ls[n-1])/2]
			return ls
		}},
		{name: "newline of last record lost", line: n, reason: "incomplete final line", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls[n-1] = bytes.TrimSuffix(ls[n-1], []byte("\n"))
			return ls
		}},
		{name: "garbage line", line: 4, reason: "not a record", edit: func(t *testing.T, ls [][]byte) [][]byte {
			return append(ls[:3:3], append([][]byte{[]byte("hello\n")}, ls[3:]...)...)
		}},
		{name: "blank line", line: 2, reason: "empty line", edit: func(t *testing.T, ls [][]byte) [][]byte {
			return append(ls[:1:1], append([][]byte{[]byte("\n")}, ls[1:]...)...)
		}},
		{name: "extra member", line: 5, seq: 5, reason: "unknown field", edit: func(t *testing.T, ls [][]byte) [][]byte {
			ls[4] = forge(t, ls[4], func(*Record) {})
			ls[4] = bytes.Replace(ls[4], []byte(`{"seq":5,`), []byte(`{"seq":5,"note":"x",`), 1)
			return ls
		}},
		// Cutting whole records off the end cannot be seen from inside: the head changes.
		{name: "last record cut", okN: n - 1, headFrom: n - 1, edit: func(t *testing.T, ls [][]byte) [][]byte {
			return ls[:n-1]
		}},
	}
	orig := sample(t, n)
	ls0 := lines(t, orig)
	var hashes []string
	for _, l := range ls0[:n] {
		var r Record
		json.Unmarshal(l, &r)
		hashes = append(hashes, r.Hash)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := make([][]byte, n)
			for i := range n {
				ls[i] = bytes.Clone(ls0[i])
			}
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			writeLines(t, path, tt.edit(t, ls))
			got, head, err := verifyFile(t, path)
			if tt.okN > 0 {
				if err != nil || got != tt.okN || head.String() != hashes[tt.headFrom-1] {
					t.Fatalf("Verify = %d, %s, %v; want %d records, head of seq %d", got, head, err, tt.okN, tt.headFrom)
				}
				return
			}
			var verr *VerifyError
			if !errors.As(err, &verr) {
				t.Fatalf("Verify = %d, %v; want a *VerifyError", got, err)
			}
			if verr.Line != tt.line || verr.Seq != tt.seq || !strings.Contains(verr.Reason, tt.reason) {
				t.Errorf("got line %d seq %d %q; want line %d seq %d %q", verr.Line, verr.Seq, verr.Reason, tt.line, tt.seq, tt.reason)
			}
			if got != tt.line-1 {
				t.Errorf("Verify counted %d good records before line %d", got, tt.line)
			}
			t.Log(verr)
		})
	}
}

func TestOpenSetsTornLineAside(t *testing.T) {
	for _, tt := range []struct {
		name  string
		whole int // records before the torn line
	}{{"after records", 3}, {"only line", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			path := sample(t, tt.whole)
			torn := []byte(`{"seq":` + fmt.Sprint(tt.whole+1) + `,"time":"2026-03-01T10:00:0`)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(torn)
			f.Close()
			if _, _, err := verifyFile(t, path); err == nil || !strings.Contains(err.Error(), "incomplete final line") {
				t.Fatalf("Verify before recovery: %v", err)
			}

			l := openTest(t, path)
			seq, _ := l.Head()
			if seq != int64(tt.whole+1) {
				t.Fatalf("after recovery head seq %d, want %d", seq, tt.whole+1)
			}
			mustAppend(t, l, Event{Action: ActionSignIn, Outcome: OutcomeOK, Actor: "analyst1"})
			l.Close()
			n, _, err := verifyFile(t, path)
			if err != nil || n != tt.whole+2 {
				t.Fatalf("Verify after recovery = %d, %v", n, err)
			}
			ls := lines(t, path)
			var rec Record
			json.Unmarshal(ls[tt.whole], &rec)
			if rec.Action != ActionRecovered || rec.Outcome != OutcomeOK || !strings.HasPrefix(rec.Target, "audit.jsonl.torn-") {
				t.Fatalf("recovery record: %s", ls[tt.whole])
			}
			var d struct{ TornBytes, AfterSeq int }
			if err := json.Unmarshal(rec.Details, &struct {
				TornBytes *int `json:"torn_bytes"`
				AfterSeq  *int `json:"after_seq"`
			}{&d.TornBytes, &d.AfterSeq}); err != nil || d.TornBytes != len(torn) || d.AfterSeq != tt.whole {
				t.Errorf("recovery details %s", rec.Details)
			}
			saved := filepath.Join(filepath.Dir(path), rec.Target)
			got, err := os.ReadFile(saved)
			if err != nil || !bytes.Equal(got, torn) {
				t.Errorf("torn bytes kept as %q, want %q (%v)", got, torn, err)
			}
			if fi, _ := os.Stat(saved); fi.Mode().Perm() != 0o600 {
				t.Errorf("torn file mode %v", fi.Mode().Perm())
			}
		})
	}
}

func TestOpenRefusesDamagedTail(t *testing.T) {
	path := sample(t, 4)
	ls := lines(t, path)
	ls[3] = bytes.Replace(ls[3], []byte(`"q4"`), []byte(`"q9"`), 1)
	writeLines(t, path, ls)
	_, err := Open(path, Options{})
	if sde.ErrorCode(err) != sde.EUNAVAILABLE || strings.Contains(sde.ErrorMessage(err), path) {
		t.Fatalf("Open of a damaged log: %v", err)
	}
	var verr *VerifyError
	if !errors.As(err, &verr) || verr.Seq != 4 {
		t.Errorf("cause should name seq 4: %v", err)
	}
}

func TestOpenChecksOnlyTheTailOfLargeLogs(t *testing.T) {
	path := Path(t.TempDir())
	l := openTest(t, path)
	big := strings.Repeat("x", 8000)
	for range 2 * tailWindow / 8000 {
		mustAppend(t, l, Event{Action: ActionQueryRun, Outcome: OutcomeOK, Details: map[string]any{"pad": big}})
	}
	l.Close()
	total := 2 * tailWindow / 8000
	// Damage far from the end is left to Verify; damage near it stops Open.
	ls := lines(t, path)
	ls[0] = bytes.Replace(ls[0], []byte(`"seq":1,`), []byte(`"seq":1 ,`), 1)
	writeLines(t, path, ls)
	l2, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open with damage outside the tail window: %v", err)
	}
	if seq, _ := l2.Head(); seq != int64(total) {
		t.Errorf("head seq %d, want %d", seq, total)
	}
	l2.Close()
	ls[total-2] = bytes.Replace(ls[total-2], []byte(`"pad":"x`), []byte(`"pad":"y`), 1)
	writeLines(t, path, ls)
	if _, err := Open(path, Options{}); sde.ErrorCode(err) != sde.EUNAVAILABLE {
		t.Fatalf("Open with damage in the tail window: %v", err)
	}
}

func TestOpenLocksOutASecondWriter(t *testing.T) {
	path := Path(t.TempDir())
	openTest(t, path)
	_, err := Open(path, Options{})
	if sde.ErrorCode(err) != sde.EUNAVAILABLE || sde.ErrorMessage(err) != msgInUse {
		t.Fatalf("second Open: %v", err)
	}
}

func TestOpenRefusesWorldWritableLog(t *testing.T) {
	path := sample(t, 1)
	if err := os.Chmod(path, 0o622); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); sde.ErrorCode(err) != sde.EUNAVAILABLE {
		t.Fatalf("Open of a log others can write: %v", err)
	}
}

// assertRefused checks that the log now refuses every append with the fail-closed error.
func assertRefused(t *testing.T, l *Log, first error) {
	t.Helper()
	if sde.ErrorCode(first) != sde.EUNAVAILABLE || sde.ErrorMessage(first) != msgUnavailable {
		t.Fatalf("failed append: %v, want %s %q", first, sde.EUNAVAILABLE, msgUnavailable)
	}
	for range 3 {
		if _, err := l.Append(context.Background(), Event{Action: ActionSignIn, Outcome: OutcomeOK}); sde.ErrorCode(err) != sde.EUNAVAILABLE {
			t.Fatalf("append after a failure: %v; the log must stay closed", err)
		}
	}
	if l.Err() == nil {
		t.Error("Err() is nil after a failure")
	}
}

func TestFailClosedDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	l := openTest(t, path)
	_, err := l.Append(context.Background(), Event{Action: ActionSignIn, Outcome: OutcomeOK, Actor: "analyst1"})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("cause %v, want ENOSPC", err)
	}
	assertRefused(t, l, err)
}

func TestFailClosedLostFile(t *testing.T) {
	path := sample(t, 2)
	l := openTest(t, path)
	mustAppend(t, l, Event{Action: ActionSignIn, Outcome: OutcomeOK})
	l.f.Close() // the descriptor goes away underneath the log
	_, err := l.Append(context.Background(), Event{Action: "dashboard.download", Outcome: OutcomeOK})
	assertRefused(t, l, err)
	if n, _, err := verifyFile(t, path); err != nil || n != 3 {
		t.Fatalf("Verify = %d, %v; want the 3 acknowledged records", n, err)
	}
}

// A write that stops half-way leaves a torn line; the log must not write after it, and the
// next Open sets it aside.
func TestFailClosedHalfWrittenRecord(t *testing.T) {
	path := sample(t, 2)
	l := openTest(t, path)
	l.write = func(b []byte) (int, error) {
		n, _ := l.f.Write(b[:len(b)/2])
		return n, syscall.EIO
	}
	_, err := l.Append(context.Background(), Event{Action: "dashboard.download", Outcome: OutcomeOK})
	l.write = l.f.Write // the disk "recovers"; the log must still refuse
	assertRefused(t, l, err)
	l.Close()

	if _, _, err := verifyFile(t, path); err == nil || !strings.Contains(err.Error(), "line 3: incomplete final line") {
		t.Fatalf("Verify after a half write: %v", err)
	}
	l2 := openTest(t, path)
	mustAppend(t, l2, Event{Action: ActionSignIn, Outcome: OutcomeOK})
	l2.Close()
	if n, _, err := verifyFile(t, path); err != nil || n != 4 {
		t.Fatalf("Verify after reopening = %d, %v; want 2 + recovery + 1", n, err)
	}
}

func TestFailClosedFsync(t *testing.T) {
	path := Path(t.TempDir())
	l := openTest(t, path)
	l.sync = func() error { return syscall.EIO }
	_, err := l.Append(context.Background(), Event{Action: "dashboard.download", Outcome: OutcomeOK})
	l.sync = l.f.Sync
	assertRefused(t, l, err)
}

// Every Append waiting in a group commit that fails is refused, not only the one that wrote.
func TestFailClosedGroupCommit(t *testing.T) {
	path := Path(t.TempDir())
	l := openTest(t, path)
	release := make(chan struct{})
	var calls atomic.Int32
	l.sync = func() error {
		if calls.Add(1) == 1 {
			<-release // hold the first fsync while others queue
			return syscall.EIO
		}
		return l.f.Sync()
	}
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := l.Append(context.Background(), Event{Action: ActionQueryRun, Outcome: OutcomeOK})
			errs <- err
		}()
	}
	for l.queued() < n {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range n {
		if err := <-errs; sde.ErrorCode(err) != sde.EUNAVAILABLE {
			t.Errorf("append in a failed group: %v", err)
		}
	}
	assertRefused(t, l, l.Err())
}

// queued is how many records have been assigned a seq.
func (l *Log) queued() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

func TestAppendRejectsBadEvents(t *testing.T) {
	l := openTest(t, Path(t.TempDir()))
	for _, ev := range []Event{
		{Outcome: OutcomeOK},
		{Action: "Query Run", Outcome: OutcomeOK},
		{Action: ActionQueryRun},
		{Action: ActionQueryRun, Outcome: "maybe"},
		{Action: ActionQueryRun, Outcome: OutcomeOK, Details: map[string]any{"f": func() {}}},
		{Action: ActionQueryRun, Outcome: OutcomeOK, Details: map[string]any{"sql": strings.Repeat("s", MaxRecordBytes)}},
	} {
		if _, err := l.Append(context.Background(), ev); sde.ErrorCode(err) != sde.EINTERNAL {
			t.Errorf("Append(%+v) = %v, want %s", ev.Action, err, sde.EINTERNAL)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, Event{Action: ActionQueryRun, Outcome: OutcomeOK}); err == nil {
		t.Error("Append with a cancelled context succeeded")
	}
	// None of that poisons the log or uses a seq.
	if rec := mustAppend(t, l, Event{Action: ActionQueryRun, Outcome: OutcomeOK}); rec.Seq != 1 {
		t.Errorf("seq %d, want 1", rec.Seq)
	}
	l.Close()
	if _, err := l.Append(context.Background(), Event{Action: ActionQueryRun, Outcome: OutcomeOK}); sde.ErrorMessage(err) != msgClosed {
		t.Errorf("Append after Close: %v", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	path := Path(t.TempDir())
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var syncs atomic.Int32
	l.sync = func() error { syncs.Add(1); return l.f.Sync() }
	const workers, each = 16, 40
	recs := make(chan Record, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rec, err := l.Append(context.Background(), Event{Actor: sde.UserID(fmt.Sprint("u", w)), Action: ActionQueryRun, Outcome: OutcomeOK, Target: fmt.Sprint(i)})
				if err != nil {
					t.Error(err)
					return
				}
				recs <- rec
			}
		})
	}
	wg.Wait()
	l.Close()
	close(recs)
	n, _, err := verifyFile(t, path)
	if err != nil || n != workers*each {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	ls := lines(t, path)
	seen := make(map[int64]bool)
	for rec := range recs {
		if seen[rec.Seq] || rec.Seq < 1 || rec.Seq > int64(n) {
			t.Fatalf("seq %d returned twice or out of range", rec.Seq)
		}
		seen[rec.Seq] = true
		if !bytes.Contains(ls[rec.Seq-1], []byte(rec.Hash)) {
			t.Errorf("seq %d: returned hash is not the stored one", rec.Seq)
		}
	}
	// Group commit: concurrent appends share fsyncs (one each would be n).
	if got := int(syncs.Load()); got >= n {
		t.Errorf("%d records took %d fsyncs; concurrent appends should share them", n, got)
	} else {
		t.Logf("%d records in %d fsyncs", n, got)
	}
}

func TestRedact(t *testing.T) {
	in := map[string]any{
		"user": "a", "Password": "p", "refresh_token": "t", "X-Api-Key": "k", "apiKey": "k",
		"list":    []any{map[string]any{"secret": 1, "keep": 2}},
		"headers": map[string]string{"Cookie": "c", "Accept": "json"},
	}
	got, _ := json.Marshal(Redact(in))
	if want := `{"headers":{"Accept":"json"},"list":[{"keep":2}],"user":"a"}`; string(got) != want {
		t.Errorf("Redact = %s, want %s", got, want)
	}
	if in["Password"] != "p" {
		t.Error("Redact changed its input")
	}
}
