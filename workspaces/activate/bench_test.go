package activate

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
)

// BenchmarkMaterialise1M activates a research workspace over a 1M-row event dataset of 100,000
// people, with 5% of them in the opt-out register: every row is joined to its workspace pseudonym
// and checked against the register. The ingest is set-up, not timed.
func BenchmarkMaterialise1M(b *testing.B) {
	const rows, people = 1_000_000, 100_000
	e := newEnv(b)
	ids := nhsList(people)
	src := filepath.Join(b.TempDir(), "gp_events.csv")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("nhs_number,event_date,code,value\n")
	codes := []string{"C10", "H33", "I10", "E11", "J45"}
	for i := range rows {
		id := ids[(i*7919)%people]
		if i%50 == 0 {
			id = "" // 2% unlinked
		}
		fmt.Fprintf(w, "%s,2024-%02d-%02d,%s,%d.5\n", id, 1+i%12, 1+i%28, codes[i%len(codes)], i%100)
	}
	w.Flush()
	f.Close()
	t0 := time.Now()
	ingest(b, e, eventsSpec, "gp_events", string(must(os.ReadFile(src))))
	var opt []byte
	opt = append(opt, "nhs_number,opt_out_date\n"...)
	for i := 0; i < people; i += 20 {
		opt = append(opt, ids[i]+",2020-01-01\n"...)
	}
	ingest(b, e, optOutSpec, "opt_outs", string(opt))
	b.Logf("set-up (ingest of %d rows) took %s", rows, time.Since(t0).Round(time.Millisecond))

	o := e.opts("bench", sde.PurposeResearch)
	o.Threads, o.MemoryLimit = 0, "4GB"
	o.Datasets = []sde.DatasetScope{{Dataset: "gp_events", Columns: []string{"person_id", "event_date", "code", "value"}}}
	if testing.Verbose() {
		o.Progress = os.Stderr
	}
	var m *Manifest
	b.ResetTimer()
	for b.Loop() {
		if m, err = Materialise(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.Logf("manifest: %+v opt-out %+v", m.Totals, m.OptOut)
}

// nhsList returns the first n numbers nhs would give, in one pass.
func nhsList(n int) []string {
	out := make([]string, 0, n)
	for base := 900000000; len(out) < n; base++ {
		s := strconv.Itoa(base)
		sum := 0
		for k := 0; k < 9; k++ {
			sum += int(s[k]-'0') * (10 - k)
		}
		if check := (11 - sum%11) % 11; check != 10 {
			out = append(out, s+strconv.Itoa(check))
		}
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
