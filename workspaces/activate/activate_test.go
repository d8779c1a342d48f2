package activate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/catalog"
)

const patientsSpec = `{
  "name": "patients", "title": "Test registrations",
  "controller": {"code": "GP01", "name": "Test GP Federation", "kind": "gp"},
  "person": {"column": "nhs_number", "kind": "nhs_number", "required": true},
  "generalise": [{"column": "date_of_birth", "method": "month", "output": "birth_month"}],
  "columns": [
    {"name": "nhs_number", "type": "VARCHAR", "required": true},
    {"name": "sex", "type": "VARCHAR"},
    {"name": "date_of_birth", "type": "DATE"},
    {"name": "lsoa", "type": "VARCHAR"}
  ]
}`

const eventsSpec = `{
  "name": "gp_events", "title": "Test GP events",
  "controller": {"code": "GP01", "name": "Test GP Federation", "kind": "gp"},
  "person": {"column": "nhs_number", "kind": "nhs_number"},
  "columns": [
    {"name": "nhs_number", "type": "VARCHAR"},
    {"name": "event_date", "type": "DATE"},
    {"name": "code", "type": "VARCHAR"},
    {"name": "value", "type": "DOUBLE"}
  ]
}`

const optOutSpec = `{
  "name": "opt_outs", "title": "Test opt-out register",
  "controller": {"code": "NDOP", "name": "Test opt-out service", "kind": "national"},
  "person": {"column": "nhs_number", "kind": "nhs_number", "required": true},
  "columns": [
    {"name": "nhs_number", "type": "VARCHAR", "required": true},
    {"name": "opt_out_date", "type": "DATE", "required": true}
  ]
}`

const areasSpec = `{
  "name": "areas", "title": "Test reference data without people",
  "controller": {"code": "LA01", "name": "Test council", "kind": "local_authority"},
  "columns": [
    {"name": "lsoa", "type": "VARCHAR"},
    {"name": "imd_decile", "type": "INTEGER"}
  ]
}`

// nhs returns the i-th valid (Modulus 11) NHS number of a fixed synthetic range.
func nhs(i int) string {
	n := 0
	for base := 900000000; ; base++ {
		s := strconv.Itoa(base)
		sum := 0
		for k := 0; k < 9; k++ {
			sum += int(s[k]-'0') * (10 - k)
		}
		check := (11 - sum%11) % 11
		if check == 10 {
			continue
		}
		if n == i {
			return s + strconv.Itoa(check)
		}
		n++
	}
}

// env is a catalogue with the test datasets ingested, and the keys that made them.
type env struct {
	data    string
	cat     *catalog.Catalog
	keys    *crypto.Keyring
	rekeyer *crypto.LocalRekeyer
}

func ingest(t testing.TB, e *env, spec, name, csv string) {
	t.Helper()
	s, err := catalog.ReadSpec(strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".csv")
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cat.Ingest(context.Background(), catalog.IngestOptions{
		Spec: s, Path: path, Pseudonymiser: e.keys, MemoryLimit: "1GB",
		ReferenceDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}); err != nil {
		t.Fatalf("ingest %s: %v", name, err)
	}
}

