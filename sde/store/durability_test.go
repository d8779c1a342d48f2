package store

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
)

const childDirEnv = "SDE_STORE_TEST_CHILD_DIR"

// TestKill9LosesNoCommittedChange re-executes the test binary as a child that commits changes
// one by one and prints "committed CODE" after each commit returns; the parent SIGKILLs it mid-
// stream, reopens the file and expects every change the child reported, and a sound database.
func TestKill9LosesNoCommittedChange(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		kill9Child(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9LosesNoCommittedChange$", "-test.count=1")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed []string
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if code, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed = append(committed, code)
			if len(committed) == 25 {
				// Kill while the child is in the middle of further writes.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	cmd.Wait()
	if len(committed) < 25 {
		t.Fatalf("child reported only %d commits", len(committed))
	}

	st, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var check string
	if err := st.w.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	for _, code := range committed {
		if _, err := st.Organisations.Get(as(t, "admin"), sde.OrgCode(code)); err != nil {
			t.Fatalf("committed change %s lost after kill -9: %v", code, err)
		}
	}
	// A workspace-level change committed by the child survives too.
	ws, err := st.Workspaces.Get(as(t, "analyst1"), DevWorkspace)
	if err != nil || ws.State != sde.WorkspaceActive {
		t.Fatalf("demo after kill -9: %v %+v", err, ws)
	}
}

func kill9Child(dir string) {
	ctx := context.Background()
	st, err := Open(ctx, dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	if err := DevSeed(ctx, st); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	admin := sde.WithPrincipal(ctx, DevPrincipal("admin"))
	for i := 0; ; i++ {
		code := fmt.Sprintf("K%05d", i)
		if err := st.Organisations.Register(admin, &sde.Organisation{Code: sde.OrgCode(code), Name: "Kill test " + code, Kind: "vcse"}); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		fmt.Printf("committed %s\n", code) // os.Stdout is unbuffered: the parent sees it at once
	}
}

// TestConcurrentWritersLoseNoUpdate runs writers at once through one Store and through two
// Stores on the same file (as two processes would): every change must land, and concurrent
// read-modify-write decisions on one workspace must all count.
func TestConcurrentWritersLoseNoUpdate(t *testing.T) {
	st, c, dir := open(t)
	ctx := context.Background()
	if err := DevSeed(ctx, st); err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, dir, Options{Now: c.Now, ReviewPeriod: 30 * day})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	// Every controller decides on the same workspace at the same moment: each decision reads the
	// approvals and derives the state, so a lost update would leave it requested.
	ws := &sde.Workspace{Name: "all", Purpose: "p", Agreement: DevAgreement, EndDate: c.Now().Add(100 * day)}
	for _, d := range []sde.DatasetName{"patients", "gp_events", "ae_attendances", "hospital_admissions", "community_contacts", "social_care", "vcse_contacts"} {
		ws.Datasets = append(ws.Datasets, sde.DatasetScope{Dataset: d})
	}
	if err := st.Workspaces.Request(as(t, "analyst1"), ws); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i, u := range []sde.UserID{"controller-gp", "controller-acute", "controller-community", "controller-la", "controller-vcse"} {
		s := []*Store{st, other}[i%2]
		wg.Go(func() {
			if _, err := s.Workspaces.Decide(as(t, u), "all", sde.Decision{Verdict: sde.DecisionApproved}); err != nil {
				errs <- fmt.Errorf("%s: %w", u, err)
			}
		})
	}
	for i := range 40 {
		s := []*Store{st, other}[i%2]
		wg.Go(func() {
			code := sde.OrgCode(fmt.Sprintf("C%03d", i))
			if err := s.Organisations.Register(as(t, "admin"), &sde.Organisation{Code: code, Name: "Concurrent " + string(code), Kind: "vcse"}); err != nil {
				errs <- fmt.Errorf("%s: %w", code, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got, err := other.Workspaces.Get(as(t, "analyst1"), "all")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range got.Approvals {
		if a.Decision != sde.DecisionApproved {
			t.Errorf("lost decision: %+v", a)
		}
	}
	if got.State != sde.WorkspaceActive {
		t.Errorf("state %s (%s), want active", got.State, got.StateWhy)
	}
	orgs, _ := st.Organisations.List(as(t, "admin"))
	n := 0
	for _, o := range orgs {
		if strings.HasPrefix(string(o.Code), "C") && len(o.Code) == 4 {
			n++
		}
	}
	if n != 40 {
		t.Errorf("%d of 40 concurrent organisations stored", n)
	}
	// Exactly one state transition to active was recorded, not one per racing writer.
	hist, _ := st.Workspaces.History(as(t, "analyst1"), "all")
	active := 0
	for _, e := range hist {
		if e.Kind == "state" && e.To == sde.WorkspaceActive {
			active++
		}
	}
	if active != 1 {
		t.Errorf("%d activation events, want 1", active)
	}
}

// TestRefusedChangeRollsBackEverything checks a failure late in a multi-statement write leaves
// nothing behind (the transaction, not the validation order, guarantees "nothing changed").
func TestRefusedChangeRollsBackEverything(t *testing.T) {
	st, c := seeded(t)
	before := counts(t, st)
	err := st.write(context.Background(), func(tx *sql.Tx) error {
		if _, err := tx.Exec("INSERT INTO organisations (code, name, kind, created_at) VALUES ('RVZ', 'Z', 'gp', ?)", ts(c.Now())); err != nil {
			return err
		}
		return sde.Errorf(sde.EINVALID, "refused late")
	})
	wantCode(t, "late refusal", err, sde.EINVALID)
	sameCounts(t, "late refusal", before, counts(t, st))
	// A constraint the code did not check is still a clean conflict, not an internal error.
	err = st.write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec("INSERT INTO people (id, name, email, organisation, roles, created_at) VALUES ('p', 'P', '', 'NOPE', '[]', ?)", ts(c.Now()))
		return err
	})
	wantCode(t, "foreign key", err, sde.ECONFLICT)
}
