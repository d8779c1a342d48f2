package catalog

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/duck"
	"github.com/opensde/sde/sde/progress"
	"github.com/opensde/sde/sde/sqlrows"
	"github.com/opensde/sde/sde/vdir"
)

// IngestOptions configures one ingest.
type IngestOptions struct {
	Spec *Spec
	// Path is the source file: CSV (with a header row), Parquet, or Arrow IPC (file or stream).
	Path string
	// Format is "csv", "parquet" or "arrow"; empty means "from the file name's extension".
	Format string
	// SourceName is the name recorded in lineage and used in messages; default Path's base name.
	// Uploads set it, since their Path is a memory file.
	SourceName string
	// Pseudonymiser turns NHS numbers into linkage pseudonyms; required when the spec has a person column.
	Pseudonymiser crypto.Pseudonymiser
	// ReferenceDate is the date age bands are computed at; zero means today.
	ReferenceDate time.Time
	// MemoryLimit bounds the ingest's memory, e.g. "4GB". Raw identifiers are never spilled to
	// disk, so a source too large for this limit is refused rather than half-ingested.
	MemoryLimit string
	// Threads bounds DuckDB's threads; 0 means all cores.
	Threads int
	// Progress receives human-readable progress lines; nil is silent.
	Progress io.Writer
	// CreatedBy names who ran the ingest, for lineage.
	CreatedBy string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Report is what an ingest tells the person who ran it.
type Report struct {
	Lineage
	// Quarantined lists the first quarantined rows (row number in the source, 1 = first data
	// row, and reasons). Values are never echoed: they may be identifiers.
	Quarantined []QuarantinedRow `json:"quarantined_sample,omitempty"`
}

// QuarantinedRow is one rejected source row.
type QuarantinedRow struct {
	Row     int64  `json:"row"`
	Reasons string `json:"reasons"`
}

const quarantineSample = 100

// pseudonymBatch is how many identifiers go to the pseudonymiser at once; small enough to show
// progress, large enough to amortise a Vault round trip.
const pseudonymBatch = 50_000

// Ingest validates a source file against its spec, pseudonymises person identifiers, drops
// direct identifiers, generalises quasi-identifiers and stores the result as a new immutable
// version. Raw identifiers live only in memory: the ingest's DuckDB instance has no temporary
// directory, so nothing it holds can spill to disk.
func (c *Catalog) Ingest(ctx context.Context, o IngestOptions) (*Report, error) {
	start := time.Now()
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	spec := o.Spec
	if spec == nil {
		return nil, sde.Errorf(sde.EINVALID, "A dataset spec is required.")
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Person.Column != "" && o.Pseudonymiser == nil {
		return nil, sde.Errorf(sde.EINVALID, "Dataset %q has a person column but no pseudonymiser is configured.", spec.Name)
	}
	srcName := o.SourceName
	if srcName == "" {
		srcName = filepath.Base(o.Path)
	}
	format, err := sourceFormat(srcName, o.Format)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(o.Path)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINVALID, "Cannot read the source file %q.", srcName)
	}
	if st.IsDir() {
		return nil, sde.Errorf(sde.EINVALID, "The source %q is a directory, not a file.", srcName)
	}
	if st.Size() == 0 {
		return nil, sde.Errorf(sde.EINVALID, "The source file %q is empty.", srcName)
	}
	ref := o.ReferenceDate
	if ref.IsZero() {
		ref = now()
	}
	ref = time.Date(ref.Year(), ref.Month(), ref.Day(), 0, 0, 0, 0, time.UTC)
	p := progress.New(o.Progress, "ingest", string(spec.Name))

	unlock, err := c.lockDataset(spec.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if spec.Person.Column != "" {
		if err := c.checkKey(o.Pseudonymiser.Key()); err != nil {
			return nil, err
		}
	}

	// Hash the input while DuckDB reads it: the OS cache makes the second read nearly free.
	hashc := make(chan hashResult, 1)
	go func() { hashc <- hashFile(o.Path) }()

	s, err := newSession(ctx, o.MemoryLimit, o.Threads)
	if err != nil {
		return nil, err
	}
	defer s.close()

	p.Printf("reading %s (%s, %s)", srcName, format, progress.Bytes(st.Size()))
	t0 := time.Now()
	if err := p.During("reading", func() error { return s.load(ctx, spec, o.Path, srcName, format) }); err != nil {
		return nil, err
	}
	var rowsIn int64
	if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM src").Scan(&rowsIn); err != nil {
		return nil, s.fail(err, "count source rows")
	}
	if rowsIn == 0 {
		return nil, sde.Errorf(sde.EINVALID, "The source file %q has a header but no rows.", srcName)
	}
	p.Printf("read %d rows in %s", rowsIn, time.Since(t0).Round(time.Millisecond))

	var key string
	if spec.Person.Column != "" {
		key = o.Pseudonymiser.Key()
		if err = s.pseudonymise(ctx, spec, o.Pseudonymiser, p); err != nil {
			return nil, err
		}
	}

	h := <-hashc
	if h.err != nil {
		return nil, sde.Wrap(h.err, sde.EINVALID, "Cannot read the source file %q.", srcName)
	}

	draft, err := c.root.Begin(string(spec.Name))
	if err != nil {
		return nil, err
	}
	defer draft.Discard()
	version, staging := draft.Version, draft.Dir

	p.Printf("validating, generalising and writing version %d", version)
	t0 = time.Now()
	var (
		counts  RowCounts
		persons int64
		reasons []ReasonCount
		sample  []QuarantinedRow
		cols    []StoredColumn
	)
	err = p.During("writing", func() (err error) {
		counts, persons, reasons, sample, cols, err = s.write(ctx, spec, ref, filepath.Join(staging, "data.duckdb"))
		return err
	})
	if err != nil {
		return nil, err
	}
	p.Printf("wrote %d rows, quarantined %d, in %s", counts.OK, counts.Quarantined, time.Since(t0).Round(time.Millisecond))
	if counts.OK+counts.Quarantined != rowsIn {
		return nil, sde.Errorf(sde.EINTERNAL, "Row counts do not add up; the ingest was abandoned.")
	}
	counts.In = rowsIn

	specJSON, _ := json.MarshalIndent(spec, "", "  ")
	specSum := sha256.Sum256(specJSON)
	l := Lineage{
		Dataset:     spec.Name,
		Version:     version,
		Title:       spec.Title,
		Controller:  spec.Controller,
		CreatedAt:   now().UTC().Truncate(time.Second),
		CreatedBy:   o.CreatedBy,
		Source:      SourceInfo{Name: srcName, Format: format, Bytes: h.n, SHA256: h.sum},
		SpecSHA256:  hex.EncodeToString(specSum[:]),
		Key:         key,
		ReferenceAt: ref.Format("2006-01-02"),
		Rows:        counts,
		Persons:     persons,
		Reasons:     reasons,
		Columns:     cols,
	}
	if spec.Person.Column != "" && counts.OK > 0 {
		l.LinkageRate = float64(counts.Linked) / float64(counts.OK)
	}
	l.DurationMS = time.Since(start).Milliseconds()
	lineageJSON, _ := json.MarshalIndent(l, "", "  ")
	if err := s.writeLineage(ctx, filepath.Join(staging, "data.duckdb"), lineageJSON); err != nil {
		return nil, err
	}
	for name, b := range map[string][]byte{"spec.json": specJSON, "lineage.json": lineageJSON} {
		if err := vdir.WriteFileSync(filepath.Join(staging, name), b); err != nil {
			return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot write the dataset version.")
		}
	}
	if err := draft.Publish([]string{"data.duckdb", "spec.json", "lineage.json"}); err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot publish the dataset version.")
	}
	p.Printf("version %d of %s is ready: %d rows, %d quarantined, linkage %.1f%%", version, spec.Name, counts.OK, counts.Quarantined, 100*l.LinkageRate)
	return &Report{Lineage: l, Quarantined: sample}, nil
}

