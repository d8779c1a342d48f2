// Package activate materialises a workspace's own DuckDB database from the catalogue: approved
// datasets and columns only, opted-out people removed by purpose, person_id re-keyed per workspace.
package activate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/catalog"
	"github.com/opensde/sde/sde/duck"
	"github.com/opensde/sde/sde/progress"
	"github.com/opensde/sde/sde/vdir"
)

// DefaultOptOutDataset is the catalogue name of the national data opt-out register.
const DefaultOptOutDataset sde.DatasetName = "opt_outs"

// personColumn is the stored person column of every dataset with a person identifier.
const personColumn = "person_id"

// rekeyBatch is how many linkage pseudonyms go to the rekeyer at once: large enough to amortise a
// Vault round trip, small enough to keep memory flat and show progress.
var rekeyBatch = 50_000

// Options configures one activation.
type Options struct {
	Catalog *catalog.Catalog
	// Rekeyer derives the workspace's pseudonyms from linkage pseudonyms (local keyring or Vault).
	Rekeyer crypto.Rekeyer
	// RekeyKey names the rekey key for the manifest; empty means the Rekeyer's Key() if it has one.
	RekeyKey  string
	Workspace sde.WorkspaceID
	// Datasets are the approved datasets and, for each, the approved columns (never empty).
	Datasets []sde.DatasetScope
	// Purpose is the agreement's purpose category (sde.PurposeDirectCare, PurposePlanning,
	// PurposeResearch); sde.OptOutApplies decides whether the register is applied.
	Purpose string
	// OptOutDataset is the register's catalogue name; default DefaultOptOutDataset.
	OptOutDataset sde.DatasetName
	// Dir holds the workspace databases (DATA/workspaces).
	Dir string
	// MemoryLimit bounds DuckDB's memory, e.g. "4GB"; default "4GB". Beyond it DuckDB spills to a
	// directory inside the staging area, removed before the version is published.
	MemoryLimit string
	// Threads bounds DuckDB's threads; 0 means all cores.
	Threads int
	// Progress receives human-readable progress lines; nil is silent.
	Progress io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// source is one dataset version read during an activation.
type source struct {
	scope   sde.DatasetScope
	lineage *catalog.Lineage
	alias   string   // the ATTACH alias
	cols    []Column // approved columns, in the dataset's order
	person  bool     // the dataset has a person_id column
	keepPID bool     // person_id is an approved column
}

// Materialise writes a new version of the workspace's database, DIR/<ws>/vNNNNNN/workspace.duckdb
// with manifest.json beside it, and returns the manifest. Each approved dataset's latest catalogue
// version becomes a table named after the dataset holding only the approved columns. person_id
// becomes the workspace pseudonym (Rekeyer), so workspaces cannot link their outputs; linkage
// pseudonyms never reach the workspace file. When sde.OptOutApplies(Purpose), rows of people in
// the opt-out register are removed; the register itself is never copied. Rows without a person_id
// (records that could not be linked, e.g. social care without an NHS number) are kept: with no
// pseudonym there is nothing to match against the register, and the ingest's linkage rate says
// how many there are.
//
// The version appears by one rename of a fully written, synced, read-only (0440) staging
// directory, so a failure or a crash leaves no version behind. Errors are *sde.Error.
func Materialise(ctx context.Context, o Options) (*Manifest, error) {
	start := time.Now()
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if o.OptOutDataset == "" {
		o.OptOutDataset = DefaultOptOutDataset
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = "4GB"
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	p := progress.New(o.Progress, "activate", string(o.Workspace))
	applies := sde.OptOutApplies(o.Purpose)

	srcs, register, linkageKey, err := o.resolve(applies)
	if err != nil {
		return nil, err
	}
	rekeyKey := o.RekeyKey
	if k, ok := o.Rekeyer.(interface{ Key() string }); ok && rekeyKey == "" {
		rekeyKey = k.Key()
	}

	root, err := vdir.Open(o.Dir)
	if err != nil {
		return nil, err
	}
	unlock, err := root.Lock(string(o.Workspace), fmt.Sprintf("Workspace %q is already being activated; try again when that has finished.", o.Workspace))
	if err != nil {
		return nil, err
	}
	defer unlock()
	draft, err := root.Begin(string(o.Workspace))
	if err != nil {
		return nil, err
	}
	defer draft.Discard()
	version, staging := draft.Version, draft.Dir

	m := &Manifest{
		Workspace:  o.Workspace,
		Version:    version,
		CreatedAt:  now().UTC().Truncate(time.Second),
		Purpose:    o.Purpose,
		RekeyKey:   rekeyKey,
		LinkageKey: linkageKey,
		OptOut:     OptOut{Applied: applies},
	}
	if register != nil {
		m.OptOut.Register, m.OptOut.RegisterVersion, m.OptOut.RegisterSHA256 = register.Dataset, register.Version, register.Source.SHA256
	}
	p.Printf("writing version %d from %d datasets (purpose %s, opt-out %s)", version, len(srcs), o.Purpose, map[bool]string{true: "applied", false: "not applied"}[applies])

	s, err := newSession(ctx, filepath.Join(staging, "tmp"), o.MemoryLimit, o.Threads)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			s.close()
		}
	}()
	if err := s.build(ctx, &o, srcs, register, m, p); err != nil {
		return nil, err
	}
	s.close()
	closed = true
	// Spilled work tables held linkage pseudonyms: they must not be published.
	if err := os.RemoveAll(filepath.Join(staging, "tmp")); err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot clean up the staging directory.")
	}
	if err := checkOnly(staging, DatabaseFile); err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "The workspace database was not written completely; nothing was published.")
	}

	m.DurationMS = time.Since(start).Milliseconds()
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := vdir.WriteFileSync(filepath.Join(staging, ManifestFile), append(b, '\n')); err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot write the workspace manifest.")
	}
	if err := ctx.Err(); err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "The activation was cancelled; nothing was published.")
	}
	if err := draft.Publish([]string{DatabaseFile, ManifestFile}); err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot publish the workspace database.")
	}
	p.Printf("version %d is ready: %d rows in %d tables, %d persons; opt-out removed %d persons (%d rows)",
		version, m.Totals.RowsStored, len(m.Datasets), m.Totals.Persons, m.OptOut.PersonsRemoved, m.OptOut.RowsRemoved)
	return m, nil
}