func newEnv(t testing.TB) *env {
	t.Helper()
	data := t.TempDir()
	keys, err := crypto.OpenKeyring(filepath.Join(data, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	return &env{data: data, cat: cat, keys: keys, rekeyer: keys.Rekeyer()}
}

// People 0–4 are in the datasets; 2 and 5 have opted out (5 appears nowhere else).
func testEnv(t testing.TB) *env {
	e := newEnv(t)
	ingest(t, e, patientsSpec, "patients", "nhs_number,sex,date_of_birth,lsoa\n"+
		nhs(0)+",F,1950-03-14,E01000001\n"+
		nhs(1)+",M,1982-11-02,E01000002\n"+
		nhs(2)+",F,1990-01-01,E01000003\n"+
		nhs(3)+",M,1975-07-07,E01000001\n"+
		nhs(4)+",F,2001-06-30,E01000002\n")
	ingest(t, e, eventsSpec, "gp_events", "nhs_number,event_date,code,value\n"+
		nhs(0)+",2024-01-02,C10,1.5\n"+
		nhs(0)+",2024-02-03,C10,2.5\n"+
		nhs(1)+",2024-03-04,H33,\n"+
		nhs(2)+",2024-04-05,C10,7\n"+
		nhs(2)+",2024-05-06,C10,8\n"+
		nhs(2)+",2024-06-07,I10,9\n"+
		nhs(3)+",2024-07-08,I10,3\n"+
		",2024-08-09,I10,4\n"+
		",2024-09-10,H33,5\n")
	ingest(t, e, optOutSpec, "opt_outs", "nhs_number,opt_out_date\n"+
		nhs(2)+",2020-01-01\n"+
		nhs(5)+",2021-01-01\n")
	ingest(t, e, areasSpec, "areas", "lsoa,imd_decile\nE01000001,3\nE01000002,7\nE01000003,3\n")
	return e
}

var approved = []sde.DatasetScope{
	{Dataset: "patients", Columns: []string{"sex", "person_id", "birth_month"}}, // no lsoa
	{Dataset: "gp_events", Columns: []string{"person_id", "code", "value"}},     // no event_date
}

func (e *env) opts(ws sde.WorkspaceID, purpose string) Options {
	return Options{
		Catalog: e.cat, Rekeyer: e.rekeyer, Workspace: ws, Datasets: approved, Purpose: purpose,
		Dir: filepath.Join(e.data, "workspaces"), MemoryLimit: "1GB", Threads: 1,
		Now: func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) },
	}
}

func (e *env) activate(t testing.TB, ws sde.WorkspaceID, purpose string) (*Manifest, *sql.DB) {
	t.Helper()
	m, err := Materialise(context.Background(), e.opts(ws, purpose))
	if err != nil {
		t.Fatalf("materialise %s: %v", ws, err)
	}
	lm, path, err := Latest(filepath.Join(e.data, "workspaces"), ws)
	if err != nil {
		t.Fatalf("latest %s: %v", ws, err)
	}
	if lm.Version != m.Version || lm.Totals != m.Totals {
		t.Errorf("Latest = %+v, Materialise = %+v", lm, m)
	}
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return m, db
}