// checkKey refuses a pseudonymisation key (or key version) other than the one existing datasets
// used: their pseudonyms would no longer link. Changing the key is a re-ingest of everything.
func (c *Catalog) checkKey(key string) error {
	ds, err := c.Datasets()
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.Key != "" && d.Key != key {
			return sde.Errorf(sde.ECONFLICT, "The pseudonymisation key %s differs from %s used by dataset %q, so pseudonyms would not link; pin the key version the existing datasets use.", key, d.Key, d.Dataset)
		}
	}
	return nil
}

func sourceFormat(path, format string) (string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv", ".txt":
			format = "csv"
		case ".parquet", ".pq":
			format = "parquet"
		case ".arrow", ".arrows", ".ipc", ".feather":
			format = "arrow"
		default:
			return "", sde.Errorf(sde.EINVALID, "Cannot tell the format of %q from its name; say --format csv, parquet or arrow.", filepath.Base(path))
		}
	}
	switch format {
	case "csv", "parquet", "arrow":
		return format, nil
	}
	return "", sde.Errorf(sde.EINVALID, "Unknown source format %q; use csv, parquet or arrow.", format)
}

// session is one in-memory DuckDB instance used for a single ingest and then discarded. It has
// no temporary directory: raw identifiers must never spill to disk.
type session struct {
	d    *duck.Session
	conn *sql.Conn
}

