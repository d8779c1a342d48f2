package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/sde/audit"
)

// auditFixture writes a small log under a fresh data directory: one record an hour from
// 2026-03-01T22:00Z, so the records straddle midnight.
func auditFixture(t *testing.T) (dir string, recs []audit.Record) {
	t.Helper()
	dir = t.TempDir()
	now := time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC)
	l, err := audit.Open(audit.Path(dir), audit.Options{Now: func() time.Time { now = now.Add(time.Hour); return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []audit.Event{
		{Actor: "analyst1", Action: audit.ActionSignIn, Outcome: audit.OutcomeOK},                           // 22:00 day 1
		{Actor: "analyst1", Action: audit.ActionQueryRun, Outcome: audit.OutcomeOK, Workspace: "demo"},      // 23:00
		{Actor: "analyst2", Action: audit.ActionAuthRefused, Outcome: audit.OutcomeRefused},                 // 00:00 day 2
		{Actor: "analyst2", Action: audit.ActionQueryRun, Outcome: audit.OutcomeRefused, Workspace: "demo"}, // 01:00
		{Actor: "analyst1", Action: "dashboard.download", Outcome: audit.OutcomeOK, Workspace: "frailty"},   // 02:00
		{Actor: "controller1", Action: "workspace.decide", Outcome: audit.OutcomeOK, Workspace: "demo"},     // 03:00
	} {
		rec, err := l.Append(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, recs
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAuditVerifyCommand(t *testing.T) {
	dir, recs := auditFixture(t)
	head := recs[len(recs)-1].Hash

	code, out, errs := runCmd(t, "audit", "verify", "--data", dir)
	if code != 0 || out != "ok: 6 records, head "+head+"\n" {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}
	// Through a config file instead of --data.
	cfg := filepath.Join(t.TempDir(), "sde.json")
	os.WriteFile(cfg, []byte(`{"data_dir": "`+dir+`"}`), 0o600)
	if code, out, errs := runCmd(t, "audit", "verify", "--config", cfg); code != 0 || !strings.HasPrefix(out, "ok: 6 records") {
		t.Fatalf("verify --config: exit %d\n%s%s", code, out, errs)
	}
	// A head noted earlier is still in the log.
	if code, out, errs := runCmd(t, "audit", "verify", "--data", dir, "--head", recs[2].Hash); code != 0 || !strings.Contains(out, "is seq 3; 3 records follow it") {
		t.Fatalf("verify --head: exit %d\n%s%s", code, out, errs)
	}

	path := audit.Path(dir)
	orig, _ := os.ReadFile(path)
	ls := bytes.SplitAfter(orig, []byte("\n"))

	// Cutting the last record leaves a valid chain; only --head notices.
	os.WriteFile(path, bytes.Join(ls[:5], nil), 0o600)
	if code, out, _ := runCmd(t, "audit", "verify", "--data", dir); code != 0 || !strings.HasPrefix(out, "ok: 5 records") {
		t.Fatalf("verify of a cut log without --head: exit %d %s", code, out)
	}
	if code, _, errs := runCmd(t, "audit", "verify", "--data", dir, "--head", head); code != 1 || !strings.Contains(errs, "does not contain the head") {
		t.Fatalf("verify of a cut log with --head: exit %d %s", code, errs)
	}

	for _, tt := range []struct {
		name  string
		lines [][]byte
		want  string
	}{
		{"tampered", [][]byte{ls[0], ls[1], bytes.Replace(ls[2], []byte("analyst2"), []byte("analyst3"), 1), ls[3], ls[4], ls[5]},
			"bad record at line 3 (seq 3): record altered"},
		{"deleted", [][]byte{ls[0], ls[1], ls[3], ls[4], ls[5]},
			"bad record at line 3 (seq 4): expected seq 3 after seq 2"},
		{"swapped", [][]byte{ls[0], ls[1], ls[2], ls[4], ls[3], ls[5]},
			"bad record at line 4 (seq 5): expected seq 4 after seq 3"},
		{"torn", [][]byte{ls[0], ls[1], ls[2], ls[3][:40]},
			"bad record at line 4: incomplete final line"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.WriteFile(path, bytes.Join(tt.lines, nil), 0o600)
			code, out, errs := runCmd(t, "audit", "verify", "--data", dir)
			if code != 1 || out != "" || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errs, tt.want)
			}
			if strings.Contains(errs, dir) {
				t.Errorf("the message names a path: %s", errs)
			}
		})
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"audit"}, 2, "subcommand is required"},
		{[]string{"audit", "rotate"}, 2, "unknown subcommand"},
		{[]string{"audit", "verify", "--data", dir, "extra"}, 2, "unexpected argument"},
		{[]string{"audit", "verify", "--data", dir, "--head", "xyz"}, 2, "--head must be"},
		{[]string{"audit", "verify", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"audit", "verify", "--data", t.TempDir()}, 1, "no audit log"},
		{[]string{"audit", "-h"}, 0, "sde audit verify"},
		{[]string{"audit", "export", "-h"}, 0, "--workspace"},
	} {
		if code, _, errs := runCmd(t, tt.args...); code != tt.code || !strings.Contains(errs, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, code, errs, tt.code, tt.want)
		}
	}
}