func (e *env) linkage(t testing.TB, i int) sde.Pseudonym {
	t.Helper()
	ps, err := e.keys.Pseudonymise(context.Background(), []string{nhs(i)})
	if err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

func (e *env) wpid(t testing.TB, ws sde.WorkspaceID, i int) sde.Pseudonym {
	t.Helper()
	ps, err := e.rekeyer.Rekey(context.Background(), ws, []sde.Pseudonym{e.linkage(t, i)})
	if err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

func strs(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	return out
}

func count(t testing.TB, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestApprovedColumnsOnly(t *testing.T) {
	e := testEnv(t)
	m, db := e.activate(t, "alpha", sde.PurposeResearch)

	tables := strs(t, db, "SELECT table_name FROM information_schema.tables ORDER BY table_name")
	if want := []string{"gp_events", "patients"}; !slices.Equal(tables, want) {
		t.Errorf("tables = %v, want %v (never the register, lineage or quarantine)", tables, want)
	}
	for table, want := range map[string][]string{
		"patients":  {"person_id", "sex", "birth_month"},
		"gp_events": {"person_id", "code", "value"},
	} {
		got := strs(t, db, "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", table)
		if !slices.Equal(got, want) {
			t.Errorf("%s columns = %v, want %v", table, got, want)
		}
	}
	types := strs(t, db, "SELECT data_type FROM information_schema.columns WHERE table_name = 'gp_events' ORDER BY ordinal_position")
	if want := []string{"VARCHAR", "VARCHAR", "DOUBLE"}; !slices.Equal(types, want) {
		t.Errorf("gp_events types = %v, want %v", types, want)
	}
	wantCols := []Column{{"person_id", "VARCHAR"}, {"sex", "VARCHAR"}, {"birth_month", "DATE"}}
	if !slices.Equal(m.Datasets[0].Columns, wantCols) {
		t.Errorf("manifest columns = %+v, want %+v", m.Datasets[0].Columns, wantCols)
	}

	// The version directory holds exactly the database and the manifest, both read-only.
	vdir := VersionDir(filepath.Join(e.data, "workspaces"), "alpha", 1)
	entries, err := os.ReadDir(vdir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
		st, _ := os.Stat(filepath.Join(vdir, en.Name()))
		if st.Mode().Perm() != 0o440 {
			t.Errorf("%s mode %v, want 0440", en.Name(), st.Mode().Perm())
		}
	}
	if want := []string{ManifestFile, DatabaseFile}; !slices.Equal(names, want) {
		t.Errorf("version directory holds %v, want %v", names, want)
	}
	if _, err := db.Exec("CREATE TABLE x (a INT)"); err == nil {
		t.Error("workspace database opened read-only accepted a write")
	}
}

func TestPseudonymsPerWorkspace(t *testing.T) {
	e := testEnv(t)
	_, a := e.activate(t, "alpha", sde.PurposeDirectCare)
	_, b := e.activate(t, "beta", sde.PurposeDirectCare)

	// Consistent inside a workspace: every linked event joins to its patient.
	for name, db := range map[string]*sql.DB{"alpha": a, "beta": b} {
		if n := count(t, db, "SELECT count(*) FROM gp_events JOIN patients USING (person_id)"); n != 7 {
			t.Errorf("%s: %d events join to patients, want 7", name, n)
		}
	}
	// Different across workspaces: no id in common, and person 0's ids differ.
	if n := count(t, a, "SELECT count(*) FROM patients WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", strs(t, b, "SELECT person_id FROM patients")); n != 0 {
		t.Errorf("%d person ids shared by two workspaces", n)
	}
	pa, pb := e.wpid(t, "alpha", 0), e.wpid(t, "beta", 0)
	if pa == pb {
		t.Fatal("one person has the same id in two workspaces")
	}
	if count(t, a, "SELECT count(*) FROM gp_events WHERE person_id = ?", string(pa)) != 2 ||
		count(t, b, "SELECT count(*) FROM gp_events WHERE person_id = ?", string(pb)) != 2 {
		t.Error("person 0's events are not under their workspace ids")
	}
	// Deterministic: activating again gives a new version with the same ids.
	m2, a2 := e.activate(t, "alpha", sde.PurposeDirectCare)
	if m2.Version != 2 {
		t.Errorf("second activation is version %d, want 2", m2.Version)
	}
	if !slices.Equal(strs(t, a, "SELECT person_id FROM patients ORDER BY 1"), strs(t, a2, "SELECT person_id FROM patients ORDER BY 1")) {
		t.Error("re-activation changed the workspace's person ids")
	}
}

func TestOptOutByPurpose(t *testing.T) {
	e := testEnv(t)
	for _, tc := range []struct {
		purpose string
		want    Manifest
	}{
		{sde.PurposeResearch, Manifest{
			OptOut: OptOut{Applied: true, Register: "opt_outs", RegisterVersion: 1, PersonsRemoved: 1, RowsRemoved: 4},
			Datasets: []DatasetManifest{
				{Rows: Rows{In: 5, RemovedOptOut: 1, Stored: 4}, Persons: 4},
				{Rows: Rows{In: 9, RemovedOptOut: 3, Stored: 6, Unlinked: 2}, Persons: 3},
			},
			Totals: Totals{RowsIn: 14, RowsRemoved: 4, RowsStored: 10, Persons: 4},
		}},
		{sde.PurposePlanning, Manifest{
			OptOut: OptOut{Applied: true, Register: "opt_outs", RegisterVersion: 1, PersonsRemoved: 1, RowsRemoved: 4},
			Datasets: []DatasetManifest{
				{Rows: Rows{In: 5, RemovedOptOut: 1, Stored: 4}, Persons: 4},
				{Rows: Rows{In: 9, RemovedOptOut: 3, Stored: 6, Unlinked: 2}, Persons: 3},
			},
			Totals: Totals{RowsIn: 14, RowsRemoved: 4, RowsStored: 10, Persons: 4},
		}},
		{sde.PurposeDirectCare, Manifest{
			Datasets: []DatasetManifest{
				{Rows: Rows{In: 5, Stored: 5}, Persons: 5},
				{Rows: Rows{In: 9, Stored: 9, Unlinked: 2}, Persons: 4},
			},
			Totals: Totals{RowsIn: 14, RowsStored: 14, Persons: 5},
		}},
	} {
		t.Run(tc.purpose, func(t *testing.T) {
			ws := sde.WorkspaceID("ws-" + strings.ReplaceAll(tc.purpose, "_", "-"))
			m, db := e.activate(t, ws, tc.purpose)
			opted := string(e.wpid(t, ws, 2))
			n := count(t, db, "SELECT count(*) FROM patients WHERE person_id = ?", opted) +
				count(t, db, "SELECT count(*) FROM gp_events WHERE person_id = ?", opted)
			if want := map[bool]int64{true: 0, false: 4}[tc.want.OptOut.Applied]; n != want {
				t.Errorf("opted-out person has %d rows, want %d", n, want)
			}
			// Unlinked rows stay whatever the purpose.
			if n := count(t, db, "SELECT count(*) FROM gp_events WHERE person_id IS NULL"); n != 2 {
				t.Errorf("%d unlinked rows, want 2", n)
			}
			if n := count(t, db, "SELECT count(*) FROM gp_events") + count(t, db, "SELECT count(*) FROM patients"); n != tc.want.Totals.RowsStored {
				t.Errorf("database holds %d rows, manifest says %d", n, tc.want.Totals.RowsStored)
			}

			if m.Workspace != ws || m.Version != 1 || m.Purpose != tc.purpose || !m.CreatedAt.Equal(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) {
				t.Errorf("manifest header = %+v", m)
			}
			if m.LinkageKey != e.keys.Key() || m.Datasets[0].LinkageKey != e.keys.Key() {
				t.Errorf("linkage key = %q / %q, want %q", m.LinkageKey, m.Datasets[0].LinkageKey, e.keys.Key())
			}
			got := m.OptOut
			if got.Applied && len(got.RegisterSHA256) != 64 {
				t.Errorf("register hash = %q", got.RegisterSHA256)
			}
			got.RegisterSHA256 = ""
			if got != tc.want.OptOut {
				t.Errorf("opt-out = %+v, want %+v", got, tc.want.OptOut)
			}
			if m.Totals != tc.want.Totals {
				t.Errorf("totals = %+v, want %+v", m.Totals, tc.want.Totals)
			}
			for i, d := range m.Datasets {
				w := tc.want.Datasets[i]
				if d.Rows != w.Rows || d.Persons != w.Persons {
					t.Errorf("%s: rows %+v persons %d, want %+v, %d", d.Dataset, d.Rows, d.Persons, w.Rows, w.Persons)
				}
				if d.Dataset != approved[i].Dataset || d.Table != string(d.Dataset) || d.SourceVersion != 1 || len(d.SourceSHA256) != 64 || len(d.SpecSHA256) != 64 {
					t.Errorf("dataset %d = %+v", i, d)
				}
			}
		})
	}
}

// A dataset without people (reference data) is copied as is, whatever the purpose.
func TestDatasetWithoutPersons(t *testing.T) {
	e := testEnv(t)
	o := e.opts("gamma", sde.PurposeResearch)
	o.Datasets = []sde.DatasetScope{{Dataset: "areas", Columns: []string{"lsoa", "imd_decile"}}}
	m, err := Materialise(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Datasets[0]; d.Rows != (Rows{In: 3, Stored: 3, Unlinked: 3}) || d.Persons != 0 || d.LinkageKey != "" {
		t.Errorf("areas = %+v", d)
	}
	// lsoa is a key; imd_decile repeats: only a join on lsoa cannot multiply rows.
	if d := m.Datasets[0]; !slices.Equal(d.Unique, []string{"lsoa"}) {
		t.Errorf("unique columns %q, want [lsoa]", d.Unique)
	}
}

// The workspace file must not contain linkage pseudonyms, so outputs cannot be linked back to
// the catalogue or to other workspaces.
func TestNoLinkagePseudonymsInWorkspace(t *testing.T) {
	e := testEnv(t)
	for _, purpose := range []string{sde.PurposeDirectCare, sde.PurposeResearch} {
		ws := sde.WorkspaceID("ws-" + strings.ReplaceAll(purpose, "_", "-"))
		_, db := e.activate(t, ws, purpose)
		vdir := VersionDir(filepath.Join(e.data, "workspaces"), ws, 1)
		var blob []byte
		filepath.WalkDir(vdir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				blob = append(blob, b...)
			}
			return nil
		})
		for i := range 6 {
			if l := e.linkage(t, i); bytes.Contains(blob, []byte(l)) {
				t.Errorf("%s: linkage pseudonym of person %d is in the workspace files", ws, i)
			}
		}
		// Positive control: the grep can see pseudonyms stored in this file.
		if w := e.wpid(t, ws, 0); !bytes.Contains(blob, []byte(w)) {
			t.Errorf("%s: workspace pseudonym not found by grep; the negative check above proves nothing", ws)
		}
		// And by value, in case storage ever compresses strings beyond grep.
		var ls []string
		for i := range 6 {
			ls = append(ls, string(e.linkage(t, i)))
		}
		for _, table := range []string{"patients", "gp_events"} {
			if n := count(t, db, "SELECT count(*) FROM "+table+" WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", ls); n != 0 {
				t.Errorf("%s: %d rows of %s carry linkage pseudonyms", ws, n, table)
			}
		}
	}
	// Nor anywhere else in the workspaces directory (staging, locks).
	filepath.WalkDir(filepath.Join(e.data, "workspaces"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(e.linkage(t, 0))) {
				t.Errorf("%s holds a linkage pseudonym", p)
			}
		}
		return nil
	})
}

