//go:build duckdb_arrow

package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/opensde/sde/workspaces/activate"
	"github.com/opensde/sde/workspaces/query"
)

// benchQueries are typical population-health questions, each with the "least work any safe
// answer needs": the same measures plus the distinct persons behind every cell.
var benchQueries = []struct{ name, sql, persons string }{
	{"prevalence_by_area_age",
		`SELECT p.msoa_code, (2025 - year(p.birth_month)) // 10 * 10 AS age_band, count(DISTINCT e.person_id) AS diabetic
		 FROM gp_events e JOIN patients p ON p.person_id = e.person_id
		 WHERE e.condition = 'diabetes' GROUP BY p.msoa_code, age_band`,
		`SELECT p.msoa_code, (2025 - year(p.birth_month)) // 10 * 10 AS age_band, count(DISTINCT e.person_id) AS diabetic, count(DISTINCT e.person_id) AS persons
		 FROM gp_events e JOIN patients p ON p.person_id = e.person_id
		 WHERE e.condition = 'diabetes' GROUP BY p.msoa_code, age_band`},
	{"emergency_admissions_by_imd",
		`SELECT p.imd_decile, count(*) AS admissions FROM hospital_admissions h JOIN patients p ON p.person_id = h.person_id
		 WHERE h.admission_method = 'emergency' GROUP BY p.imd_decile`,
		`SELECT p.imd_decile, count(*) AS admissions, count(DISTINCT h.person_id) AS persons FROM hospital_admissions h JOIN patients p ON p.person_id = h.person_id
		 WHERE h.admission_method = 'emergency' GROUP BY p.imd_decile`},
	{"rollup_area_sex",
		`SELECT msoa_code, sex, count(*) AS people FROM patients GROUP BY ROLLUP (msoa_code, sex)`,
		`SELECT msoa_code, sex, count(*) AS people, count(DISTINCT person_id) AS persons FROM patients GROUP BY ROLLUP (msoa_code, sex)`},
	{"events_by_condition",
		`SELECT condition, count(*) AS events FROM gp_events WHERE event_type = 'diagnosis' GROUP BY condition`,
		`SELECT condition, count(*) AS events, count(DISTINCT person_id) AS persons FROM gp_events WHERE event_type = 'diagnosis' GROUP BY condition`},
	{"admission_cost_by_method",
		`SELECT admission_method, sum(cost_gbp) AS cost FROM hospital_admissions GROUP BY admission_method`,
		`SELECT admission_method, sum(cost_gbp) AS cost, count(DISTINCT person_id) AS persons FROM hospital_admissions GROUP BY admission_method`},
	{"social_care_cost_by_service_linked",
		`SELECT service_type, sum(weekly_cost_gbp) AS weekly_cost FROM social_care WHERE person_id IS NOT NULL GROUP BY service_type`,
		`SELECT service_type, sum(weekly_cost_gbp) AS weekly_cost, count(DISTINCT person_id) AS persons FROM social_care WHERE person_id IS NOT NULL GROUP BY service_type`},
}

