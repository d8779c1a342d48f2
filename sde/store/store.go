// Package store is the control-plane store: organisations, people, datasets, agreements,
// workspaces, memberships, approvals and releases in one SQLite file, with the governance rules.
//
// SQLite rather than DuckDB because this is small, row-at-a-time, transactional state with many
// short writers (sign, approve, confirm) and readers on every request: SQLite's WAL gives readers
// a snapshot while one writer commits, BEGIN IMMEDIATE serialises writers across processes,
// synchronous=FULL makes each commit durable, and foreign keys and CHECK constraints back the
// rules up. DuckDB is built for analytical scans and holds one writer per file per process.
// modernc.org/sqlite is pure Go, so the store adds no C dependency. The services sit behind the
// interfaces in package sde so a PostgreSQL implementation can follow for multi-node deployments.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/sqlrows"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DefaultReviewPeriod is how long a membership stays valid after a controller confirms it.
const DefaultReviewPeriod = 90 * 24 * time.Hour

// FileName is the store's file in the data directory.
const FileName = "control.db"

// Options configure a Store.
type Options struct {
	// Now is the clock; time.Now when nil. Tests inject one to move through a lifecycle.
	Now func() time.Time
	// ReviewPeriod is how often a controller must re-confirm each membership; DefaultReviewPeriod
	// when zero.
	ReviewPeriod time.Duration
	// BusyTimeout is how long a writer waits for another process's write; 10s when zero.
	BusyTimeout time.Duration
}

// Store is the control-plane database. Its services are the exported fields.
//
// Writes go through one connection that begins with BEGIN IMMEDIATE, so in-process writers
// queue in Go and another process's writer waits on the busy timeout instead of failing a
// read-to-write upgrade; reads use a pool of read-only connections that see the last committed
// state (WAL). synchronous=FULL makes a commit durable when it returns.
type Store struct {
	Organisations *OrganisationService
	People        *PersonService
	Datasets      *DatasetService
	Agreements    *AgreementService
	Workspaces    *WorkspaceService
	Releases      *ReleaseService
	Queries       *QueryService
	Transparency  *TransparencyService
	Reviews       *ReviewService
	Dashboards    *DashboardService

	now    func() time.Time
	review time.Duration
	w, r   *sql.DB
	path   string

	workspaces wsCache
}

// Open opens (creating and migrating if needed) DATA/control.db.
func Open(ctx context.Context, dataDir string, opt Options) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot create the data directory.")
	}
	path := filepath.Join(dataDir, FileName)
	// Create the file ourselves so it is private from the start; SQLite would use the umask.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot open the control-plane store.")
	}
	f.Close()

	s := &Store{now: opt.Now, review: opt.ReviewPeriod, path: path}
	if s.now == nil {
		s.now = time.Now
	}
	if s.review <= 0 {
		s.review = DefaultReviewPeriod
	}
	busy := opt.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(FULL)")
		for i := 0; i+1 < len(extra); i += 2 {
			q.Add(extra[i], extra[i+1])
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	drv := &sqlite.Driver{}
	s.w = sql.OpenDB(&stmtConnector{dsn: dsn("_pragma", "journal_mode(WAL)", "_txlock", "immediate"), drv: drv})
	s.w.SetMaxOpenConns(1)
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, err
	}
	s.r = sql.OpenDB(&stmtConnector{dsn: dsn("_pragma", "query_only(1)"), drv: drv})
	s.r.SetMaxOpenConns(4)
	s.r.SetMaxIdleConns(4) // idle connections keep their compiled statements

	s.Organisations = &OrganisationService{s}
	s.People = &PersonService{s}
	s.Datasets = &DatasetService{s}
	s.Agreements = &AgreementService{s}
	s.Workspaces = &WorkspaceService{s}
	s.Releases = &ReleaseService{s}
	s.Queries = &QueryService{s}
	s.Transparency = &TransparencyService{s}
	s.Reviews = &ReviewService{s}
	s.Dashboards = &DashboardService{s}
	return s, nil
}