// failingRekeyer fails (or misbehaves) on call number failAt (1-based).
type failingRekeyer struct {
	crypto.Rekeyer
	calls, failAt int
	err           error
	identity      bool
	mangle        func([]sde.Pseudonym) []sde.Pseudonym // applied to a correct answer
	cancel        context.CancelFunc
}

func (f *failingRekeyer) Rekey(ctx context.Context, ws sde.WorkspaceID, ps []sde.Pseudonym) ([]sde.Pseudonym, error) {
	f.calls++
	if f.calls == f.failAt {
		switch {
		case f.cancel != nil:
			f.cancel()
		case f.identity:
			return append([]sde.Pseudonym(nil), ps...), nil
		case f.mangle != nil:
			out, err := f.Rekeyer.Rekey(ctx, ws, ps)
			if err != nil {
				return nil, err
			}
			return f.mangle(out), nil
		default:
			return nil, f.err
		}
	}
	return f.Rekeyer.Rekey(ctx, ws, ps)
}

func assertNoVersion(t *testing.T, dir string, ws sde.WorkspaceID) {
	t.Helper()
	if vs, err := Versions(dir, ws); err != nil || len(vs) != 0 {
		t.Errorf("versions after failure = %v, %v", vs, err)
	}
	if _, _, err := Latest(dir, ws); sde.ErrorCode(err) != sde.ENOTFOUND {
		t.Errorf("Latest after failure: %v, want not_found", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".staging", "*")); len(left) != 0 {
		t.Errorf("staging left behind: %v", left)
	}
}

