package analyse

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
)

// TestOneSlowAnalysisDoesNotHoldUpOthers: while a parser connection is busy (a long query
// being analysed), other analyses run on the others; when all are busy an analysis waits only
// as long as its caller does, and says it was cancelled.
func TestOneSlowAnalysisDoesNotHoldUpOthers(t *testing.T) {
	ctx := context.Background()
	an, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	busy, err := an.take(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := an.Analyse(c, `SELECT sex, count(*) AS n FROM patients GROUP BY sex`, testSchema()); err != nil {
		t.Fatalf("with one parser busy: %v", err)
	}
	var held []*parser
	for range parsers - 1 {
		p, err := an.take(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
	c2, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	_, err = an.Analyse(c2, `SELECT region, count(*) AS n FROM patients GROUP BY region`, testSchema())
	if sde.ErrorCode(err) != sde.EUNAVAILABLE {
		t.Fatalf("with every parser busy: %v, want %s", err, sde.EUNAVAILABLE)
	}
	for _, p := range append(held, busy) {
		an.put(p)
	}
	if _, err := an.Analyse(ctx, `SELECT region, count(*) AS n FROM patients GROUP BY region`, testSchema()); err != nil {
		t.Fatalf("after the parsers are back: %v", err)
	}
}

// TestConcurrentAnalysesAgree: analyses of two workspaces' schemas at once, on all parser
// connections (each with its own type-check tables), give what one at a time gives.
func TestConcurrentAnalysesAgree(t *testing.T) {
	ctx := context.Background()
	other := testSchema()
	other.Tables[0].Columns = append(other.Tables[0].Columns, Column{"ethnicity", "VARCHAR"})
	texts := []string{
		`SELECT sex, count(*) AS n FROM patients GROUP BY sex`,
		`SELECT region, sum(units) AS u FROM gp_events JOIN patients USING (person_id) GROUP BY region`,
		`SELECT code, avg(value) AS v FROM gp_events GROUP BY code`,
	}
	want := map[string]string{}
	seq, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	for i, s := range []Schema{testSchema(), other} {
		for _, text := range texts {
			q, err := seq.Analyse(ctx, text, s)
			if err != nil {
				t.Fatal(err)
			}
			want[fmt.Sprint(i, text)] = q.Rewritten
		}
	}
	an, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for r := range 5 {
				i := (g + r) % 2
				s := []Schema{testSchema(), other}[i]
				for _, text := range texts {
					// A distinct text each time, so no analysis comes from the kept ones.
					spaced := text + fmt.Sprintf(" -- %d %d", g, r)
					q, err := an.Analyse(ctx, spaced, s)
					if err != nil {
						t.Error(err)
						return
					}
					if q.Rewritten != want[fmt.Sprint(i, text)] {
						t.Errorf("schema %d, %s: rewritten differs:\n%s\nwant\n%s", i, text, q.Rewritten, want[fmt.Sprint(i, text)])
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestCloseTwice: a second Close returns instead of waiting for parsers the first one took.
func TestCloseTwice(t *testing.T) {
	an, err := New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	an.Close()
	done := make(chan struct{})
	go func() { an.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("second Close blocked")
	}
	if _, err := an.Analyse(context.Background(), `SELECT sex, count(*) AS n FROM patients GROUP BY sex`, testSchema()); sde.ErrorCode(err) != sde.EUNAVAILABLE {
		t.Errorf("analysis after Close: %v", err)
	}
}