// checkOnly verifies dir holds exactly the named files (no WAL or spill files left over).
func checkOnly(dir string, names ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !slices.Contains(names, e.Name()) {
			return fmt.Errorf("unexpected %s in %s", e.Name(), dir)
		}
	}
	return nil
}

func (o *Options) check() error {
	var missing []string
	for _, f := range []struct {
		name  string
		empty bool
	}{
		{"catalogue", o.Catalog == nil},
		{"rekeyer", o.Rekeyer == nil},
		{"workspace directory", o.Dir == ""},
		{"datasets", len(o.Datasets) == 0},
	} {
		if f.empty {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return sde.Errorf(sde.EINVALID, "Activation is missing: %s.", strings.Join(missing, ", "))
	}
	if err := checkWorkspace(o.Workspace); err != nil {
		return err
	}
	switch o.Purpose {
	case sde.PurposeDirectCare, sde.PurposePlanning, sde.PurposeResearch:
	default:
		// Unknown categories would fall under the opt-out anyway (OptOutApplies), but an
		// unrecognised purpose is a governance error worth stopping for.
		return sde.Errorf(sde.EINVALID, "Unknown purpose category %q; use %s, %s or %s.", o.Purpose,
			sde.PurposeDirectCare, sde.PurposePlanning, sde.PurposeResearch)
	}
	seen := map[sde.DatasetName]bool{}
	for _, sc := range o.Datasets {
		switch {
		case seen[sc.Dataset]:
			return sde.Errorf(sde.EINVALID, "Dataset %q is listed twice.", sc.Dataset)
		case sc.Dataset == o.OptOutDataset:
			return sde.Errorf(sde.EINVALID, "The opt-out register %q is applied at activation and never copied into a workspace.", sc.Dataset)
		case len(sc.Columns) == 0:
			return sde.Errorf(sde.EINVALID, "Dataset %q has no approved columns.", sc.Dataset)
		}
		seen[sc.Dataset] = true
	}
	return nil
}

// resolve finds the latest version of every approved dataset (and of the register when the
// opt-out applies) and checks the approved columns exist and that all linkage pseudonyms share
// one key; otherwise joins, and the opt-out, would silently match nobody.
func (o *Options) resolve(applies bool) (srcs []*source, register *catalog.Lineage, key string, _ error) {
	keyOf := map[string]sde.DatasetName{}
	for i, sc := range o.Datasets {
		l, err := o.Catalog.Latest(sc.Dataset)
		if sde.ErrorCode(err) == sde.ENOTFOUND {
			return nil, nil, "", sde.Wrap(err, sde.ENOTFOUND, "Dataset %q has no ingested version; ingest it before activating the workspace.", sc.Dataset)
		} else if err != nil {
			return nil, nil, "", err
		}
		src := &source{scope: sc, lineage: l, alias: fmt.Sprintf("src%d", i)}
		have := map[string]string{}
		for _, c := range l.Columns {
			have[c.Name] = c.Type
		}
		_, src.person = have[personColumn]
		if src.person && l.Key == "" {
			return nil, nil, "", sde.Errorf(sde.EINTERNAL, "Dataset %q has person ids but no recorded pseudonym key.", sc.Dataset)
		}
		for _, c := range sc.Columns {
			if _, ok := have[c]; !ok {
				return nil, nil, "", sde.Errorf(sde.EINVALID, "Dataset %q (version %d) has no column %q.", sc.Dataset, l.Version, c)
			}
		}
		for _, c := range l.Columns { // the dataset's order, not the request's
			if slices.Contains(sc.Columns, c.Name) {
				src.cols = append(src.cols, Column{Name: c.Name, Type: c.Type})
			}
		}
		src.keepPID = slices.Contains(sc.Columns, personColumn)
		if src.person {
			keyOf[l.Key] = sc.Dataset
			key = l.Key
		}
		srcs = append(srcs, src)
	}
	if applies {
		l, err := o.Catalog.Latest(o.OptOutDataset)
		if sde.ErrorCode(err) == sde.ENOTFOUND {
			return nil, nil, "", sde.Wrap(err, sde.ENOTFOUND, "The opt-out register %q has no ingested version, and a %s workspace cannot be activated without it.", o.OptOutDataset, o.Purpose)
		} else if err != nil {
			return nil, nil, "", err
		}
		if !slices.ContainsFunc(l.Columns, func(c catalog.StoredColumn) bool { return c.Name == personColumn }) || l.Key == "" {
			return nil, nil, "", sde.Errorf(sde.EINVALID, "The opt-out register %q has no person column.", o.OptOutDataset)
		}
		register = l
		if len(keyOf) > 0 {
			keyOf[l.Key] = o.OptOutDataset
		}
	}
	if len(keyOf) > 1 {
		var names []string
		for _, d := range keyOf {
			names = append(names, string(d))
		}
		slices.Sort(names)
		return nil, nil, "", sde.Errorf(sde.ECONFLICT, "Datasets %s were pseudonymised with different keys, so their people cannot be linked; re-ingest them under one key.", strings.Join(names, ", "))
	}
	return srcs, register, key, nil
}

// session is one in-memory DuckDB instance for a single activation. Work tables (the opt-out
// set, the pseudonym map) live in its memory database, never in the workspace file; the
// workspace file is attached as "out" and receives only the finished tables.
type session struct {
	d     *duck.Session
	conn  *sql.Conn
	dbDir string
}

func newSession(ctx context.Context, tmpDir, memoryLimit string, threads int) (*session, error) {
	if !duck.ValidMemoryLimit(memoryLimit) {
		return nil, sde.Errorf(sde.EINVALID, "Invalid memory limit %q; use a size such as 4GB.", memoryLimit)
	}
	d, err := duck.Open(ctx, duck.Options{MemoryLimit: memoryLimit, TempDir: tmpDir, Threads: threads})
	if err != nil {
		return nil, fail(err, "start the activation engine")
	}
	return &session{d: d, conn: d.Conn, dbDir: filepath.Dir(tmpDir)}, nil
}

func (s *session) close() { s.d.Close() }

// fail turns a DuckDB (or rekeyer) error into a user-safe one. DuckDB messages carry paths, so
// they are only ever logged as the cause.
func fail(err error, what string) error {
	var se *sde.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "INTERRUPT") {
		return sde.Wrap(err, sde.EUNAVAILABLE, "The activation was cancelled; nothing was published.")
	}
	if strings.Contains(err.Error(), "Out of Memory") {
		return sde.Wrap(err, sde.ETOOLARGE, "The workspace is too large to build within the memory limit; nothing was published.")
	}
	return sde.Wrap(err, sde.EINTERNAL, "The activation failed while trying to %s; nothing was published.", what)
}

