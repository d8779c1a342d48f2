// Package query runs an analyst's SQL along the whole path — access check, the workspace's own
// database, analysis and rewrite, the workspace's worker process, disclosure control — and
// releases the result with its decision record and differencing-ledger entry.
package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/disclosure"
	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/catalog"
	"github.com/opensde/sde/workspaces/activate"
	"github.com/opensde/sde/workspaces/analyse"
	"github.com/opensde/sde/workspaces/worker"
)

// Service is the query path. Every field is required.
type Service struct {
	Workspaces sde.WorkspaceService
	Agreements sde.AgreementService
	Releases   sde.ReleaseService
	Queries    sde.QueryService
	Dashboards sde.DashboardService
	Analyser   *analyse.Analyser
	Workers    *worker.Pool
	Databases  *Databases
	// Policy is the service's default disclosure policy; agreements may only tighten it.
	Policy disclosure.Policy

	// MaxRunning bounds the queries one person runs at once, waiting and in the background
	// together, in all workspaces (0: DefaultMaxRunning): one analyst's hundred background
	// queries would otherwise each hold an analysis and a place in the workers' queues.
	MaxRunning int

	ledgerLocks [ledgerStripes]sync.Mutex
	ledgers     ledgerCache
	runningMu   sync.Mutex
	running     map[sde.UserID]int
}

// DefaultMaxRunning is MaxRunning's default.
const DefaultMaxRunning = 4

// admitLimit is MaxRunning or its default.
func (s *Service) admitLimit() int {
	if s.MaxRunning <= 0 {
		return DefaultMaxRunning
	}
	return s.MaxRunning
}

// admit counts one more running query for the caller, or refuses it when they already run as
// many as MaxRunning; done gives the place back.
func (s *Service) admit(ctx context.Context) (done func(), err error) {
	p := sde.PrincipalFrom(ctx)
	if p == nil {
		return nil, sde.Errorf(sde.EUNAUTHORIZED, "Sign in first.")
	}
	limit := s.admitLimit()
	s.runningMu.Lock()
	defer s.runningMu.Unlock()
	if s.running[p.User] >= limit {
		return nil, sde.Errorf(sde.ETOOMANY, "You already have %d queries running, the most one person may run at once. Wait for one to finish (your query list shows their state), then try again.", limit)
	}
	if s.running == nil {
		s.running = map[sde.UserID]int{}
	}
	s.running[p.User]++
	return func() {
		s.runningMu.Lock()
		defer s.runningMu.Unlock()
		if s.running[p.User]--; s.running[p.User] <= 0 {
			delete(s.running, p.User)
		}
	}, nil
}

// DefaultPolicy is the service's disclosure policy: the engine's default, and rows of groups
// with fewer than the threshold's persons are withheld whole, because an analyst's labels are
// computed from data (a person's total cost, a combination of quasi-identifiers) and are
// themselves disclosive.
func DefaultPolicy() disclosure.Policy {
	p := disclosure.DefaultPolicy()
	p.WithholdSmallGroups = true
	return p
}

// Result is a released (or withheld) result in the shape of the outside contract: cells[i][j] is
// "ok", "rounded" or "suppressed:<reason>", and a suppressed value is null in rows.
type Result struct {
	QueryID string `json:"query_id"`
	// Status is released, review (held for two output checkers; rows withheld) or refused.
	Status  string     `json:"status"`
	Message string     `json:"message,omitempty"`
	Columns []Column   `json:"columns"`
	Rows    [][]any    `json:"rows"`
	Cells   [][]string `json:"cells"`
	// Totals lists, per row, the dimension columns the row totals over (ROLLUP, CUBE and
	// GROUPING SETS margins, whose empty value there means "all"); absent for one grouping set.
	Totals   [][]int             `json:"totals,omitempty"`
	Decision disclosure.Decision `json:"decision"`
	Release  sde.ReleaseID       `json:"release_id,omitempty"`
	// Timings are milliseconds per phase, for the audit record and operators; not sent.
	Timings map[string]float64 `json:"-"`
}