func newSession(ctx context.Context, memoryLimit string, threads int) (*session, error) {
	if memoryLimit == "" {
		memoryLimit = "8GB"
	}
	if !duck.ValidMemoryLimit(memoryLimit) {
		return nil, sde.Errorf(sde.EINVALID, "Invalid memory limit %q; use a size such as 4GB.", memoryLimit)
	}
	// Insertion order is kept while the source is read, so src.rowid is the source row number.
	d, err := duck.Open(ctx, duck.Options{MemoryLimit: memoryLimit, Threads: threads, PreserveOrder: true})
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot start the ingest engine.")
	}
	return &session{d: d, conn: d.Conn}, nil
}

func (s *session) close() { s.d.Close() }

var oomRe = regexp.MustCompile(`Out of Memory`)

// fail turns a DuckDB error into a user-safe one. DuckDB messages can carry paths and raw rows,
// so they are only ever logged as the cause.
func (s *session) fail(err error, what string) error {
	var se *sde.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "INTERRUPT") {
		return sde.Wrap(err, sde.EUNAVAILABLE, "The ingest was cancelled; nothing was stored.")
	}
	if oomRe.MatchString(err.Error()) {
		return sde.Wrap(err, sde.ETOOLARGE, "The source is too large to ingest within the memory limit; raise the limit or split the file. Nothing was stored.")
	}
	return sde.Wrap(scrub(err), sde.EINTERNAL, "The ingest failed while trying to %s; nothing was stored.", what)
}

// load reads the source into the in-memory table src, every column as text, in file order.
func (s *session) load(ctx context.Context, spec *Spec, path, name, format string) error {
	switch format {
	case "csv":
		header, err := readCSVHeader(path, name)
		if err != nil {
			return err
		}
		if err := checkColumns(spec, header); err != nil {
			return err
		}
		var cols []string
		for _, h := range header {
			cols = append(cols, duck.String(h)+": 'VARCHAR'")
		}
		q := "CREATE TEMP TABLE src AS SELECT * FROM read_csv(?, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', strict_mode = true, columns = {" + strings.Join(cols, ", ") + "})"
		if _, err := s.conn.ExecContext(ctx, q, path); err != nil {
			return csvError(err, s)
		}
	case "parquet":
		if _, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE src AS SELECT * FROM read_parquet(?)", path); err != nil {
			if oomRe.MatchString(err.Error()) {
				return s.fail(err, "read the source")
			}
			return sde.Wrap(scrub(err), sde.EINVALID, "The Parquet file %q cannot be read: it is damaged, truncated or not Parquet.", name)
		}
	case "arrow":
		if err := s.loadArrow(ctx, path, name); err != nil {
			return err
		}
	}
	if format != "csv" {
		names, err := sqlrows.Strings(ctx, s.conn, "SELECT column_name FROM (DESCRIBE src)")
		if err != nil {
			return s.fail(err, "describe the source")
		}
		if err := checkColumns(spec, names); err != nil {
			return err
		}
	}
	return nil
}