func (s *session) exec(ctx context.Context, what, q string, args ...any) error {
	if _, err := s.conn.ExecContext(ctx, q, args...); err != nil {
		return fail(err, what)
	}
	return nil
}

// build attaches the sources and the output file and writes every table, filling m.
func (s *session) build(ctx context.Context, o *Options, srcs []*source, register *catalog.Lineage, m *Manifest, p *progress.Printer) error {
	for _, src := range srcs {
		file := o.Catalog.DataFile(src.lineage.Dataset, src.lineage.Version)
		if err := s.exec(ctx, "open a dataset", "ATTACH "+duck.String(file)+" AS "+src.alias+" (READ_ONLY)"); err != nil {
			return err
		}
	}
	// The opt-out set; empty when the purpose is exempt, so the SQL below is the same either way.
	if err := s.exec(ctx, "prepare the opt-out", "CREATE TABLE optout (person_id VARCHAR PRIMARY KEY)"); err != nil {
		return err
	}
	if register != nil {
		file := o.Catalog.DataFile(register.Dataset, register.Version)
		if err := s.exec(ctx, "open the opt-out register", "ATTACH "+duck.String(file)+" AS reg (READ_ONLY)"); err != nil {
			return err
		}
		q := "INSERT INTO optout SELECT DISTINCT person_id FROM reg." + duck.Ident(string(register.Dataset)) + " WHERE person_id IS NOT NULL"
		if err := s.exec(ctx, "read the opt-out register", q); err != nil {
			return err
		}
		if err := s.exec(ctx, "close the opt-out register", "DETACH reg"); err != nil {
			return err
		}
	}

	// Every person of the approved datasets, once.
	var union []string
	for _, src := range srcs {
		if src.person {
			union = append(union, "SELECT person_id FROM "+src.alias+"."+duck.Ident(string(src.lineage.Dataset)))
		}
	}
	if err := s.exec(ctx, "prepare the pseudonym map", "CREATE TABLE pmap (linkage VARCHAR, wpid VARCHAR)"); err != nil {
		return err
	}
	if len(union) > 0 {
		q := "CREATE TABLE persons AS SELECT DISTINCT person_id FROM (" + strings.Join(union, " UNION ALL ") + ") WHERE person_id IS NOT NULL"
		if err := s.exec(ctx, "collect persons", q); err != nil {
			return err
		}
		q = "SELECT count(*) FILTER (WHERE o.person_id IS NULL), count(o.person_id) FROM persons p LEFT JOIN optout o ON o.person_id = p.person_id"
		if err := s.conn.QueryRowContext(ctx, q).Scan(&m.Totals.Persons, &m.OptOut.PersonsRemoved); err != nil {
			return fail(err, "count persons")
		}
		if slices.ContainsFunc(srcs, func(s *source) bool { return s.keepPID }) {
			if err := s.rekey(ctx, o, m.Totals.Persons, p); err != nil {
				return err
			}
		}
	}

	if err := s.exec(ctx, "create the workspace database", "ATTACH "+duck.String(filepath.Join(s.dbDir, DatabaseFile))+" AS out"); err != nil {
		return err
	}
	for _, src := range srcs {
		t0 := time.Now()
		dm, err := s.copy(ctx, src)
		if err != nil {
			return err
		}
		p.Printf("%s: %d rows in, %d removed by opt-out, %d stored, %d persons (%s)", dm.Table, dm.Rows.In, dm.Rows.RemovedOptOut, dm.Rows.Stored, dm.Persons, time.Since(t0).Round(time.Millisecond))
		m.Datasets = append(m.Datasets, *dm)
		m.Totals.RowsIn += dm.Rows.In
		m.Totals.RowsRemoved += dm.Rows.RemovedOptOut
		m.Totals.RowsStored += dm.Rows.Stored
		m.OptOut.RowsRemoved += dm.Rows.RemovedOptOut
	}
	if err := s.exec(ctx, "write the workspace database", "CHECKPOINT out"); err != nil {
		return err
	}
	return s.exec(ctx, "close the workspace database", "DETACH out")
}