// Column describes one released column.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Kind string `json:"kind"` // dimension | measure
}

// Run runs one query for the caller and records it. Errors are *sde.Error; the query, refused or
// not, is in the caller's history — recorded once it has finished, with its release, in one
// write.
func (s *Service) Run(ctx context.Context, ws sde.WorkspaceID, text string) (*Result, error) {
	t0 := time.Now()
	w, ag, err := s.Workspaces.Use(ctx, ws, sde.RoleAnalyst)
	if err != nil {
		return nil, err
	}
	access := millis(time.Since(t0))
	done, err := s.admit(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := s.finish(ctx, w, ag, &sde.QueryRecord{ID: sde.NewID("q-"), Workspace: ws, SQL: text})
	if res != nil {
		res.Timings["access"] = access
		res.Timings["total"] = millis(time.Since(t0))
	}
	return res, err
}

// Start records the query and runs it in the background, for long queries: the caller polls
// the query record (sde.QueryService.Get) for its state and result.
func (s *Service) Start(ctx context.Context, ws sde.WorkspaceID, text string) (*sde.QueryRecord, error) {
	w, ag, err := s.Workspaces.Use(ctx, ws, sde.RoleAnalyst)
	if err != nil {
		return nil, err
	}
	done, err := s.admit(ctx)
	if err != nil {
		return nil, err
	}
	rec := &sde.QueryRecord{Workspace: ws, SQL: text}
	if err := s.Queries.Create(ctx, rec); err != nil {
		done()
		return nil, err
	}
	// The caller's identity stays with the work; its cancellation does not. The work has its
	// own copy of the record: the caller is still encoding this one.
	bg, work := context.WithoutCancel(ctx), *rec
	go func() {
		defer done()
		s.finish(bg, w, ag, &work)
	}()
	return rec, nil
}

// finish runs the query and records its outcome with its release. Recording must not depend on
// the caller still waiting, and nothing is released unless its release is recorded.
func (s *Service) finish(ctx context.Context, w *sde.Workspace, ag *sde.Agreement, rec *sde.QueryRecord) (*Result, error) {
	return s.run(ctx, w, ag, rec.ID, rec.SQL, func(res *Result, rel *sde.Release, err error) (*Result, error) {
		ctx := context.WithoutCancel(ctx)
		t0 := time.Now()
		done := *rec
		if err != nil {
			done.State, done.Error = sde.QueryFailed, &sde.QueryError{Code: sde.ErrorCode(err), Message: sde.ErrorMessage(err)}
		} else {
			done.State, done.Release = sde.QueryDone, res.Release
			done.Result, _ = json.Marshal(res)
		}
		ferr := s.Queries.Finish(ctx, &done, rel)
		if ferr != nil && rel != nil {
			// The release could not be recorded (the workspace was suspended meanwhile, the
			// store is busy): nothing is released, and the query is recorded as failed for that
			// reason, so its record never stays "running".
			failed := *rec
			failed.State, failed.Error = sde.QueryFailed, &sde.QueryError{Code: sde.ErrorCode(ferr), Message: sde.ErrorMessage(ferr)}
			s.Queries.Finish(ctx, &failed, nil)
		}
		if ferr != nil {
			if err == nil || rel != nil {
				return nil, ferr
			}
			return nil, err
		}
		if res != nil {
			res.Timings["record"] = millis(time.Since(t0))
		}
		return res, err
	})
}

// record keeps a query's outcome: its result and release (nil if the query failed before
// disclosure control decided; with an error, a refused result), and says what the caller gets.
// Nothing may be shown to anyone unless record has kept its release.
type record func(res *Result, rel *sde.Release, err error) (*Result, error)

// run runs one query, passes its result through disclosure control and hands the outcome to
// keep. From reading the differencing ledger until keep returns, no other release under the same
// key is made in the workspace: two results that differ by a few people, checked at the same
// time, would otherwise each pass against a ledger that lacks the other.
func (s *Service) run(ctx context.Context, w *sde.Workspace, ag *sde.Agreement, id, text string, keep record) (*Result, error) {
	timings := map[string]float64{}
	t0 := time.Now()
	lap := func(phase string) {
		now := time.Now()
		timings[phase] = millis(now.Sub(t0))
		t0 = now
	}
	m, dbPath, err := s.Databases.Database(ctx, w, ag.PurposeCategory)
	if err != nil {
		return keep(nil, nil, err)
	}
	lap("database")
	policy := s.Policy
	if len(ag.Policy) > 0 {
		override, err := disclosure.ParsePolicy(ag.Policy)
		if err != nil {
			return keep(nil, nil, sde.Wrap(err, sde.EINTERNAL, "The agreement's disclosure policy cannot be read."))
		}
		policy = disclosure.Strictest(policy, override)
	}
	q, err := s.Analyser.Analyse(ctx, text, Schema(m))
	if err != nil {
		return keep(nil, nil, err)
	}
	lap("analyse")
	rr, err := s.Workers.Query(ctx, w.ID, dbPath, q.Rewritten)
	var rec arrow.RecordBatch
	if err == nil {
		rec, err = collect(rr)
	}
	if err != nil {
		return keep(nil, nil, err)
	}
	defer rec.Release()
	lap("worker")
	key := q.Fingerprint.Key()
	defer s.lockLedger(w.ID, key)() // until keep has returned
	res, rel, err := s.decide(ctx, w.ID, id, q, rec, policy, key)
	lap("disclose")
	if res != nil {
		res.Timings = timings
	}
	return keep(res, rel, err)
}

// ledgerStripes bound the locks lockLedger holds: keys sharing a stripe wait for each other,
// which only orders them.
const ledgerStripes = 64

// lockLedger keeps other releases under key in workspace ws from being made until the returned
// function is called.
func (s *Service) lockLedger(ws sde.WorkspaceID, key string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(ws))
	h.Write([]byte{0})
	h.Write([]byte(key))
	mu := &s.ledgerLocks[h.Sum32()%ledgerStripes]
	mu.Lock()
	return mu.Unlock
}