var csvLineRe = regexp.MustCompile(`CSV Error on Line: (\d+)`)

// scrub keeps only the kind of a DuckDB or parser error ("Invalid Input Error", with the line
// number if there is one) for the log: DuckDB quotes the offending row, and a source row holds
// raw identifiers that must reach neither disk nor logs.
func scrub(err error) error {
	msg := err.Error()
	kind, _, _ := strings.Cut(msg, ":")
	if len(kind) > 60 || strings.ContainsAny(kind, "0123456789'\"") {
		kind = "error"
	}
	if m := csvLineRe.FindStringSubmatch(msg); m != nil {
		kind += " at line " + m[1]
	}
	return errors.New("ingest: " + kind + " (details withheld: they may quote source data)")
}

// csvError explains a structural CSV error by line number and kind, never by content.
func csvError(err error, s *session) error {
	msg := err.Error()
	if oomRe.MatchString(msg) {
		return s.fail(err, "read the source")
	}
	line := ""
	if m := csvLineRe.FindStringSubmatch(msg); m != nil {
		line = " at line " + m[1]
	}
	switch {
	case strings.Contains(msg, "unterminated quote"):
		return sde.Wrap(scrub(err), sde.EINVALID, "The CSV file is malformed%s: a quoted value is never closed (a stray quote?). Nothing was stored.", line)
	case strings.Contains(msg, "Expected Number of Columns"):
		return sde.Wrap(scrub(err), sde.EINVALID, "The CSV file is malformed%s: the row has a different number of fields from the header. Nothing was stored.", line)
	case strings.Contains(msg, "Invalid unicode") || strings.Contains(msg, "UTF-8"):
		return sde.Wrap(scrub(err), sde.EINVALID, "The CSV file is not valid UTF-8%s. Nothing was stored.", line)
	}
	return sde.Wrap(scrub(err), sde.EINVALID, "The CSV file cannot be parsed%s. Nothing was stored.", line)
}

// readCSVHeader returns the header row's column names.
func readCSVHeader(path, name string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINVALID, "Cannot read the source file %q.", name)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if b, _ := br.Peek(3); string(b) == "\ufeff" {
		br.Discard(3)
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return nil, sde.Errorf(sde.EINVALID, "The source file %q is empty.", name)
	} else if err != nil {
		return nil, sde.Wrap(scrub(err), sde.EINVALID, "The header row of %q cannot be parsed.", name)
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	return header, nil
}