func TestAuditExportCommand(t *testing.T) {
	dir, _ := auditFixture(t)
	orig, _ := os.ReadFile(audit.Path(dir))
	ls := bytes.SplitAfter(orig, []byte("\n"))
	for _, tt := range []struct {
		flags []string
		want  []int // seqs
	}{
		{nil, []int{1, 2, 3, 4, 5, 6}},
		{[]string{"--actor", "analyst1"}, []int{1, 2, 5}},
		{[]string{"--workspace", "demo"}, []int{2, 4, 6}},
		{[]string{"--actor", "analyst2", "--workspace", "demo"}, []int{4}},
		{[]string{"--action", "auth.*"}, []int{1, 3}},
		{[]string{"--action", "query.run", "--outcome", "refused"}, []int{4}},
		{[]string{"--since", "2026-03-02"}, []int{3, 4, 5, 6}},
		{[]string{"--until", "2026-03-01"}, []int{1, 2}}, // the whole of that day
		{[]string{"--since", "2026-03-01T23:00:00Z", "--until", "2026-03-02T02:00:00Z"}, []int{2, 3, 4}},
		{[]string{"--since", "2026-03-02T01:30:00+01:00"}, []int{4, 5, 6}}, // = 00:30Z
		{[]string{"--actor", "nobody"}, nil},
	} {
		args := append([]string{"audit", "export", "--data", dir}, tt.flags...)
		code, out, errs := runCmd(t, args...)
		var want []byte
		for _, s := range tt.want {
			want = append(want, ls[s-1]...)
		}
		if code != 0 || out != string(want) {
			t.Errorf("%q: exit %d\n%s\nwant\n%s\nstderr %s", tt.flags, code, out, want, errs)
		}
	}

	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--since", "yesterday"}, "--since \"yesterday\": use RFC 3339"},
		{[]string{"--until", "2026-13-01"}, "--until"},
		{[]string{"--since", "2026-03-02", "--until", "2026-03-01"}, "--since must be before --until"},
		{[]string{"--outcome", "maybe"}, "--outcome must be"},
	} {
		args := append([]string{"audit", "export", "--data", dir}, tt.flags...)
		if code, _, errs := runCmd(t, args...); code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tt.flags, code, errs, tt.want)
		}
	}

	// Damage stops the export at the bad record, after the matches before it.
	os.WriteFile(audit.Path(dir), bytes.Join([][]byte{ls[0], ls[1], ls[2], ls[4]}, nil), 0o600)
	code, out, errs := runCmd(t, "audit", "export", "--data", dir, "--actor", "analyst1")
	if code != 1 || out != string(ls[0])+string(ls[1]) || !strings.Contains(errs, "line 4 (seq 5)") {
		t.Errorf("export of a damaged log: exit %d\n%s\n%s", code, out, errs)
	}
}