func TestFailureLeavesNoVersion(t *testing.T) {
	e := testEnv(t)
	defer func(n int) { rekeyBatch = n }(rekeyBatch)
	rekeyBatch = 2 // several batches, so a failure can come mid-way

	vaultDown := sde.Errorf(sde.EUNAVAILABLE, "The pseudonym service is unavailable.")
	for _, tc := range []struct {
		name string
		r    *failingRekeyer
		code string
	}{
		{"rekeyer error", &failingRekeyer{failAt: 2, err: vaultDown}, sde.EUNAVAILABLE},
		{"plain rekeyer error", &failingRekeyer{failAt: 1, err: errors.New("connection reset")}, sde.EINTERNAL},
		{"rekeyer returns linkage ids", &failingRekeyer{failAt: 2, identity: true}, sde.EINTERNAL},
		{"cancelled mid-way", &failingRekeyer{failAt: 1}, sde.EUNAVAILABLE},
		{"rekeyer returns too few", &failingRekeyer{failAt: 2, mangle: func(out []sde.Pseudonym) []sde.Pseudonym { return out[1:] }}, sde.EINTERNAL},
		// Two people given one workspace id would be merged into one person.
		{"rekeyer merges two people", &failingRekeyer{failAt: 2, mangle: func(out []sde.Pseudonym) []sde.Pseudonym {
			for i := range out {
				out[i] = out[0]
			}
			return out
		}}, sde.EINTERNAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.name == "cancelled mid-way" {
				tc.r.cancel = cancel
			}
			tc.r.Rekeyer = e.rekeyer
			o := e.opts("alpha", sde.PurposeResearch)
			o.Rekeyer = tc.r
			_, err := Materialise(ctx, o)
			var se *sde.Error
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("err = %v, want *sde.Error %s", err, tc.code)
			}
			if strings.Contains(se.Message, e.data) {
				t.Errorf("message shows a path: %q", se.Message)
			}
			assertNoVersion(t, o.Dir, "alpha")
		})
	}
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		o := e.opts("alpha", sde.PurposeResearch)
		if _, err := Materialise(ctx, o); sde.ErrorCode(err) != sde.EUNAVAILABLE {
			t.Fatalf("err = %v, want unavailable", err)
		}
		assertNoVersion(t, o.Dir, "alpha")
	})
	// The workspace still activates afterwards, as version 1.
	m, err := Materialise(context.Background(), e.opts("alpha", sde.PurposeResearch))
	if err != nil || m.Version != 1 {
		t.Fatalf("after failures: %+v, %v", m, err)
	}
}