// checkColumns compares the source's columns with the spec's, naming every difference.
func checkColumns(spec *Spec, got []string) error {
	want := map[string]bool{}
	for _, c := range spec.Columns {
		want[c.Name] = true
	}
	seen := map[string]bool{}
	var extra, dup, missing []string
	for _, g := range got {
		if seen[g] {
			dup = append(dup, g)
		}
		seen[g] = true
		if !want[g] {
			extra = append(extra, g)
		}
	}
	for _, c := range spec.Columns {
		if !seen[c.Name] {
			missing = append(missing, c.Name)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+quoteList(missing))
	}
	// Only names that look like column names are echoed: without a header row, the "names" are
	// the first data row, raw identifiers included.
	var named []string
	unnamed := 0
	for _, x := range extra {
		if identRe.MatchString(x) {
			named = append(named, x)
		} else {
			unnamed++
		}
	}
	if len(named) > 0 {
		parts = append(parts, "not in the spec "+quoteList(named))
	}
	if unnamed > 0 {
		parts = append(parts, fmt.Sprintf("%d columns whose names are not column names (is the header row missing?)", unnamed))
	}
	if len(dup) > 0 && len(dup) == len(slices.DeleteFunc(slices.Clone(dup), func(d string) bool { return !identRe.MatchString(d) })) {
		parts = append(parts, "repeated "+quoteList(dup))
	} else if len(dup) > 0 {
		parts = append(parts, "repeated column names")
	}
	if len(parts) > 0 {
		return sde.Errorf(sde.EINVALID, "The source's columns do not match the spec for %q: %s. Nothing was stored.", spec.Name, strings.Join(parts, "; "))
	}
	return nil
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		if len(x) > 64 {
			x = x[:64] + "…"
		}
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// pseudonymise maps each distinct, valid NHS number to its pseudonym in the in-memory table
// idmap. Invalid numbers are left out, so their rows are quarantined later.
func (s *session) pseudonymise(ctx context.Context, spec *Spec, ps crypto.Pseudonymiser, p *progress.Printer) error {
	col := duck.Ident(spec.Person.Column)
	rows, err := s.conn.QueryContext(ctx, "SELECT DISTINCT "+col+" FROM src WHERE "+col+" <> ''")
	if err != nil {
		return s.fail(err, "collect person identifiers")
	}
	// The join later uses the raw text, so spacing variants ("943 476 5919") map to the same
	// person; each distinct normalised number is pseudonymised once.
	var raw []string
	index := map[string]int{} // normalised number -> position in ids
	var ids []string
	var rawIdx []int
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			rows.Close()
			return s.fail(err, "collect person identifiers")
		}
		n := normaliseNHS(r)
		if !crypto.ValidNHSNumber(n) {
			continue
		}
		i, ok := index[n]
		if !ok {
			i = len(ids)
			index[n] = i
			ids = append(ids, n)
		}
		raw = append(raw, r)
		rawIdx = append(rawIdx, i)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.fail(err, "collect person identifiers")
	}
	if _, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE idmap (id VARCHAR, person_id VARCHAR)"); err != nil {
		return s.fail(err, "prepare pseudonymisation")
	}
	p.Printf("pseudonymising %d distinct identifiers with key %s", len(ids), ps.Key())
	t0 := time.Now()
	pseudonyms := make([]sde.Pseudonym, 0, len(ids))
	for i := 0; i < len(ids); i += pseudonymBatch {
		batch := ids[i:min(i+pseudonymBatch, len(ids))]
		out, err := ps.Pseudonymise(ctx, batch)
		if err != nil {
			return s.fail(err, "pseudonymise identifiers")
		}
		if len(out) != len(batch) {
			return sde.Errorf(sde.EINTERNAL, "The pseudonymiser returned the wrong number of pseudonyms.")
		}
		pseudonyms = append(pseudonyms, out...)
		p.Percent("pseudonymised", int64(i+len(batch)), int64(len(ids)))
	}
	err = s.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", "idmap")
		if err != nil {
			return err
		}
		for j, r := range raw {
			if err := app.AppendRow(r, string(pseudonyms[rawIdx[j]])); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	})
	if err != nil {
		return s.fail(err, "store pseudonyms")
	}
	p.Printf("pseudonymised %d identifiers in %s", len(ids), time.Since(t0).Round(time.Millisecond))
	return nil
}

// normaliseNHS removes the spaces people write NHS numbers with ("943 476 5919").
func normaliseNHS(s string) string {
	if strings.IndexByte(s, ' ') < 0 {
		return s
	}
	return strings.ReplaceAll(s, " ", "")
}

