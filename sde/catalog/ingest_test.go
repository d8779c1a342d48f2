package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/sde"
)

const testSpec = `{
  "name": "gp_patients",
  "title": "Test GP registrations",
  "controller": {"code": "GP01", "name": "Test GP Federation", "kind": "gp"},
  "person": {"column": "nhs_number", "kind": "nhs_number"},
  "drop": ["family_name"],
  "generalise": [
    {"column": "date_of_birth", "method": "month", "output": "birth_month"},
    {"column": "postcode", "method": "district"}
  ],
  "columns": [
    {"name": "nhs_number", "type": "VARCHAR"},
    {"name": "family_name", "type": "VARCHAR"},
    {"name": "date_of_birth", "type": "DATE", "required": true},
    {"name": "postcode", "type": "VARCHAR"},
    {"name": "lsoa", "type": "VARCHAR"},
    {"name": "imd_decile", "type": "INTEGER"}
  ]
}`

// Valid NHS numbers (Modulus 11) used as raw identifiers; the test greps for them afterwards.
var rawNHS = []string{"9434765919", "9434765870", "9990000018", "4010232137"}

const testCSV = `nhs_number,family_name,date_of_birth,postcode,lsoa,imd_decile
9434765919,Smith,1950-03-14,LS1 4AP,E01000001,3
9434765870,Jones,1982-11-02,LS6 2QT,E01000002,7
9434765919,Smith,1950-03-14,LS1 4AP,E01000001,3
9434765918,Brown,1990-01-01,LS2 9JT,E01000003,1
9990000018,Patel,31/02/1970,LS7 1AB,E01000004,5
,Unknown,2001-06-30,LS8 3HU,E01000005,x
4010232137,Evans,1975-07-07,,E01000006,9
,Green,1966-12-25,LS9 7TF,E01000007,2
`

func mustSpec(t testing.TB, js string) *Spec {
	t.Helper()
	s, err := ReadSpec(strings.NewReader(js))
	if err != nil {
		t.Fatalf("spec: %v", err)
	}
	return s
}