// rekey fills pmap with the workspace pseudonym of every person not opted out, in batches. The
// persons are read on one connection while the map is appended on another, so memory holds one
// batch at a time.
func (s *session) rekey(ctx context.Context, o *Options, total int64, p *progress.Printer) error {
	p.Printf("deriving workspace pseudonyms for %d persons", total)
	t0 := time.Now()
	rows, err := s.conn.QueryContext(ctx, "SELECT person_id FROM persons WHERE person_id NOT IN (SELECT person_id FROM optout)")
	if err != nil {
		return fail(err, "read persons")
	}
	defer rows.Close()
	ac, err := s.d.NewConn(ctx)
	if err != nil {
		return fail(err, "store workspace pseudonyms")
	}
	defer ac.Close()
	var done int64
	batch := make([]sde.Pseudonym, 0, rekeyBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := o.Rekeyer.Rekey(ctx, o.Workspace, batch)
		if err != nil {
			return fail(err, "derive workspace pseudonyms")
		}
		if len(out) != len(batch) {
			return sde.Errorf(sde.EINTERNAL, "The rekeyer returned the wrong number of pseudonyms; nothing was published.")
		}
		for i := range out {
			// A rekeyer that hands back its input (or garbage) would put linkage pseudonyms,
			// or unusable ids, into the workspace: refuse rather than publish.
			if out[i] == batch[i] || !crypto.ValidPseudonym(out[i]) {
				return sde.Errorf(sde.EINTERNAL, "The rekeyer returned an invalid workspace pseudonym; nothing was published.")
			}
		}
		err = ac.Raw(func(dc any) error {
			app, err := duckdb.NewAppender(dc.(driver.Conn), "", "main", "pmap")
			if err != nil {
				return err
			}
			for i := range out {
				if err := app.AppendRow(string(batch[i]), string(out[i])); err != nil {
					app.Close()
					return err
				}
			}
			return app.Close()
		})
		if err != nil {
			return fail(err, "store workspace pseudonyms")
		}
		done += int64(len(batch))
		p.Percent("derived", done, total)
		batch = batch[:0]
		return nil
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fail(err, "read persons")
		}
		batch = append(batch, sde.Pseudonym(id))
		if len(batch) == rekeyBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err, "read persons")
	}
	rows.Close()
	if err := flush(); err != nil {
		return err
	}
	// Two people sharing a workspace id would merge them; with 128-bit pseudonyms this means a
	// broken rekeyer, not bad luck.
	var n, distinct int64
	if err := s.conn.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT wpid) FROM pmap").Scan(&n, &distinct); err != nil {
		return fail(err, "check workspace pseudonyms")
	}
	if n != total || distinct != total {
		return sde.Errorf(sde.EINTERNAL, "Workspace pseudonyms are incomplete or not distinct; nothing was published.")
	}
	p.Printf("derived %d workspace pseudonyms in %s", total, time.Since(t0).Round(time.Millisecond))
	return nil
}

