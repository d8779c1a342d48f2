package audit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestKill9KeepsAcknowledgedRecords runs a child process that appends from several goroutines
// and reports each acknowledged record, kills it with SIGKILL mid-stream, and checks that the
// log reopens, verifies, and holds every record the child was told was durable.
func TestKill9KeepsAcknowledgedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := Path(t.TempDir())
	for round := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppendUntilKilled$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SDE_AUDIT_CHILD="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[int64]string{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && len(acked) < 300 {
			var seq int64
			var hash string
			if _, err := fmt.Sscanf(sc.Text(), "acked %d %s", &seq, &hash); err == nil {
				acked[seq] = hash
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if len(acked) < 300 {
			t.Fatalf("round %d: child acknowledged only %d records", round, len(acked))
		}

		l := openTest(t, path) // recovers a torn line, if the kill left one
		seq, _ := l.Head()
		l.Close()
		n, _, err := verifyFile(t, path)
		if err != nil || int64(n) != seq {
			t.Fatalf("round %d: Verify = %d, %v (head seq %d)", round, n, err, seq)
		}
		ls := lines(t, path)
		for s, h := range acked {
			if s > int64(n) || !bytes.Contains(ls[s-1], []byte(`"hash":"`+h+`"`)) {
				t.Fatalf("round %d: acknowledged seq %d is missing or different", round, s)
			}
		}
		t.Logf("round %d: killed after %d acknowledgements; log holds %d records", round, len(acked), n)
	}
}

// TestHelperAppendUntilKilled is the child of TestKill9KeepsAcknowledgedRecords.
func TestHelperAppendUntilKilled(t *testing.T) {
	path := os.Getenv("SDE_AUDIT_CHILD")
	if path == "" {
		t.Skip("helper process for TestKill9KeepsAcknowledgedRecords")
	}
	l, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				rec, err := l.Append(context.Background(), Event{Actor: "child", Action: ActionQueryRun, Outcome: OutcomeOK,
					Target: fmt.Sprint(w, "-", i), Details: map[string]any{"pad": strings.Repeat("p", i%500)}})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(out, "acked %d %s\n", rec.Seq, rec.Hash)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
