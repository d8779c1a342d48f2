// Package progress prints the phases of long work (an ingest, a workspace activation) as
// lines "<verb> <name>: ...": percentages only when they move by 10 points, and a heartbeat
// during a long phase so it never looks hung. A nil writer prints nothing.
package progress

import (
	"fmt"
	"io"
	"time"
)

// Heartbeat is how often a long phase says it is still working.
var Heartbeat = 5 * time.Second

// Printer prints one job's progress.
type Printer struct {
	w      io.Writer
	prefix string
	last   int64
}

// New returns a Printer writing "<verb> <name>: " lines to w (nil for none).
func New(w io.Writer, verb, name string) *Printer {
	return &Printer{w: w, prefix: verb + " " + name + ": "}
}

// Printf prints one line.
func (p *Printer) Printf(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, fmt.Sprintf(format, args...))
	}
}

// Percent prints "<what> N% (done/total)" when N crosses a multiple of 10, and at the end.
func (p *Printer) Percent(what string, done, total int64) {
	if p.w == nil || total == 0 {
		return
	}
	pct := done * 100 / total
	if pct/10 > p.last/10 || done == total {
		p.last = pct
		p.Printf("%s %d%% (%d/%d)", what, pct, done, total)
	}
}

// During runs f, printing "still <what>" every Heartbeat until it returns.
func (p *Printer) During(what string, f func() error) error {
	if p.w == nil {
		return f()
	}
	done := make(chan struct{})
	go func() {
		t0 := time.Now()
		tick := time.NewTicker(Heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				p.Printf("still %s (%s)", what, time.Since(t0).Round(time.Second))
			}
		}
	}()
	err := f()
	close(done)
	return err
}

// Bytes writes a size for people: 1.5 GiB, 20.0 MiB, 3.2 KiB, 12 B.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