// write validates every row, writes the good ones (pseudonymised and generalised) and the
// quarantine list (row numbers and reasons, never values) to a new DuckDB file.
func (s *session) write(ctx context.Context, spec *Spec, ref time.Time, file string) (counts RowCounts, persons int64, _ []ReasonCount, _ []QuarantinedRow, _ []StoredColumn, _ error) {
	exprs, reasons, cols := buildProjection(spec, ref)
	join := ""
	if spec.Person.Column != "" {
		join = " LEFT JOIN idmap ON idmap.id = src." + duck.Ident(spec.Person.Column)
	}
	reasonExpr := "concat_ws('; ', " + strings.Join(reasons, ", ") + ")"
	if _, err := s.conn.ExecContext(ctx, "ATTACH "+duck.String(file)+" AS out"); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "create the dataset file")
	}
	detached := false
	defer func() {
		if !detached {
			s.conn.ExecContext(context.Background(), "DETACH out")
		}
	}()
	// One pass computes every stored value and every row's reasons; the join and the casts run
	// once. The raw source is dropped as soon as it has been read, to halve peak memory.
	var names []string
	for _, c := range cols {
		names = append(names, duck.Ident(c.Name))
	}
	// From here on row order is carried in _row, so DuckDB may reorder for parallelism.
	if _, err := s.conn.ExecContext(ctx, "SET preserve_insertion_order = false"); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "configure the ingest")
	}
	q := "CREATE TEMP TABLE checked AS SELECT src.rowid + 1 AS _row, " + strings.Join(exprs, ", ") + ", " + reasonExpr + " AS _reasons FROM src" + join
	if _, err := s.conn.ExecContext(ctx, q); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "validate rows")
	}
	if _, err := s.conn.ExecContext(ctx, "DROP TABLE src"); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "free the source")
	}
	q = "CREATE TABLE out._quarantine AS SELECT _row AS row_number, _reasons AS reasons FROM checked WHERE _reasons <> '' ORDER BY _row"
	if _, err := s.conn.ExecContext(ctx, q); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "write the quarantine")
	}
	q = "CREATE TABLE out." + duck.Ident(string(spec.Name)) + " AS SELECT " + strings.Join(names, ", ") + " FROM checked WHERE _reasons = ''"
	if _, err := s.conn.ExecContext(ctx, q); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "write the dataset")
	}
	linked := "0, 0"
	if spec.Person.Column != "" {
		linked = "count(person_id) FILTER (WHERE _reasons = ''), count(DISTINCT person_id) FILTER (WHERE _reasons = '')"
	}
	q = "SELECT count(*) FILTER (WHERE _reasons = ''), count(*) FILTER (WHERE _reasons <> ''), " + linked + " FROM checked"
	if err := s.conn.QueryRowContext(ctx, q).Scan(&counts.OK, &counts.Quarantined, &counts.Linked, &persons); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "count rows")
	}
	// Reasons are "column: problem" joined by "; "; count each separately.
	var rc []ReasonCount
	if err := sqlrows.Each(ctx, s.conn, func(rows *sql.Rows) error {
		var r ReasonCount
		err := rows.Scan(&r.Reason, &r.Rows)
		rc = append(rc, r)
		return err
	}, "SELECT r, count(*) FROM (SELECT unnest(string_split(reasons, '; ')) AS r FROM out._quarantine) GROUP BY r ORDER BY count(*) DESC, r"); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "summarise the quarantine")
	}
	var sample []QuarantinedRow
	if err := sqlrows.Each(ctx, s.conn, func(rows *sql.Rows) error {
		var r QuarantinedRow
		err := rows.Scan(&r.Row, &r.Reasons)
		sample = append(sample, r)
		return err
	}, fmt.Sprintf("SELECT row_number, reasons FROM out._quarantine ORDER BY row_number LIMIT %d", quarantineSample)); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "summarise the quarantine")
	}
	if _, err := s.conn.ExecContext(ctx, "DETACH out"); err != nil {
		return counts, 0, nil, nil, nil, s.fail(err, "close the dataset file")
	}
	detached = true
	return counts, persons, rc, sample, cols, nil
}