func keyring(t testing.TB) *crypto.Keyring {
	t.Helper()
	k, err := crypto.OpenKeyring(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIngestCSV(t *testing.T) {
	data, src := t.TempDir(), t.TempDir()
	cat, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	var prog bytes.Buffer
	k := keyring(t)
	rep, err := cat.Ingest(context.Background(), IngestOptions{
		Spec: mustSpec(t, testSpec), Path: writeFile(t, src, "patients.csv", testCSV),
		Pseudonymiser: k, Progress: &prog, MemoryLimit: "1GB",
		ReferenceDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	want := RowCounts{In: 8, OK: 5, Quarantined: 3, Linked: 4}
	if rep.Rows != want {
		t.Errorf("rows = %+v, want %+v", rep.Rows, want)
	}
	if rep.Version != 1 || rep.Persons != 3 || rep.Source.Name != "patients.csv" || len(rep.Source.SHA256) != 64 {
		t.Errorf("lineage = %+v", rep.Lineage)
	}
	if got, want := rep.LinkageRate, 0.8; got != want {
		t.Errorf("linkage rate = %v, want %v", got, want)
	}
	wantQ := []QuarantinedRow{
		{4, "nhs_number: not a valid NHS number"},
		{5, "date_of_birth: not a valid date (YYYY-MM-DD)"},
		{6, "imd_decile: not a valid whole number"},
	}
	if len(rep.Quarantined) != len(wantQ) {
		t.Fatalf("quarantined = %+v", rep.Quarantined)
	}
	for i := range wantQ {
		if rep.Quarantined[i] != wantQ[i] {
			t.Errorf("quarantined[%d] = %+v, want %+v", i, rep.Quarantined[i], wantQ[i])
		}
	}
	for _, want := range []string{"reading patients.csv", "pseudonymising 4 distinct identifiers", "version 1 of gp_patients is ready"} {
		if !strings.Contains(prog.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, prog.String())
		}
	}
	if !strings.Contains(prog.String(), "version 1 of gp_patients is ready") {
		t.Errorf("progress did not report completion:\n%s", prog.String())
	}

	db := openRO(t, cat.DataFile("gp_patients", 1))
	rows, err := db.Query(`SELECT person_id, birth_month::VARCHAR, coalesce(postcode, '-'), lsoa, imd_decile FROM gp_patients ORDER BY lsoa, birth_month`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	persons := map[string]bool{}
	nulls := 0
	for rows.Next() {
		var pid sql.NullString
		var month, pc, lsoa string
		var imd int
		if err := rows.Scan(&pid, &month, &pc, &lsoa, &imd); err != nil {
			t.Fatal(err)
		}
		if !pid.Valid {
			nulls++
		} else if !crypto.ValidPseudonym(sde.Pseudonym(pid.String)) {
			t.Errorf("person_id %q is not a pseudonym", pid.String)
		}
		if pid.Valid {
			persons[pid.String] = true
		}
		got = append(got, month+" "+pc+" "+lsoa)
	}
	rows.Close()
	wantRows := []string{"1950-03-01 LS1 E01000001", "1950-03-01 LS1 E01000001", "1982-11-01 LS6 E01000002", "1975-07-01 - E01000006", "1966-12-01 LS9 E01000007"}
	if strings.Join(got, "|") != strings.Join(wantRows, "|") {
		t.Errorf("stored rows = %q, want %q", got, wantRows)
	}
	if len(persons) != 3 || nulls != 1 {
		t.Errorf("distinct persons = %d, unlinked = %d; want 3 (repeat rows link to one pseudonym) and 1", len(persons), nulls)
	}
	// Direct identifiers are dropped: no family_name column at all.
	var n int
	db.QueryRow(`SELECT count(*) FROM duckdb_columns() WHERE table_name = 'gp_patients' AND column_name IN ('family_name', 'date_of_birth', 'nhs_number')`).Scan(&n)
	if n != 0 {
		t.Errorf("%d identifying columns were stored", n)
	}
	assertNoRawIdentifiers(t, data, append(rawNHS, "Smith", "Jones", "Patel"))

	// A second ingest makes version 2 and leaves version 1 alone.
	rep2, err := cat.Ingest(context.Background(), IngestOptions{Spec: mustSpec(t, testSpec), Path: writeFile(t, src, "patients.csv", testCSV), Pseudonymiser: k})
	if err != nil || rep2.Version != 2 {
		t.Fatalf("second ingest: version %v, %v", rep2, err)
	}
	if vs, _ := cat.Versions("gp_patients"); len(vs) != 2 {
		t.Errorf("versions = %v", vs)
	}
}

// assertNoRawIdentifiers greps every file under dir for each raw value.
func assertNoRawIdentifiers(t *testing.T, dir string, raw []string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range raw {
			if bytes.Contains(b, []byte(r)) {
				t.Errorf("raw identifier %q found in %s", r, p)
			}
		}
		return nil
	})
}

func openRO(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// snapshot lists every file under dir with its size, to show a failed ingest changed nothing.
func snapshot(t testing.TB, dir string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if filepath.Base(filepath.Dir(p)) == ".locks" {
			return nil // a lock file is created on first use and is harmless
		}
		info, _ := d.Info()
		out = append(out, rel+" "+info.Mode().String())
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n")
}

type failingPseudonymiser struct {
	crypto.Pseudonymiser
	calls int
}

func (f *failingPseudonymiser) Pseudonymise(ctx context.Context, ids []string) ([]sde.Pseudonym, error) {
	f.calls++
	if f.calls > 1 {
		return nil, sde.Errorf(sde.EUNAVAILABLE, "The key service is unavailable; try again later.")
	}
	return f.Pseudonymiser.Pseudonymise(ctx, ids)
}

func TestIngestBadInput(t *testing.T) {
	src := t.TempDir()
	spec := mustSpec(t, testSpec)
	header := "nhs_number,family_name,date_of_birth,postcode,lsoa,imd_decile\n"
	var big strings.Builder
	big.WriteString(header)
	for i := 0; i < 400_000; i++ {
		big.WriteString("9434765919,Smith,1950-03-14,LS1 4AP,E01000001,3\n")
	}
	var many strings.Builder
	many.WriteString(header)
	for i := 0; i < 2*pseudonymBatch+10; i++ {
		many.WriteString(validNHS(i) + ",Smith,1950-03-14,LS1 4AP,E01000001,3\n")
	}
	cases := []struct {
		name, file, content string
		opts                func(*IngestOptions)
		code, msg           string
	}{
		{name: "empty file", file: "e.csv", content: "", code: sde.EINVALID, msg: "is empty"},
		{name: "header only", file: "h.csv", content: header, code: sde.EINVALID, msg: "no rows"},
		{name: "header mismatch", file: "m.csv", content: "nhs_number,surname,date_of_birth,postcode,lsoa,imd_decile\n1,2,3,4,5,6\n", code: sde.EINVALID, msg: `missing "family_name"; not in the spec "surname"`},
		{name: "spec names a missing column", file: "s.csv", content: "nhs_number,family_name,date_of_birth,postcode,lsoa\n1,2,3,4,5\n", code: sde.EINVALID, msg: `missing "imd_decile"`},
		{name: "stray quote", file: "q.csv", content: header + "9434765919,Smith,1950-03-14,LS1 4AP,E01000001,3\n9434765870,\"Jones,1982-11-02,LS6 2QT,E01000002,7\n9434765919,Smith,1950-03-14,LS1 4AP,E01000001,3\n", code: sde.EINVALID, msg: "malformed at line 3: a quoted value is never closed"},
		{name: "ragged row", file: "r.csv", content: header + "9434765919,Smith,1950-03-14,LS1 4AP,E01000001,3,extra\n", code: sde.EINVALID, msg: "different number of fields"},
		{name: "truncated parquet", file: "t.parquet", content: "PAR1\x15\x04\x15\x10\x15\x14L", code: sde.EINVALID, msg: "damaged, truncated or not Parquet"},
		{name: "not arrow", file: "t.arrow", content: "ARROW1\x00\x00garbage", code: sde.EINVALID, msg: "Arrow IPC"},
		{name: "unknown format", file: "x.xlsx", content: "PK", code: sde.EINVALID, msg: "Cannot tell the format"},
		{name: "larger than memory", file: "big.csv", content: big.String(), opts: func(o *IngestOptions) { o.MemoryLimit = "40MB"; o.Threads = 1 }, code: sde.ETOOLARGE, msg: "too large to ingest within the memory limit"},
		{name: "key service fails mid-ingest", file: "many.csv", content: many.String(), opts: func(o *IngestOptions) { o.Pseudonymiser = &failingPseudonymiser{Pseudonymiser: o.Pseudonymiser} }, code: sde.EUNAVAILABLE, msg: "key service is unavailable"},
		{name: "bad memory limit", file: "ok.csv", content: testCSV, opts: func(o *IngestOptions) { o.MemoryLimit = "1GB'; ATTACH 'x" }, code: sde.EINVALID, msg: "Invalid memory limit"},
	}
	data := t.TempDir()
	cat, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	// One good version first, so "as it was" includes existing data.
	k := keyring(t)
	if _, err := cat.Ingest(context.Background(), IngestOptions{Spec: spec, Path: writeFile(t, src, "good.csv", testCSV), Pseudonymiser: k}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, data)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := IngestOptions{Spec: spec, Path: writeFile(t, src, tc.file, tc.content), Pseudonymiser: k}
			if tc.opts != nil {
				tc.opts(&o)
			}
			_, err := cat.Ingest(context.Background(), o)
			if err == nil {
				t.Fatal("ingest succeeded")
			}
			if code := sde.ErrorCode(err); code != tc.code {
				t.Errorf("code = %q, want %q (%v)", code, tc.code, err)
			}
			msg := sde.ErrorMessage(err)
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("message = %q, want it to contain %q", msg, tc.msg)
			}
			if strings.Contains(msg, src) || strings.Contains(msg, data) || strings.Contains(msg, "Jones") {
				t.Errorf("message leaks a path or a value: %q", msg)
			}
			if after := snapshot(t, data); after != before {
				t.Errorf("data directory changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// validNHS returns the i-th valid NHS number in a synthetic range.
func validNHS(i int) string {
	for n := 900000000 + i*7; ; n++ {
		s := itoa9(n)
		sum := 0
		for j := 0; j < 9; j++ {
			sum += int(s[j]-'0') * (10 - j)
		}
		c := 11 - sum%11
		if c == 11 {
			c = 0
		}
		if c == 10 {
			continue
		}
		return s + string(rune('0'+c))
	}
}

func itoa9(n int) string {
	b := make([]byte, 9)
	for i := 8; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}

func TestIngestCancelled(t *testing.T) {
	data, src := t.TempDir(), t.TempDir()
	cat, _ := Open(data)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := cat.Ingest(ctx, IngestOptions{Spec: mustSpec(t, testSpec), Path: writeFile(t, src, "p.csv", testCSV), Pseudonymiser: keyring(t)})
	if err == nil {
		t.Fatal("cancelled ingest succeeded")
	}
	if vs, _ := cat.Versions("gp_patients"); len(vs) != 0 {
		t.Errorf("versions after cancel = %v", vs)
	}
}

func TestSpecValidation(t *testing.T) {
	for _, tc := range []struct{ name, js, msg string }{
		{"unknown field", strings.Replace(testSpec, `"title"`, `"colour": "red", "title"`, 1), "unknown field"},
		{"trailing text", testSpec + " garbage", "text after its closing brace"},
		{"not JSON", "{", "not valid JSON"},
	} {
		if _, err := ReadSpec(strings.NewReader(tc.js)); err == nil || !strings.Contains(sde.ErrorMessage(err), tc.msg) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.msg)
		}
	}
	cases := []struct {
		name string
		edit func(*Spec)
		msg  string
	}{
		{"bad type", func(s *Spec) { s.Columns[5].Type = "BLOB" }, "unsupported type"},
		{"decimal scale above precision", func(s *Spec) { s.Columns[5].Type = "DECIMAL(2,9)" }, "unsupported type"},
		{"decimal too wide", func(s *Spec) { s.Columns[5].Type = "DECIMAL(39,2)" }, "unsupported type"},
		{"decimal wider than 18 digits", func(s *Spec) { s.Columns[5].Type = "DECIMAL(38,30)" }, "unsupported type"},
		{"bad name", func(s *Spec) { s.Name = "GP Patients" }, "lower-case"},
		{"reserved column", func(s *Spec) { s.Columns[4].Name = "person_id" }, "reserved"},
		{"duplicate column", func(s *Spec) { s.Columns[4].Name = "postcode" }, "listed twice"},
		{"no controller", func(s *Spec) { s.Controller = Organisation{} }, "controller code and name"},
		{"bad controller kind", func(s *Spec) { s.Controller.Kind = "local-authority" }, "controller kind"},
		{"person column missing", func(s *Spec) { s.Person.Column = "nhs" }, "not among the columns"},
		{"person kind unknown", func(s *Spec) { s.Person.Kind = "chi_number" }, "not supported"},
		{"person kind without column", func(s *Spec) { s.Person.Column = "" }, "no person column"},
		{"person column not text", func(s *Spec) { s.Columns[0].Type = "BIGINT" }, "must be VARCHAR"},
		{"dropping the person column", func(s *Spec) { s.Drop = append(s.Drop, "nhs_number") }, "pseudonymised, not dropped"},
		{"dropped column missing", func(s *Spec) { s.Drop = []string{"address"} }, "not among the columns"},
		{"dropped and generalised", func(s *Spec) { s.Drop = append(s.Drop, "postcode") }, "both generalised and dropped"},
		{"generalised twice", func(s *Spec) {
			s.Generalise = append(s.Generalise, Generalisation{Column: "date_of_birth", Method: "year", Output: "birth_year"})
		}, "generalised twice"},
		{"unknown generalisation", func(s *Spec) { s.Generalise[0].Method = "decade" }, "unknown generalisation"},
		{"generalisation on the wrong type", func(s *Spec) { s.Generalise[1].Method = "month" }, "needs a DATE column"},
		{"output reuses a dropped name", func(s *Spec) { s.Generalise[0].Output = "family_name" }, "invalid or clashes"},
		{"output clashes with a column", func(s *Spec) { s.Generalise[0].Output = "lsoa" }, "invalid or clashes"},
		{"no columns", func(s *Spec) { s.Columns = nil; s.Person = PersonColumn{}; s.Drop = nil; s.Generalise = nil }, "no columns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, testSpec)
			tc.edit(s)
			if err := s.Validate(); err == nil || !strings.Contains(sde.ErrorMessage(err), tc.msg) || sde.ErrorCode(err) != sde.EINVALID {
				t.Errorf("err = %v, want %q", err, tc.msg)
			}
		})
	}
	var se *sde.Error
	_, err := LoadSpec("/nonexistent/spec.json")
	if !errors.As(err, &se) || strings.Contains(se.Message, "/nonexistent") {
		t.Errorf("LoadSpec error leaks path: %v", err)
	}
}

// TestIngestRefusesOtherKeyVersion: after a key rotation, an ingest with the new version would
// produce pseudonyms that no longer link to existing datasets, so it is refused.
func TestIngestRefusesOtherKeyVersion(t *testing.T) {
	data, src := t.TempDir(), t.TempDir()
	cat, _ := Open(data)
	k := keyring(t)
	if _, err := cat.Ingest(context.Background(), IngestOptions{Spec: mustSpec(t, testSpec), Path: writeFile(t, src, "p.csv", testCSV), Pseudonymiser: k}); err != nil {
		t.Fatal(err)
	}
	v, err := k.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := k.Pinned(v)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cat.Ingest(context.Background(), IngestOptions{Spec: mustSpec(t, testSpec), Path: writeFile(t, src, "p.csv", testCSV), Pseudonymiser: rotated})
	if sde.ErrorCode(err) != sde.ECONFLICT || !strings.Contains(sde.ErrorMessage(err), "would not link") {
		t.Fatalf("err = %v", err)
	}
	// The pinned original still works.
	if _, err := cat.Ingest(context.Background(), IngestOptions{Spec: mustSpec(t, testSpec), Path: writeFile(t, src, "p.csv", testCSV), Pseudonymiser: k}); err != nil {
		t.Fatal(err)
	}
}

// TestErrorsNeverQuoteSourceData: a malformed row or a missing header gives a message and a
// logged cause without the row's values (second security review, F4).
func TestErrorsNeverQuoteSourceData(t *testing.T) {
	cat, _ := Open(t.TempDir())
	src := t.TempDir()
	header := "nhs_number,family_name,date_of_birth,postcode,lsoa,imd_decile\n"
	for name, content := range map[string]string{
		"ragged.csv":   header + "9434765919,Smith,1950-03-14,LS1 4AP,E01000001,3,extra\n",
		"quote.csv":    header + "9434765919,\"Smith,1950-03-14,LS1 4AP,E01000001,3\n9434765870,Jones,1982-11-02,LS6 2QT,E01000002,7\n",
		"noheader.csv": "9434765919,Smith,1950-03-14,LS1 4AP,E01000001,3\n",
	} {
		_, err := cat.Ingest(context.Background(), IngestOptions{Spec: mustSpec(t, testSpec), Path: writeFile(t, src, name, content), Pseudonymiser: keyring(t)})
		if err == nil {
			t.Fatalf("%s: ingest succeeded", name)
		}
		for _, raw := range []string{"9434765919", "Smith"} {
			if strings.Contains(err.Error(), raw) { // err.Error() includes the logged cause
				t.Errorf("%s: error or its cause quotes source data: %v", name, err)
			}
		}
	}
}

// TestIngestQuarantinesEdgeValues: dates far outside living memory and infinite, NaN or
// astronomically large numbers are quarantined, and do not fail the ingest: computations on them fail only for the rows
// holding them, which would let a query's failing say that such a row exists.
func TestIngestQuarantinesEdgeValues(t *testing.T) {
	data, src := t.TempDir(), t.TempDir()
	cat, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	spec := strings.Replace(testSpec, `{"name": "imd_decile", "type": "INTEGER"}`, `{"name": "imd_decile", "type": "INTEGER"}, {"name": "score", "type": "DOUBLE"}`, 1)
	csv := `nhs_number,family_name,date_of_birth,postcode,lsoa,imd_decile,score
9434765919,Smith,1950-03-14,LS1 4AP,E01000001,3,1.5
9434765870,Jones,5881580-07-10,LS6 2QT,E01000002,7,2
9990000018,Patel,1970-02-01,LS7 1AB,E01000004,5,inf
4010232137,Evans,1975-07-07,LS8 1AB,E01000006,9,nan
9876543210,Brown,1980-01-01,LS9 1AB,E01000007,2,-2e18
`
	rep, err := cat.Ingest(context.Background(), IngestOptions{
		Spec: mustSpec(t, spec), Path: writeFile(t, src, "patients.csv", csv),
		Pseudonymiser: keyring(t), MemoryLimit: "1GB", ReferenceDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	want := []QuarantinedRow{
		{2, "date_of_birth: outside the years 1800-2200"},
		{3, "score: not a number between -1e+18 and 1e+18"},
		{4, "score: not a number between -1e+18 and 1e+18"},
		{5, "score: not a number between -1e+18 and 1e+18"},
	}
	if len(rep.Quarantined) != len(want) {
		t.Fatalf("quarantined = %+v, want %+v", rep.Quarantined, want)
	}
	for i := range want {
		if rep.Quarantined[i] != want[i] {
			t.Errorf("quarantined[%d] = %+v, want %+v", i, rep.Quarantined[i], want[i])
		}
	}
}