// decide passes a query's result through disclosure control against the workspace's ledger
// under key, and returns what may be shown with the release that records it.
func (s *Service) decide(ctx context.Context, ws sde.WorkspaceID, id string, q *analyse.Query, rec arrow.RecordBatch, policy disclosure.Policy, key string) (*Result, *sde.Release, error) {
	entries, err := s.ledger(ctx, ws, key)
	if err != nil {
		return nil, nil, err
	}
	visible, stats, rowSets, err := q.Stats(rec)
	if err != nil {
		return nil, nil, sde.Wrap(err, sde.EINTERNAL, "The query's result did not have the expected shape; nothing was released.")
	}
	defer visible.Release()
	plan := q.Plan
	plan.RowSets = rowSets
	out, err := disclosure.Apply(disclosure.Input{Record: visible, Plan: plan, Stats: stats, Policy: policy, Ledger: &ledger{entries}, Query: q.Fingerprint})
	if err != nil {
		// Fail closed: an input the engine cannot vouch for releases nothing.
		if errors.Is(err, disclosure.ErrInvalid) || errors.Is(err, disclosure.ErrPolicy) {
			return nil, nil, sde.Wrap(err, sde.EREFUSED, "Disclosure control could not check this result, so nothing was released.")
		}
		return nil, nil, sde.Wrap(err, sde.EINTERNAL, "Disclosure control failed; nothing was released.")
	}
	defer out.Record.Release()

	rel := &sde.Release{ID: sde.ReleaseID(sde.NewID("rel-")), Workspace: ws, QueryID: id, LedgerKey: key}
	res := &Result{QueryID: id, Decision: out.Decision, Rows: [][]any{}, Cells: out.Status, Release: rel.ID}
	for j, f := range out.Record.Schema().Fields() {
		kind := string(disclosure.Measure)
		if j < len(q.Plan.Columns) {
			kind = string(q.Plan.Columns[j].Kind)
		}
		res.Columns = append(res.Columns, Column{Name: f.Name, Type: f.Type.String(), Kind: kind})
	}
	switch out.Decision.Status {
	case disclosure.Pass:
		res.Status, res.Rows, res.Totals = sde.ReleaseReleased, out.Values, out.Totals
		rel.Ledger, _ = json.Marshal(out.Release)
	case disclosure.Review:
		res.Status = sde.ReleaseReview
		rel.Ledger, _ = json.Marshal(out.Release) // counts only once the checkers release it
		rel.Held, _ = json.Marshal(&Result{QueryID: id, Status: sde.ReleaseReview, Columns: res.Columns, Rows: out.Values, Cells: out.Status, Totals: out.Totals, Decision: out.Decision})
		res.Message = "The result needs review by two output checkers before it can be released; the decision record says why."
	default:
		res.Status = sde.ReleaseRefused
	}
	if res.Status != sde.ReleaseReleased {
		res.Cells = [][]string{}
	}
	rel.Status = res.Status
	rel.Decision, _ = json.Marshal(out.Decision)
	if res.Status == sde.ReleaseRefused {
		why := "it breaks the disclosure policy"
		if len(out.Decision.Reasons) > 0 {
			why = strings.Join(out.Decision.Reasons, "; ")
		}
		return nil, rel, sde.Errorf(sde.EREFUSED, "The result cannot be released: %s.", strings.TrimSuffix(why, "."))
	}
	return res, rel, nil
}