// writeLineage stores the lineage inside the dataset file too, so a copied file still says
// where it came from.
func (s *session) writeLineage(ctx context.Context, file string, lineage []byte) error {
	if _, err := s.conn.ExecContext(ctx, "ATTACH "+duck.String(file)+" AS out"); err != nil {
		return s.fail(err, "write lineage")
	}
	defer s.conn.ExecContext(context.Background(), "DETACH out")
	if _, err := s.conn.ExecContext(ctx, "CREATE TABLE out._lineage AS SELECT ?::JSON AS lineage", string(lineage)); err != nil {
		return s.fail(err, "write lineage")
	}
	return nil
}

// buildProjection returns the stored columns' SELECT expressions over src, in the order of
// spec.StoredColumns, and the per-row quarantine reason expressions (each NULL when the row is
// fine).
func buildProjection(spec *Spec, ref time.Time) (exprs, reasons []string, cols []StoredColumn) {
	cols = spec.StoredColumns()
	dropped := map[string]bool{}
	for _, d := range spec.Drop {
		dropped[d] = true
	}
	gen := map[string]Generalisation{}
	for _, g := range spec.Generalise {
		gen[g.Column] = g
	}
	refLit := "DATE '" + ref.Format("2006-01-02") + "'"
	if pc := spec.Person.Column; pc != "" {
		exprs = append(exprs, "idmap.person_id AS person_id")
		present := present("src." + duck.Ident(pc))
		reasons = append(reasons, "CASE WHEN "+present+" AND idmap.person_id IS NULL THEN "+duck.String(pc+": not a valid NHS number")+" END")
		if spec.Person.Required {
			reasons = append(reasons, "CASE WHEN NOT "+present+" THEN "+duck.String(pc+": missing")+" END")
		}
	}
	for _, c := range spec.Columns {
		if c.Name == spec.Person.Column {
			continue
		}
		// DuckDB's casts ignore surrounding spaces (except BOOLEAN's) and the CSV reader gives NULL
		// for empty fields, so no per-value trimming is needed: it cost a third of the ingest.
		raw := "src." + duck.Ident(c.Name)
		present := present(raw)
		typed := raw
		switch c.Type {
		case "VARCHAR":
		case "BOOLEAN":
			typed = "TRY_CAST(trim(" + raw + ") AS BOOLEAN)"
		default:
			typed = "TRY_CAST(" + raw + " AS " + c.Type + ")"
		}
		if c.Type != "VARCHAR" {
			reasons = append(reasons, "CASE WHEN "+present+" AND "+typed+" IS NULL THEN "+duck.String(c.Name+": not a valid "+typeNoun(c.Type))+" END")
		}
		// Values at the types' far edges are quarantined: computations on them fail only for
		// the rows holding them (a DATE beyond TIMESTAMP's range, STDDEV of infinity), so a
		// query's failing would say that such a row exists; and no health or care record holds
		// them. The checked value is NULL for them, so nothing computed from it fails either.
		if edge := EdgeCheck(c.Type, typed); edge != "" {
			reasons = append(reasons, "CASE WHEN "+typed+" IS NOT NULL AND NOT ("+edge+") THEN "+duck.String(c.Name+": "+edgeNoun(c.Type))+" END")
			typed = "CASE WHEN " + edge + " THEN " + typed + " END"
		}
		if c.Required {
			reasons = append(reasons, "CASE WHEN NOT "+present+" THEN "+duck.String(c.Name+": missing")+" END")
		}
		if dropped[c.Name] {
			continue
		}
		g, ok := gen[c.Name]
		if !ok {
			exprs = append(exprs, typed+" AS "+duck.Ident(c.Name))
			continue
		}
		var e string
		switch g.Method {
		case "month":
			e = "date_trunc('month', " + typed + ")::DATE"
		case "year":
			e = "date_trunc('year', " + typed + ")::DATE"
		case "age_band_5", "age_band_10":
			w := 5
			if g.Method == "age_band_10" {
				w = 10
			}
			age := fmt.Sprintf("(year(%[2]s) - year(%[1]s) - CASE WHEN month(%[2]s) * 100 + day(%[2]s) < month(%[1]s) * 100 + day(%[1]s) THEN 1 ELSE 0 END)", typed, refLit)
			e = fmt.Sprintf("CASE WHEN %[1]s IS NULL OR %[1]s < 0 THEN NULL WHEN %[1]s >= 90 THEN '90+' ELSE (%[1]s // %[2]d * %[2]d)::VARCHAR || '-' || (%[1]s // %[2]d * %[2]d + %[3]d)::VARCHAR END", age, w, w-1)
			reasons = append(reasons, "CASE WHEN "+typed+" > "+refLit+" THEN "+duck.String(c.Name+": after the reference date")+" END")
		case "district", "sector":
			pc := "upper(replace(" + raw + ", ' ', ''))"
			re := `'^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])[A-Z]{2}$'`
			if g.Method == "district" {
				e = "regexp_extract(" + pc + ", " + re + ", 1)"
			} else {
				e = "regexp_extract(" + pc + ", " + re + ", 1) || ' ' || regexp_extract(" + pc + ", " + re + ", 2)"
			}
			e = "nullif(" + e + ", '')"
			reasons = append(reasons, "CASE WHEN "+present+" AND NOT regexp_full_match("+pc+", "+re+") THEN "+duck.String(c.Name+": not a valid UK postcode")+" END")
		}
		exprs = append(exprs, e+" AS "+duck.Ident(g.OutputName()))
	}
	if len(reasons) == 0 {
		reasons = append(reasons, "NULL")
	}
	return exprs, reasons, cols
}

