package progress

import (
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/internal/testkit"
)

// A phase longer than the heartbeat says it is still working.
func TestHeartbeat(t *testing.T) {
	old := Heartbeat
	Heartbeat = 10 * time.Millisecond
	defer func() { Heartbeat = old }()
	var w testkit.SyncBuffer
	New(&w, "ingest", "x").During("reading", func() error { time.Sleep(50 * time.Millisecond); return nil })
	if !strings.Contains(w.String(), "ingest x: still reading") {
		t.Errorf("no heartbeat: %q", w.String())
	}
}

// Percentages print when they cross a tenth and at the end, not for every step.
func TestPercent(t *testing.T) {
	var w strings.Builder
	p := New(&w, "activate", "demo")
	for i := int64(1); i <= 1000; i++ {
		p.Percent("derived", i, 1000)
	}
	lines := strings.Split(strings.TrimSpace(w.String()), "\n")
	if len(lines) != 10 || lines[0] != "activate demo: derived 10% (100/1000)" || lines[9] != "activate demo: derived 100% (1000/1000)" {
		t.Errorf("lines = %q", lines)
	}
	New(nil, "x", "y").Percent("derived", 1, 2) // a nil writer prints nothing and does not panic
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{12: "12 B", 3 << 10: "3.0 KiB", 20 << 20: "20.0 MiB", 3 << 29: "1.5 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