func TestBadOptions(t *testing.T) {
	e := testEnv(t)
	for _, tc := range []struct {
		name   string
		modify func(*Options)
		code   string
		msg    string
	}{
		{"missing dataset version", func(o *Options) {
			o.Datasets = append(slices.Clone(approved), sde.DatasetScope{Dataset: "social_care", Columns: []string{"person_id"}})
		}, sde.ENOTFOUND, `Dataset "social_care" has no ingested version`},
		{"no datasets", func(o *Options) { o.Datasets = nil }, sde.EINVALID, "missing: datasets"},
		{"unknown column", func(o *Options) {
			o.Datasets = []sde.DatasetScope{{Dataset: "patients", Columns: []string{"person_id", "nhs_number"}}}
		}, sde.EINVALID, `has no column "nhs_number"`},
		{"no columns", func(o *Options) { o.Datasets = []sde.DatasetScope{{Dataset: "patients"}} }, sde.EINVALID, "no approved columns"},
		{"register requested", func(o *Options) {
			o.Datasets = []sde.DatasetScope{{Dataset: "opt_outs", Columns: []string{"person_id"}}}
		}, sde.EINVALID, "never copied"},
		{"dataset twice", func(o *Options) { o.Datasets = []sde.DatasetScope{approved[0], approved[0]} }, sde.EINVALID, "listed twice"},
		{"unknown purpose", func(o *Options) { o.Purpose = "marketing" }, sde.EINVALID, "Unknown purpose"},
		{"bad workspace id", func(o *Options) { o.Workspace = "../etc" }, sde.EINVALID, "Invalid workspace id"},
		{"no rekeyer", func(o *Options) { o.Rekeyer = nil }, sde.EINVALID, "rekeyer"},
		{"bad dataset name", func(o *Options) {
			o.Datasets = []sde.DatasetScope{{Dataset: "../x", Columns: []string{"a"}}}
		}, sde.EINVALID, "Invalid dataset name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := e.opts("alpha", sde.PurposeResearch)
			tc.modify(&o)
			_, err := Materialise(context.Background(), o)
			var se *sde.Error
			if !errors.As(err, &se) || se.Code != tc.code || !strings.Contains(se.Message, tc.msg) {
				t.Fatalf("err = %v, want %s containing %q", err, tc.code, tc.msg)
			}
			if strings.Contains(se.Message, e.data) {
				t.Errorf("message shows a path: %q", se.Message)
			}
			assertNoVersion(t, o.Dir, "alpha")
		})
	}
}