// BenchmarkQueryREST measures an analyst's query end to end over REST (authentication, audit,
// analysis, rewrite, the workspace's worker process, disclosure control, release) against raw
// DuckDB on the same workspace database in the same run: the SQL as written, and with distinct
// persons per cell. Sizes are gp_events rows: 1M (100k people) and 10M (1M people); the data
// directory is cached under ~/.cache/sde/bench so only the first run ingests.
func BenchmarkQueryREST(b *testing.B) {
	for _, size := range []struct {
		name   string
		people int
	}{{"1M", 100_000}, {"10M", 1_000_000}} {
		b.Run(size.name, func(b *testing.B) {
			data := benchDataDir(b, size.people)
			var out discard
			m := NewMain(&out, io.Discard)
			if err := m.ParseFlags([]string{"--dev", "--data", data, "--addr", "127.0.0.1:0", "--flight-addr", ""}, io.Discard); err != nil {
				b.Fatal(err)
			}
			m.Config.Dev.People = size.people
			m.WorkerExe, m.WorkerArgs = os.Args[0], []string{"-test.run=^TestHelperWorker$", "--", "worker"}
			t0 := time.Now()
			if err := m.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			b.Logf("start-up (ingest on first run) %s", time.Since(t0).Round(time.Millisecond))
			c := newClient(b, m, "analyst1")
			// Materialise the workspace database and start its worker before timing.
			if st, body := c.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": benchQueries[0].sql}, ""); st != 200 {
				b.Fatalf("warm-up query: %d %v", st, body)
			}
			manifest, dbPath, err := activate.Latest(filepath.Join(data, "workspaces"), "demo")
			if err != nil {
				b.Fatal(err)
			}
			timeRaw := rawDuckDB(b, dbPath)
			for _, q := range benchQueries {
				aq, err := m.Query.Analyser.Analyse(context.Background(), q.sql, query.Schema(manifest))
				if err != nil {
					b.Fatal(err)
				}
				b.Run(q.name, func(b *testing.B) {
					// The REST call and raw DuckDB computing the same measures with distinct
					// persons (the target's reference) take turns, so both see the machine in
					// the same state: on this small shared VM the speed drifts by 20 % from one
					// second to the next, and timing them in separate loops made the ratio
					// depend on which loop ran first (1.14 one way, 1.54 the other, for the same
					// prevalence query). Each is preceded by the other, so neither finds the CPU
					// caches warm from its own previous run. Raw DuckDB runs in a process of its
					// own, as the worker does. The SQL as written and the rewritten SQL, for
					// the other ratio and to separate the rewrite's cost, take turns likewise.
					var rest, asWritten, withPersons, rewritten []time.Duration
					for i := 0; i < b.N; i++ {
						// Timed until the whole response has arrived; decoding it is the
						// client's business, as scanning values is on the raw side (not timed).
						t := time.Now()
						st, raw := c.send("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": q.sql}, "")
						rest = append(rest, time.Since(t))
						var body map[string]any
						if err := json.Unmarshal(raw, &body); st != 200 || err != nil || body["status"] != "released" {
							b.Fatalf("%d %s", st, raw)
						}
						withPersons = append(withPersons, timeRaw(q.persons))
					}
					for i := 0; i < b.N; i++ {
						asWritten = append(asWritten, timeRaw(q.sql))
						rewritten = append(rewritten, timeRaw(aq.Rewritten))
					}
					// Medians: on a small shared machine one run in ten takes 30-50 % longer,
					// on either side; the mean ratio is reported too.
					b.ReportMetric(median(rest), "rest-ms")
					b.ReportMetric(median(asWritten), "raw-ms")
					b.ReportMetric(median(withPersons), "raw+persons-ms")
					// The rewritten SQL run raw separates the rewrite's cost from the path's.
					b.ReportMetric(median(rewritten), "raw-rewritten-ms")
					b.ReportMetric(median(rest)/median(asWritten), "x-raw")
					b.ReportMetric(median(rest)/median(withPersons), "x-raw+persons")
					b.ReportMetric(mean(rest)/mean(withPersons), "x-raw+persons-mean")
				})
			}
		})
	}
}

// median is the middle of ds in milliseconds.
func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return m.Seconds() * 1000
}

// mean is the average of ds in milliseconds.
func mean(ds []time.Duration) float64 {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum.Seconds() * 1000 / float64(len(ds))
}

// rawDuckDB starts raw DuckDB on the database at path in a process of its own (this test binary,
// as TestHelperRawDuckDB) and returns a function that runs one query there and reports how long
// DuckDB took, measured in that process: from the query's start until its last row is read.
func rawDuckDB(b *testing.B, path string) func(text string) time.Duration {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRawDuckDB$")
	cmd.Env = append(os.Environ(), "SDE_BENCH_RAW_DB="+path)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	answers := bufio.NewScanner(out)
	return func(text string) time.Duration {
		line, _ := json.Marshal(text)
		if _, err := fmt.Fprintf(in, "%s\n", line); err != nil {
			b.Fatal(err)
		}
		if !answers.Scan() {
			b.Fatalf("raw DuckDB process stopped: %v", answers.Err())
		}
		ns, err := strconv.ParseInt(answers.Text(), 10, 64)
		if err != nil || ns < 0 {
			b.Fatalf("raw DuckDB: %q", answers.Text())
		}
		return time.Duration(ns)
	}
}

// TestHelperRawDuckDB is the benchmark's raw DuckDB process (see rawDuckDB): one JSON string of
// SQL per line in, the nanoseconds it took (or -1 and the error on stderr) per line out.
func TestHelperRawDuckDB(t *testing.T) {
	path := os.Getenv("SDE_BENCH_RAW_DB")
	if path == "" {
		return
	}
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var text string
		if err := json.Unmarshal(in.Bytes(), &text); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		t := time.Now()
		rows, err := db.Query(text)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			fmt.Println(-1)
			continue
		}
		fmt.Println(time.Since(t).Nanoseconds())
	}
	os.Exit(0)
}

// benchDataDir is a data directory kept between runs, so the ingest is paid once.
func benchDataDir(b *testing.B, people int) string {
	cache := os.Getenv("SDE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "sde")
	}
	dir := filepath.Join(cache, "bench", fmt.Sprintf("serve-dev-%d", people))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	return dir
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