// EdgeCheck is the SQL condition a value of type typ (the expression typed) must meet beyond
// being valid, or "" for types without one: dates within 1800-2200, numbers finite and within
// sde.MaxMagnitude. Ingest quarantines rows that fail it; activation sets such values NULL in
// datasets ingested before the rule.
func EdgeCheck(typ, typed string) string {
	switch typ {
	case "DOUBLE":
		// NaN and the infinities fail it too.
		return fmt.Sprintf("%s BETWEEN %g AND %g", typed, -sde.MaxMagnitude, sde.MaxMagnitude)
	case "DATE", "TIMESTAMP":
		return "year(" + typed + ") BETWEEN 1800 AND 2200"
	}
	return ""
}

func edgeNoun(typ string) string {
	if typ == "DOUBLE" {
		return fmt.Sprintf("not a number between %g and %g", -sde.MaxMagnitude, sde.MaxMagnitude)
	}
	return "outside the years 1800-2200"
}

// present is true when a source value is neither NULL nor empty.
func present(col string) string { return "(" + col + " IS NOT NULL AND " + col + " <> '')" }

func typeNoun(t string) string {
	switch {
	case t == "DATE":
		return "date (YYYY-MM-DD)"
	case t == "TIMESTAMP":
		return "timestamp"
	case t == "BIGINT" || t == "INTEGER":
		return "whole number"
	case t == "DOUBLE" || strings.HasPrefix(t, "DECIMAL"):
		return "number"
	case t == "BOOLEAN":
		return "true/false value"
	}
	return strings.ToLower(t)
}

type hashResult struct {
	sum string
	n   int64
	err error
}

func hashFile(path string) hashResult {
	f, err := os.Open(path)
	if err != nil {
		return hashResult{err: err}
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	return hashResult{sum: hex.EncodeToString(h.Sum(nil)), n: n, err: err}
}