// Without the register a research workspace is refused (fail closed); direct care needs none.
func TestMissingRegister(t *testing.T) {
	e := newEnv(t)
	ingest(t, e, patientsSpec, "patients", "nhs_number,sex,date_of_birth,lsoa\n"+nhs(0)+",F,1950-03-14,E01000001\n")
	o := e.opts("alpha", sde.PurposeResearch)
	o.Datasets = approved[:1]
	_, err := Materialise(context.Background(), o)
	if sde.ErrorCode(err) != sde.ENOTFOUND || !strings.Contains(sde.ErrorMessage(err), "opt-out register") {
		t.Fatalf("research without register: %v", err)
	}
	assertNoVersion(t, o.Dir, "alpha")
	o.Purpose = sde.PurposeDirectCare
	if m, err := Materialise(context.Background(), o); err != nil || m.OptOut.Applied {
		t.Fatalf("direct care without register: %+v, %v", m, err)
	}
}

// Datasets pseudonymised under different linkage keys cannot be joined or matched against the
// register; activation refuses rather than silently removing nobody.
func TestLinkageKeyMismatch(t *testing.T) {
	e, other := newEnv(t), newEnv(t)
	// Key names, not secrets, are compared: give the other catalogue's key another version.
	if _, err := other.keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	k2, err := other.keys.Pinned(2)
	if err != nil {
		t.Fatal(err)
	}
	other.keys = k2
	ingest(t, e, patientsSpec, "patients", "nhs_number,sex,date_of_birth,lsoa\n"+nhs(0)+",F,1950-03-14,E01000001\n")
	ingest(t, other, optOutSpec, "opt_outs", "nhs_number,opt_out_date\n"+nhs(0)+",2020-01-01\n")
	// The catalogue refuses such an ingest; simulate a copied-in dataset.
	if err := os.Rename(filepath.Join(other.data, "datasets", "opt_outs"), filepath.Join(e.data, "datasets", "opt_outs")); err != nil {
		t.Fatal(err)
	}
	o := e.opts("alpha", sde.PurposeResearch)
	o.Datasets = approved[:1]
	if _, err := Materialise(context.Background(), o); sde.ErrorCode(err) != sde.ECONFLICT {
		t.Fatalf("err = %v, want conflict", err)
	}
	assertNoVersion(t, o.Dir, "alpha")
}

func TestProgressAndRekeyKey(t *testing.T) {
	e := testEnv(t)
	var buf bytes.Buffer
	o := e.opts("alpha", sde.PurposeResearch)
	o.Progress, o.RekeyKey = &buf, "local:workspace:1"
	m, err := Materialise(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if m.RekeyKey != "local:workspace:1" {
		t.Errorf("rekey key = %q", m.RekeyKey)
	}
	out := buf.String()
	for _, want := range []string{"activate alpha: writing version 1", "derived 4 workspace pseudonyms", "version 1 is ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, e.data) {
		t.Errorf("progress shows paths:\n%s", out)
	}
}

// TestEdgeValuesFromOlderIngestsAreNulled: a dataset ingested before the edge rule
// (catalog.EdgeCheck) may hold numbers beyond sde.MaxMagnitude or dates outside 1800-2200;
// activation sets them NULL, keeping their rows, so no workspace sees them.
func TestEdgeValuesFromOlderIngestsAreNulled(t *testing.T) {
	e := testEnv(t)
	for _, f := range []struct{ name, update string }{
		{"gp_events", "UPDATE gp_events SET value = CASE WHEN code = 'E11' THEN 'inf'::DOUBLE ELSE 1e300 END WHERE value IS NOT NULL"},
		{"patients", "UPDATE patients SET birth_month = DATE '0500-01-01'"},
	} {
		path := e.cat.DataFile(sde.DatasetName(f.name), 1)
		if err := os.Chmod(path, 0o640); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("duckdb", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(f.update); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	_, db := e.activate(t, "alpha", sde.PurposeResearch)
	if n := count(t, db, "SELECT count(*) FROM gp_events WHERE value IS NOT NULL"); n != 0 {
		t.Errorf("%d values beyond the bound reached the workspace", n)
	}
	if n := count(t, db, "SELECT count(*) FROM patients WHERE birth_month IS NOT NULL"); n != 0 {
		t.Errorf("%d dates outside 1800-2200 reached the workspace", n)
	}
	if n := count(t, db, "SELECT count(*) FROM patients"); n == 0 {
		t.Error("the rows holding them were dropped")
	}
}
