package audit

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestExportFilters(t *testing.T) {
	path := Path(t.TempDir())
	l := openTest(t, path) // one second per record from t0
	events := []Event{
		{Actor: "analyst1", Action: ActionSignIn, Outcome: OutcomeOK},                             // 10:00:00
		{Actor: "analyst1", Action: ActionQueryRun, Outcome: OutcomeOK, Workspace: "demo"},        // 10:00:01
		{Actor: "analyst2", Action: ActionQueryRun, Outcome: OutcomeRefused, Workspace: "demo"},   // 10:00:02
		{Actor: "analyst2", Action: ActionAuthRefused, Outcome: OutcomeRefused},                   // 10:00:03
		{Actor: "analyst1", Action: ActionQueryRun, Outcome: OutcomeOK, Workspace: "frailty"},     // 10:00:04
		{Actor: "analyst1", Action: "dashboard.download", Outcome: OutcomeOK, Workspace: "demo"},  // 10:00:05
		{Actor: "controller1", Action: "workspace.decide", Outcome: OutcomeOK, Workspace: "demo"}, // 10:00:06
	}
	for _, ev := range events {
		mustAppend(t, l, ev)
	}
	l.Close()
	all := lines(t, path)
	sec := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tt := range []struct {
		name string
		f    Filter
		want []int // seqs
	}{
		{"everything", Filter{}, []int{1, 2, 3, 4, 5, 6, 7}},
		{"actor", Filter{Actor: "analyst1"}, []int{1, 2, 5, 6}},
		{"workspace", Filter{Workspace: "demo"}, []int{2, 3, 6, 7}},
		{"actor and workspace", Filter{Actor: "analyst1", Workspace: "demo"}, []int{2, 6}},
		{"action", Filter{Action: ActionQueryRun}, []int{2, 3, 5}},
		{"action prefix", Filter{Action: "auth.*"}, []int{1, 4}},
		{"outcome", Filter{Outcome: OutcomeRefused}, []int{3, 4}},
		{"since inclusive", Filter{Since: sec(5)}, []int{6, 7}},
		{"until exclusive", Filter{Until: sec(2)}, []int{1, 2}},
		{"window", Filter{Since: sec(1), Until: sec(4), Workspace: "demo"}, []int{2, 3}},
		{"nothing", Filter{Actor: "nobody"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := os.Open(path)
			defer f.Close()
			var out bytes.Buffer
			n, err := Export(f, &out, tt.f)
			if err != nil || n != len(tt.want) {
				t.Fatalf("Export = %d, %v; want %d", n, err, len(tt.want))
			}
			var want []byte
			for _, s := range tt.want {
				want = append(want, all[s-1]...)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("Export wrote\n%s\nwant\n%s", out.Bytes(), want)
			}
		})
	}

	// An export stops at damage, after the good records before it.
	all[4] = bytes.Replace(all[4], []byte("frailty"), []byte("fraiIty"), 1)
	var out bytes.Buffer
	n, err := Export(bytes.NewReader(bytes.Join(all, nil)), &out, Filter{Actor: "analyst1"})
	var verr *VerifyError
	if !errors.As(err, &verr) || verr.Seq != 5 || n != 2 || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("Export of a damaged log = %d, %v, %q", n, err, out.String())
	}
}

func TestVerifyEmpty(t *testing.T) {
	n, head, err := Verify(strings.NewReader(""))
	if n != 0 || head != [32]byte{} || err != nil {
		t.Errorf("Verify(empty) = %d %s %v", n, head, err)
	}
	if _, _, err := Verify(strings.NewReader(strings.Repeat("x", MaxRecordBytes+10) + "\n")); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Verify(long line) = %v", err)
	}
}