// millis is a duration in milliseconds to the microsecond, for Timings.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Manifest is what the schema browsers (REST and Flight SQL) list: the tables and columns of the
// workspace's database, for a caller who may view the workspace now.
func (s *Service) Manifest(ctx context.Context, ws sde.WorkspaceID) (*activate.Manifest, error) {
	w, ag, err := s.Workspaces.Use(ctx, ws, "")
	if err != nil {
		return nil, err
	}
	m, _, err := s.Databases.Database(ctx, w, ag.PurposeCategory)
	return m, err
}

// CreateDashboard stores a dashboard after checking every panel's query with the analyser
// (the creator must be an analyst member), then refreshes it once.
func (s *Service) CreateDashboard(ctx context.Context, d *sde.Dashboard) (*sde.Dashboard, []sde.PanelResult, error) {
	w, ag, err := s.Workspaces.Use(ctx, d.Workspace, sde.RoleAnalyst)
	if err != nil {
		return nil, nil, err
	}
	m, _, err := s.Databases.Database(ctx, w, ag.PurposeCategory)
	if err != nil {
		return nil, nil, err
	}
	for i, p := range d.Panels {
		if _, err := s.Analyser.Analyse(ctx, p.SQL, Schema(m)); err != nil {
			return nil, nil, sde.Wrap(err, sde.ErrorCode(err), "Panel %d: %s", i+1, sde.ErrorMessage(err))
		}
	}
	if err := s.Dashboards.Create(ctx, d); err != nil {
		return nil, nil, err
	}
	return s.Refresh(ctx, d.Workspace, d.ID)
}