// Close closes the database; committed changes are already on disk.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now().UTC() }

// ReviewPeriod is how long a confirmed membership lasts.
func (s *Store) ReviewPeriod() time.Duration { return s.review }

// migrate applies the embedded migrations above the file's user_version, each in its own
// transaction together with the new user_version, so a crash never leaves a half-applied step.
func (s *Store) migrate(ctx context.Context) error {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "The store's schema is missing.")
	}
	type step struct {
		version int
		name    string
	}
	var steps []step
	for _, e := range entries {
		n, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(n)
		if !ok || err != nil || v < 1 {
			return sde.Errorf(sde.EINTERNAL, "Bad migration name %q.", e.Name())
		}
		steps = append(steps, step{v, e.Name()})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].version < steps[j].version })
	for i, st := range steps {
		if st.version != i+1 {
			return sde.Errorf(sde.EINTERNAL, "Migrations are not numbered 1, 2, 3, ….")
		}
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var have int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
			return err
		}
		if have > len(steps) {
			return sde.Errorf(sde.EINTERNAL, "The control-plane store was written by a newer version of SDE (schema %d, this build knows %d).", have, len(steps))
		}
		for _, st := range steps[have:] {
			b, err := migrationFS.ReadFile("migrations/" + st.name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(b)); err != nil {
				return fmt.Errorf("migration %s: %w", st.name, err)
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", st.version)); err != nil {
				return err
			}
		}
		return nil
	})
}

// SchemaVersion returns the applied migration version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// write runs fn in a BEGIN IMMEDIATE transaction and commits it; any error rolls back, so a
// refused change leaves nothing behind.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return dbError(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return dbError(err)
	}
	if err := tx.Commit(); err != nil {
		return dbError(err)
	}
	return nil
}

// read runs fn in a read-only transaction: one consistent snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return dbError(err)
	}
	defer tx.Rollback()
	return dbError(fn(tx))
}

// dbError passes *sde.Error through and turns anything else into a user-safe error.
func dbError(err error) error {
	var e *sde.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return sde.Wrap(err, sde.EUNAVAILABLE, "The control-plane store is busy; try again.")
		case sqlite3.SQLITE_CONSTRAINT:
			return sde.Wrap(err, sde.ECONFLICT, "The change conflicts with existing records.")
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return sde.Wrap(err, sde.EUNAVAILABLE, "The request was cancelled.")
	}
	return sde.Wrap(err, sde.EINTERNAL, "The control-plane store failed.")
}

// timeFormat is fixed-width so text order is time order.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func parseTS(s string) time.Time {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		// Only this package writes these columns; a bad value is a bug, shown as the zero time.
		return time.Time{}
	}
	return t
}

func parseNullTS(s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t := parseTS(s.String)
	return &t
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain types are marshalled
	}
	return string(b)
}

// caller returns the authenticated principal or EUNAUTHORIZED.
func caller(ctx context.Context) (*sde.Principal, error) {
	p := sde.PrincipalFrom(ctx)
	if p == nil || p.User == "" {
		return nil, sde.Errorf(sde.EUNAUTHORIZED, "Sign in first.")
	}
	return p, nil
}

func requireRole(p *sde.Principal, r sde.Role, what string) error {
	if !p.Has(r) {
		return sde.Errorf(sde.EFORBIDDEN, "Only %ss may %s.", r, what)
	}
	return nil
}

// exists reports whether a query returns a row.
func exists(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// loadEach loads the record of every id idQuery lists, in its order.
func loadEach[T any](ctx context.Context, tx *sql.Tx, idQuery string, load func(id string) (T, error)) ([]T, error) {
	ids, err := sqlrows.Strings(ctx, tx, idQuery)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(ids))
	for _, id := range ids {
		v, err := load(id)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