// copy writes one approved dataset into the workspace file and counts what happened to its rows.
func (s *session) copy(ctx context.Context, src *source) (*DatasetManifest, error) {
	l := src.lineage
	table := string(l.Dataset)
	from := src.alias + "." + duck.Ident(table) + " AS d"
	dm := &DatasetManifest{
		Dataset: l.Dataset, Table: table, SourceVersion: l.Version,
		SourceSHA256: l.Source.SHA256, SpecSHA256: l.SpecSHA256, LinkageKey: l.Key,
		Columns: src.cols,
	}
	if !src.person {
		if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+from).Scan(&dm.Rows.In); err != nil {
			return nil, fail(err, "count rows")
		}
		dm.Rows.Unlinked = dm.Rows.In
	} else {
		q := "SELECT count(*), count(*) FILTER (WHERE d.person_id IS NULL), count(o.person_id), count(DISTINCT d.person_id) FILTER (WHERE o.person_id IS NULL) FROM " +
			from + " LEFT JOIN optout o ON o.person_id = d.person_id"
		if err := s.conn.QueryRowContext(ctx, q).Scan(&dm.Rows.In, &dm.Rows.Unlinked, &dm.Rows.RemovedOptOut, &dm.Persons); err != nil {
			return nil, fail(err, "count rows")
		}
	}

	var proj []string
	for _, c := range src.cols {
		if c.Name == personColumn {
			proj = append(proj, "m.wpid AS person_id")
		} else if edge := catalog.EdgeCheck(c.Type, "d."+duck.Ident(c.Name)); edge != "" {
			// A dataset ingested before the edge rule may still hold such values.
			proj = append(proj, "CASE WHEN "+edge+" THEN d."+duck.Ident(c.Name)+" END AS "+duck.Ident(c.Name))
		} else {
			proj = append(proj, "d."+duck.Ident(c.Name))
		}
	}
	q := "CREATE TABLE out." + duck.Ident(table) + " AS SELECT " + strings.Join(proj, ", ") + " FROM " + from
	if src.keepPID {
		q += " LEFT JOIN pmap m ON m.linkage = d.person_id"
	}
	if src.person {
		// Explicitly by the register, not implicitly by a missing map entry, so a gap in the
		// map shows up in the checks below instead of silently dropping people.
		q += " WHERE d.person_id IS NULL OR d.person_id NOT IN (SELECT person_id FROM optout)"
	}
	if err := s.exec(ctx, "write table "+table, q); err != nil {
		return nil, err
	}
	dm.Rows.Stored = dm.Rows.In - dm.Rows.RemovedOptOut
	var stored, linked int64
	pidExpr := "0"
	if src.keepPID {
		pidExpr = "count(person_id)"
	}
	if err := s.conn.QueryRowContext(ctx, "SELECT count(*), "+pidExpr+" FROM out."+duck.Ident(table)).Scan(&stored, &linked); err != nil {
		return nil, fail(err, "count stored rows")
	}
	if stored != dm.Rows.Stored || (src.keepPID && linked != stored-dm.Rows.Unlinked) {
		return nil, sde.Errorf(sde.EINTERNAL, "Row counts of %q do not add up; nothing was published.", table)
	}
	if !src.person {
		unique, err := s.unique(ctx, table, src.cols)
		if err != nil {
			return nil, err
		}
		dm.Unique = unique
	}
	return dm, nil
}

// unique lists the columns of a stored lookup table whose non-NULL values are all different.
func (s *session) unique(ctx context.Context, table string, cols []Column) ([]string, error) {
	if len(cols) == 0 {
		return nil, nil
	}
	var exprs []string
	for _, c := range cols {
		exprs = append(exprs, "count("+duck.Ident(c.Name)+") = count(DISTINCT "+duck.Ident(c.Name)+")")
	}
	flags := make([]bool, len(cols))
	dest := make([]any, len(cols))
	for i := range flags {
		dest[i] = &flags[i]
	}
	if err := s.conn.QueryRowContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM out."+duck.Ident(table)).Scan(dest...); err != nil {
		return nil, fail(err, "find unique columns")
	}
	var out []string
	for i, c := range cols {
		if flags[i] {
			out = append(out, c.Name)
		}
	}
	return out, nil
}