// Refresh runs every panel of a dashboard again through disclosure control, as the caller — any
// member, planners included: the queries are the dashboard's, fixed when an analyst created it.
// Each panel's release is recorded and kept in the dashboard's history.
func (s *Service) Refresh(ctx context.Context, ws sde.WorkspaceID, id string) (*sde.Dashboard, []sde.PanelResult, error) {
	w, ag, err := s.Workspaces.Use(ctx, ws, "")
	if err != nil {
		return nil, nil, err
	}
	d, _, err := s.Dashboards.Get(ctx, ws, id)
	if err != nil {
		return nil, nil, err
	}
	// A refresh runs its panels one after another: one of the caller's running queries.
	done, err := s.admit(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	var results []sde.PanelResult
	for i, p := range d.Panels {
		pr := sde.PanelResult{Panel: i}
		res, err := s.run(ctx, w, ag, fmt.Sprintf("%s/%d/%d", id, i, time.Now().UnixNano()), p.SQL, func(res *Result, rel *sde.Release, err error) (*Result, error) {
			if rel == nil {
				return res, err
			}
			if rerr := s.Releases.Record(ctx, rel); rerr != nil {
				return nil, rerr
			}
			return res, err
		})
		if err != nil {
			pr.Error = &sde.QueryError{Code: sde.ErrorCode(err), Message: sde.ErrorMessage(err)}
		} else {
			pr.Release = res.Release
			pr.Result, _ = json.Marshal(res)
		}
		results = append(results, pr)
	}
	if err := s.Dashboards.Record(ctx, ws, id, results); err != nil {
		return nil, nil, err
	}
	return s.Dashboards.Get(ctx, ws, id)
}

// Schema describes a workspace database to the analyser; each table's source names the dataset
// version, so the differencing ledger never compares releases over different data.
func Schema(m *activate.Manifest) analyse.Schema {
	var s analyse.Schema
	for _, d := range m.Datasets {
		t := analyse.Table{Name: d.Table, Source: fmt.Sprintf("%s@v%d", d.Dataset, d.SourceVersion),
			OnePerPerson: d.Rows.Stored > 0 && d.Rows.Unlinked == 0 && d.Persons == d.Rows.Stored,
			Linked:       d.Rows.Unlinked == 0, Unique: d.Unique}
		if d.Persons == 0 && d.Rows.Unlinked == d.Rows.Stored {
			t.Rows = d.Rows.Stored // a lookup table's size bounds what a loose join can multiply
		}
		for _, c := range d.Columns {
			t.Columns = append(t.Columns, analyse.Column{Name: c.Name, Type: c.Type})
		}
		s.Tables = append(s.Tables, t)
	}
	return s
}

// collect reads the worker's batches into one record.
func collect(rr array.RecordReader) (arrow.RecordBatch, error) {
	defer rr.Release()
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for rr.Next() {
		b := rr.RecordBatch()
		b.Retain()
		batches = append(batches, b)
	}
	if err := rr.Err(); err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "The workspace's worker failed while returning the result; try again.")
	}
	schema := rr.Schema()
	cols := make([]arrow.Array, schema.NumFields())
	var n int64
	for _, b := range batches {
		n += b.NumRows()
	}
	for j := range cols {
		parts := make([]arrow.Array, 0, len(batches))
		for _, b := range batches {
			parts = append(parts, b.Column(j))
		}
		if len(parts) == 0 {
			b := array.NewBuilder(memory.DefaultAllocator, schema.Field(j).Type)
			cols[j] = b.NewArray()
			b.Release()
			continue
		}
		c, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			return nil, sde.Wrap(err, sde.EINTERNAL, "The query's result could not be assembled.")
		}
		cols[j] = c
	}
	rec := array.NewRecordBatch(schema, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

// ledger gives the engine the workspace's earlier releases; a new release's entry is recorded
// with the release itself, in one transaction.
type ledger struct{ entries []disclosure.Release }

// ledgerCache keeps each workspace's ledger under each key as parsed: entries never change and
// new ones have higher sequence numbers, so a query reads and parses only those added since the
// last (a result of a thousand cells is ≈ 1 ms to parse, and a key's ledger grows with every
// distinct release). The store still checks the caller's access on every read.
type ledgerCache struct {
	mu sync.Mutex
	m  map[[2]string]*parsedLedger
}

type parsedLedger struct {
	seq     int64
	entries []disclosure.Release // never appended to in place: readers may hold it
}

// maxLedgers bounds the ledgers kept; past it, the cache starts again.
const maxLedgers = 256

// ledger returns the workspace's ledger under key, parsed. The caller holds lockLedger(ws, key).
func (s *Service) ledger(ctx context.Context, ws sde.WorkspaceID, key string) ([]disclosure.Release, error) {
	id := [2]string{string(ws), key}
	c := &s.ledgers
	c.mu.Lock()
	kept := c.m[id]
	c.mu.Unlock()
	if kept == nil {
		kept = &parsedLedger{}
	}
	added, err := s.Releases.Ledger(ctx, ws, key, kept.seq)
	if err != nil || len(added) == 0 {
		return kept.entries, err
	}
	next := &parsedLedger{seq: kept.seq, entries: slices.Clip(kept.entries)}
	for _, e := range added {
		var r disclosure.Release
		if err := json.Unmarshal(e.Entry, &r); err != nil {
			return nil, sde.Wrap(err, sde.EINTERNAL, "The workspace's release ledger is damaged; nothing was released.")
		}
		next.entries = append(next.entries, r)
		next.seq = e.Seq
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxLedgers {
		c.m = map[[2]string]*parsedLedger{}
	}
	c.m[id] = next
	c.mu.Unlock()
	return next.entries, nil
}

func (l *ledger) Releases(disclosure.Fingerprint) ([]disclosure.Release, error) {
	return l.entries, nil
}

// Databases finds, or materialises on first use, each workspace's own database: approved
// datasets and columns only, person_id re-keyed per workspace, opted-out people removed by purpose.
// A workspace gets a new database when its datasets or columns change or a dataset has a newer
// version.
type Databases struct {
	Catalog     *catalog.Catalog
	Rekeyer     crypto.Rekeyer
	Dir         string // DATA/workspaces
	MemoryLimit string
	Threads     int

	mu    sync.Mutex
	locks map[sde.WorkspaceID]*sync.Mutex
	// newest holds each workspace's newest manifest, read once: a version never changes once
	// published, and every query would otherwise read and parse it again.
	newest map[sde.WorkspaceID]*activate.Manifest
}

// Database returns the workspace's current database, materialising it if needed.
func (d *Databases) Database(ctx context.Context, w *sde.Workspace, purpose string) (*activate.Manifest, string, error) {
	d.mu.Lock()
	if d.locks == nil {
		d.locks = map[sde.WorkspaceID]*sync.Mutex{}
	}
	l := d.locks[w.ID]
	if l == nil {
		l = &sync.Mutex{}
		d.locks[w.ID] = l
	}
	d.mu.Unlock()
	l.Lock()
	defer l.Unlock()

	m, path, err := d.latest(w.ID)
	if err == nil {
		current, cerr := d.current(m, w, purpose)
		if cerr != nil {
			return nil, "", cerr
		}
		if current {
			return m, path, nil
		}
	} else if sde.ErrorCode(err) != sde.ENOTFOUND {
		return nil, "", err
	}
	if _, err := activate.Materialise(ctx, activate.Options{
		Catalog: d.Catalog, Rekeyer: d.Rekeyer, Workspace: w.ID, Datasets: w.Datasets, Purpose: purpose,
		Dir: d.Dir, MemoryLimit: d.MemoryLimit, Threads: d.Threads,
	}); err != nil {
		return nil, "", err
	}
	return d.latest(w.ID)
}

// latest is activate.Latest with the manifest kept per version; the caller holds the
// workspace's lock.
func (d *Databases) latest(ws sde.WorkspaceID) (*activate.Manifest, string, error) {
	vs, err := activate.Versions(d.Dir, ws)
	if err != nil {
		return nil, "", err
	}
	d.mu.Lock()
	m := d.newest[ws]
	d.mu.Unlock()
	if m != nil && len(vs) > 0 && vs[len(vs)-1] == m.Version {
		return m, filepath.Join(activate.VersionDir(d.Dir, ws, m.Version), activate.DatabaseFile), nil
	}
	m, path, err := activate.Latest(d.Dir, ws)
	if err != nil {
		return nil, "", err
	}
	d.mu.Lock()
	if d.newest == nil {
		d.newest = map[sde.WorkspaceID]*activate.Manifest{}
	}
	d.newest[ws] = m
	d.mu.Unlock()
	return m, path, nil
}

// current reports whether a materialised database still matches the workspace's approved datasets
// and columns, its purpose, and the newest dataset versions.
func (d *Databases) current(m *activate.Manifest, w *sde.Workspace, purpose string) (bool, error) {
	if m.Purpose != purpose || len(m.Datasets) != len(w.Datasets) {
		return false, nil
	}
	have := map[sde.DatasetName]activate.DatasetManifest{}
	for _, dm := range m.Datasets {
		have[dm.Dataset] = dm
	}
	for _, sc := range w.Datasets {
		dm, ok := have[sc.Dataset]
		if !ok || len(dm.Columns) != len(sc.Columns) {
			return false, nil
		}
		for _, c := range dm.Columns {
			if !slices.Contains(sc.Columns, c.Name) {
				return false, nil
			}
		}
		vs, err := d.Catalog.Versions(sc.Dataset)
		if err != nil {
			return false, err
		}
		if len(vs) > 0 && vs[len(vs)-1] != dm.SourceVersion {
			return false, nil
		}
	}
	// A newer opt-out register must take effect: people who opted out since are removed.
	if m.OptOut.Applied {
		vs, err := d.Catalog.Versions(m.OptOut.Register)
		if err != nil {
			return false, err
		}
		if len(vs) > 0 && vs[len(vs)-1] != m.OptOut.RegisterVersion {
			return false, nil
		}
	}
	return true, nil
}

// StatusSuffix names the status column that follows each measure in Arrow results: for a
// measure "n" the column "n__status" holds each cell's "ok", "rounded" or "suppressed:<reason>".
const StatusSuffix = "__status"

// Arrow is the released result as Arrow, for Flight SQL and REST alike: dimensions as strings, measures as float64 (null where
// suppressed), each measure followed by its status column (see StatusSuffix). Each field's
// "sde.kind" metadata says dimension, measure or status; the schema's metadata carries the query
// and release IDs.
func (res *Result) Arrow() (arrow.RecordBatch, error) {
	var fields []arrow.Field
	type src struct {
		col    int
		status bool
	}
	var srcs []src
	for j, c := range res.Columns {
		if c.Kind == "measure" {
			fields = append(fields, arrow.Field{Name: c.Name, Type: arrow.PrimitiveTypes.Float64, Nullable: true, Metadata: arrow.NewMetadata([]string{"sde.kind"}, []string{"measure"})})
			fields = append(fields, arrow.Field{Name: c.Name + StatusSuffix, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: arrow.NewMetadata([]string{"sde.kind", "sde.status_of"}, []string{"status", c.Name})})
			srcs = append(srcs, src{j, false}, src{j, true})
			continue
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: arrow.NewMetadata([]string{"sde.kind"}, []string{c.Kind})})
		srcs = append(srcs, src{j, false})
	}
	md := arrow.NewMetadata([]string{"sde.query_id", "sde.release_id", "sde.status"}, []string{res.QueryID, string(res.Release), res.Status})
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, &md))
	defer b.Release()
	for i, row := range res.Rows {
		for k, sc := range srcs {
			v := row[sc.col]
			switch fb := b.Field(k).(type) {
			case *array.StringBuilder:
				switch {
				case sc.status:
					if i < len(res.Cells) && sc.col < len(res.Cells[i]) {
						fb.Append(res.Cells[i][sc.col])
					} else {
						fb.AppendNull()
					}
				case v == nil:
					fb.AppendNull()
				default:
					fb.Append(fmt.Sprint(v))
				}
			case *array.Float64Builder:
				switch x := v.(type) {
				case nil:
					fb.AppendNull()
				case int64:
					fb.Append(float64(x))
				case int:
					fb.Append(float64(x))
				case int32:
					fb.Append(float64(x))
				case uint64:
					fb.Append(float64(x))
				case float32:
					fb.Append(float64(x))
				case float64:
					fb.Append(x)
				default:
					return nil, sde.Errorf(sde.EINTERNAL, "A released measure is not a number.")
				}
			}
		}
	}
	return b.NewRecordBatch(), nil
}
