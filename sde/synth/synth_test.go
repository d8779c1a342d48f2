package synth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"github.com/opensde/sde/crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
)

func generate(t testing.TB, opt Options) Summary {
	t.Helper()
	if opt.Out == "" {
		opt.Out = t.TempDir()
	}
	sum, err := Generate(context.Background(), opt)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return sum
}

// readCSV returns the header and rows of one output file, checking every row has as many
// fields as the header (the files are written without quoting).
func readCSV(t testing.TB, dir, dataset string) ([]string, [][]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, dataset+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var header []string
	var rows [][]string
	for sc.Scan() {
		line := sc.Text()
		if strings.ContainsAny(line, "\"\r") {
			t.Fatalf("%s: line needs quoting: %q", dataset, line)
		}
		fields := strings.Split(line, ",")
		if header == nil {
			header = fields
			continue
		}
		if len(fields) != len(header) {
			t.Fatalf("%s: row has %d fields, header %d: %q", dataset, len(fields), len(header), line)
		}
		rows = append(rows, fields)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return header, rows
}

func col(t testing.TB, header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	t.Fatalf("no column %q in %v", name, header)
	return -1
}

func dirContents(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

func TestDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	generate(t, Options{Seed: 7, People: 3000, Out: a, Workers: 1})
	generate(t, Options{Seed: 7, People: 3000, Out: b, Workers: 3}) // worker count must not matter
	generate(t, Options{Seed: 8, People: 3000, Out: c})
	fa, fb, fc := dirContents(t, a), dirContents(t, b), dirContents(t, c)
	want := len(Datasets()) + 2
	if len(fa) != want || len(fb) != want {
		t.Fatalf("got %d and %d files, want %d (temporary files left behind?)", len(fa), len(fb), want)
	}
	for name, da := range fa {
		if !bytes.Equal(da, fb[name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
		if strings.HasSuffix(name, ".csv") && bytes.Equal(da, fc[name]) {
			t.Errorf("%s is identical for seeds 7 and 8", name)
		}
	}
}

func TestNHSNumbers(t *testing.T) {
	dir := t.TempDir()
	generate(t, Options{Seed: DefaultSeed, People: 20000, Out: dir})
	h, rows := readCSV(t, dir, "patients")
	nc := col(t, h, "nhs_number")
	seen := map[string]bool{}
	for _, r := range rows {
		n := r[nc]
		if !crypto.ValidNHSNumber(n) || n[0] != '9' {
			t.Fatalf("invalid NHS number in patients: %q", n)
		}
		if seen[n] {
			t.Fatalf("duplicate NHS number %s", n)
		}
		seen[n] = true
	}
	if len(rows) != 20000 {
		t.Fatalf("patients has %d rows, want 20000", len(rows))
	}
	// Every valid NHS number in another source belongs to a registered person.
	h, rows = readCSV(t, dir, "opt_outs")
	for _, r := range rows {
		if !seen[r[col(t, h, "nhs_number")]] {
			t.Fatalf("opt-out for an unknown NHS number %s", r[0])
		}
	}
	if share := float64(len(rows)) / 20000; share < 0.04 || share > 0.06 {
		t.Errorf("opt-out share %.3f, want about 0.05", share)
	}
}

var dateCols = map[string]string{
	"gp_events": "event_date", "hospital_admissions": "admission_date", "ae_attendances": "arrival_date",
	"community_contacts": "contact_date", "social_care": "start_date", "vcse_contacts": "contact_date",
}

func validDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, m, d := atoi(s[:4]), atoi(s[5:7]), atoi(s[8:])
	if y < 0 || m < 1 || m > 12 || d < 1 {
		return false
	}
	z := dayOf(y, m, d)
	y2, m2, d2 := civil(z)
	return y2 == y && m2 == m && d2 == d
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// TestDirtyRows checks the documented share of deliberately invalid rows, independently of the
// generator's own count: wrong check digits and malformed dates, nothing else.
func TestDirtyRows(t *testing.T) {
	dir := t.TempDir()
	sum := generate(t, Options{Seed: DefaultSeed, People: 20000, Out: dir})
	var total, dirty int64
	for _, ds := range Datasets() {
		h, rows := readCSV(t, dir, ds)
		nc := col(t, h, "nhs_number")
		dc, isEvent := dateCols[ds]
		var bad int64
		for _, r := range rows {
			badNHS := r[nc] != "" && !crypto.ValidNHSNumber(r[nc])
			badDate := false
			for i, name := range h {
				if strings.HasSuffix(name, "_date") || name == "date_of_birth" || name == "date_of_death" || name == "registration_start" || name == "registration_end" {
					if r[i] != "" && !validDate(r[i]) {
						if !isEvent || name != dc {
							t.Fatalf("%s: malformed %s outside the documented column: %q", ds, name, r[i])
						}
						badDate = true
					}
				}
			}
			if badNHS && badDate {
				t.Fatalf("%s: row with two faults: %v", ds, r)
			}
			if badNHS || badDate {
				bad++
			}
		}
		fs, _ := sum.File(ds)
		if bad != fs.DirtyRows {
			t.Errorf("%s: found %d invalid rows, summary says %d", ds, bad, fs.DirtyRows)
		}
		if !isEvent && bad != 0 {
			t.Errorf("%s: %d invalid rows, want none", ds, bad)
		}
		if isEvent {
			total += int64(len(rows))
			dirty += bad
		}
	}
	share := float64(dirty) / float64(total)
	if share < 0.0007 || share > 0.0013 {
		t.Errorf("dirty share %.5f over %d event rows, want about %.4f", share, total, DirtyRate)
	}
}

func TestMissingNHSNumbers(t *testing.T) {
	dir := t.TempDir()
	generate(t, Options{Seed: DefaultSeed, People: 30000, Out: dir})
	for _, tc := range []struct {
		ds     string
		lo, hi float64
	}{{"social_care", 0.08, 0.25}, {"vcse_contacts", 0.3, 0.5}, {"gp_events", 0, 0}, {"patients", 0, 0}} {
		h, rows := readCSV(t, dir, tc.ds)
		nc := col(t, h, "nhs_number")
		missing := 0
		for _, r := range rows {
			if r[nc] == "" {
				missing++
			}
		}
		share := float64(missing) / float64(len(rows))
		if share < tc.lo || share > tc.hi {
			t.Errorf("%s: %.3f of rows lack an NHS number, want %.2f..%.2f", tc.ds, share, tc.lo, tc.hi)
		}
	}
}

// TestEpidemiology checks the population is plausible: prevalence and deaths rise with age.
func TestEpidemiology(t *testing.T) {
	dir := t.TempDir()
	generate(t, Options{Seed: DefaultSeed, People: 30000, Out: dir})
	h, rows := readCSV(t, dir, "patients")
	ref := dayOf(2025, 12, 31)
	bandOf := map[string]int{}
	var people, deaths [4]float64
	for _, r := range rows {
		dob := r[col(t, h, "date_of_birth")]
		age := float64(ref-dayOf(atoi(dob[:4]), atoi(dob[5:7]), atoi(dob[8:]))) / 365.25
		b := 0
		switch {
		case age >= 75:
			b = 3
		case age >= 60:
			b = 2
		case age >= 40:
			b = 1
		case age < 18:
			b = -1
		}
		bandOf[r[col(t, h, "nhs_number")]] = b
		if b >= 0 {
			people[b]++
			if r[col(t, h, "date_of_death")] != "" {
				deaths[b]++
			}
		}
	}
	h, rows = readCSV(t, dir, "gp_events")
	var cases [4]map[string]bool
	for i := range cases {
		cases[i] = map[string]bool{}
	}
	for _, r := range rows {
		if r[col(t, h, "condition")] != "hypertension" {
			continue
		}
		if b, ok := bandOf[r[0]]; ok && b >= 0 {
			cases[b][r[0]] = true
		}
	}
	for b := 1; b < 4; b++ {
		prev0, prev1 := float64(len(cases[b-1]))/people[b-1], float64(len(cases[b]))/people[b]
		if prev1 <= prev0 {
			t.Errorf("hypertension prevalence does not rise with age: band %d %.3f, band %d %.3f", b-1, prev0, b, prev1)
		}
		if deaths[b]/people[b] <= deaths[b-1]/people[b-1] {
			t.Errorf("deaths do not rise with age: band %d %.4f, band %d %.4f", b-1, deaths[b-1]/people[b-1], b, deaths[b]/people[b])
		}
	}
	if p := float64(len(cases[3])) / people[3]; p < 0.35 || p > 0.75 {
		t.Errorf("hypertension prevalence at 75+ is %.2f, want about 0.55", p)
	}
}

func TestGPEventsPerPerson(t *testing.T) {
	sum := generate(t, Options{Seed: DefaultSeed, People: 20000})
	f, _ := sum.File("gp_events")
	if r := float64(f.Rows) / 20000; r < 9 || r > 11 {
		t.Errorf("gp_events has %.2f rows per person, documented as about 10", r)
	}
}

func TestDictionaryDescribesEveryColumn(t *testing.T) {
	dir := t.TempDir()
	generate(t, Options{Seed: 1, People: 500, Out: dir})
	md, err := os.ReadFile(filepath.Join(dir, DictionaryMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, DictionaryJSON))
	if err != nil {
		t.Fatal(err)
	}
	for i, ds := range Datasets() {
		for _, c := range headers[i] {
			if !bytes.Contains(md, []byte("| `"+c+"` |")) {
				t.Errorf("%s.%s missing from %s", ds, c, DictionaryMarkdown)
			}
		}
		if !bytes.Contains(js, []byte(`"name": "`+ds+`"`)) {
			t.Errorf("%s missing from %s", ds, DictionaryJSON)
		}
	}
}

func TestOverwriteNeedsForce(t *testing.T) {
	dir := t.TempDir()
	generate(t, Options{Seed: 1, People: 100, Out: dir})
	_, err := Generate(context.Background(), Options{Seed: 1, People: 100, Out: dir})
	if sde.ErrorCode(err) != sde.EINVALID || !strings.Contains(sde.ErrorMessage(err), "--force") {
		t.Fatalf("second run without Force: %v", err)
	}
	generate(t, Options{Seed: 2, People: 100, Out: dir, Force: true})
}

func TestBadOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, opt := range []Options{
		{People: 0, Out: t.TempDir()},
		{People: -5, Out: t.TempDir()},
		{People: MaxPeople + 1, Out: t.TempDir()},
		{People: 10},
		{People: 10, Out: filepath.Join(file, "sub")}, // parent is a file: cannot create
	} {
		_, err := Generate(context.Background(), opt)
		if sde.ErrorCode(err) != sde.EINVALID {
			t.Errorf("Generate(%+v) = %v, want an EINVALID error", opt, err)
		}
		if strings.Contains(sde.ErrorMessage(err), "/") {
			t.Errorf("message leaks a path: %q", sde.ErrorMessage(err))
		}
	}
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Generate(ctx, Options{Seed: 1, People: 50000, Out: dir})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with a cancelled context: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("cancelled run left %d files behind", len(ents))
	}
}

func BenchmarkGenerate(b *testing.B) {
	dir := b.TempDir()
	var rows int64
	for b.Loop() {
		sum, err := Generate(context.Background(), Options{Seed: DefaultSeed, People: 100000, Out: dir, Force: true})
		if err != nil {
			b.Fatal(err)
		}
		rows = sum.Rows()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows), "rows/op")
}
