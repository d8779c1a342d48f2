package query

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/opensde/sde/sde"
)

// fakeReleases serves a growing ledger and records what was asked for.
type fakeReleases struct {
	sde.ReleaseService
	entries []sde.LedgerEntry
	asked   []int64
}

func (f *fakeReleases) Ledger(_ context.Context, _ sde.WorkspaceID, _ string, after int64) ([]sde.LedgerEntry, error) {
	f.asked = append(f.asked, after)
	var out []sde.LedgerEntry
	for _, e := range f.entries {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeReleases) add(seq int64, persons int) {
	f.entries = append(f.entries, sde.LedgerEntry{Seq: seq, Entry: json.RawMessage(fmt.Sprintf(`{"rows":{"r":%d}}`, persons))})
}

// The parsed ledger is read once and then only what was added since.
func TestLedgerReadsOnlyWhatIsNew(t *testing.T) {
	f := &fakeReleases{}
	s := &Service{Releases: f}
	ctx := context.Background()
	f.add(3, 10)
	f.add(7, 11)
	first, err := s.ledger(ctx, "ws", "k")
	if err != nil || len(first) != 2 || first[1].Rows["r"] != 11 {
		t.Fatalf("first read = %+v, %v", first, err)
	}
	f.add(9, 12)
	second, err := s.ledger(ctx, "ws", "k")
	if err != nil || len(second) != 3 || second[2].Rows["r"] != 12 {
		t.Fatalf("second read = %+v, %v", second, err)
	}
	third, _ := s.ledger(ctx, "ws", "k")
	if len(third) != 3 {
		t.Fatalf("third read = %+v", third)
	}
	if fmt.Sprint(f.asked) != "[0 7 9]" {
		t.Errorf("asked for entries after %v, want [0 7 9]", f.asked)
	}
	// Another key, or another workspace, starts from nothing.
	if other, _ := s.ledger(ctx, "ws2", "k"); len(other) != 3 || f.asked[len(f.asked)-1] != 0 {
		t.Errorf("another workspace: %d entries after %v", len(other), f.asked)
	}
	// A damaged entry fails the read, and nothing of it is kept.
	f.entries = append(f.entries, sde.LedgerEntry{Seq: 11, Entry: json.RawMessage(`{`)})
	if _, err := s.ledger(ctx, "ws", "k"); sde.ErrorCode(err) != sde.EINTERNAL {
		t.Errorf("damaged entry: %v", err)
	}
}
