package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
	"github.com/opensde/sde/sde/auth"
	"github.com/opensde/sde/sde/catalog"
	"github.com/opensde/sde/sde/flight"
	"github.com/opensde/sde/sde/httpapi"
	"github.com/opensde/sde/sde/store"
	"github.com/opensde/sde/sde/synth"
	"github.com/opensde/sde/workspaces/analyse"
	"github.com/opensde/sde/workspaces/query"
	"github.com/opensde/sde/workspaces/worker"
)

func init() { commands["serve"] = runServe }

// Main is the running service. Tests build one with ParseFlags and Run so they exercise the same
// start-up as `sde serve`.
type Main struct {
	Config Config
	Dev    bool
	Stdout io.Writer
	Logger *slog.Logger

	Catalog *catalog.Catalog
	Store   *store.Store
	Audit   *audit.Log
	Auth    *auth.Service
	Query   *query.Service

	// WorkerExe and WorkerArgs start a workspace worker process; default this binary and
	// ["worker"]. Tests point them at the test binary.
	WorkerExe  string
	WorkerArgs []string

	stop chan struct{} // ends background loops
	wg   sync.WaitGroup
	HTTP *httpapi.Server
	// Flight is the Arrow Flight SQL server; nil when Config.FlightAddr is empty.
	Flight *flight.Server
}

// NewMain returns a Main with the embedded defaults.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{
		Config: DefaultConfig(),
		Stdout: stdout,
		Logger: slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

// ParseFlags reads serve's flags.
func (m *Main) ParseFlags(args []string, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	dev := fs.Bool("dev", false, "embedded defaults: local keyring, synthetic data ingested on first start, demo users")
	addr := fs.String("addr", "", "listen address (default 127.0.0.1:8080)")
	flightAddr := fs.String("flight-addr", "", "Arrow Flight SQL listen address; empty disables (default 127.0.0.1:8815 with --dev; port 0 picks a free one)")
	cfg, _ := configFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sde serve --dev [--data DIR] [--addr 127.0.0.1:8080]\n       sde serve --config FILE\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.load(); err != nil {
		return err
	}
	if !*dev && cfg.path == "" {
		fs.Usage()
		return sde.Errorf(sde.EINVALID, "Say --dev for the embedded defaults, or --config FILE for a deployment.")
	}
	m.Config, m.Dev = cfg.Config, *dev
	if *addr != "" {
		m.Config.Addr = *addr
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "flight-addr" })
	switch {
	case explicit:
		m.Config.FlightAddr = *flightAddr
	case m.Dev && m.Config.FlightAddr == "":
		m.Config.FlightAddr = DevFlightAddr
	}
	return nil
}

// Run opens the stores, starts listening (healthz answers 503 until ready), does start-up work
// and returns once the service is ready.
func (m *Main) Run(ctx context.Context) error {
	cat, err := catalog.Open(m.Config.DataDir)
	if err != nil {
		return err
	}
	m.Catalog = cat
	if m.Store, err = store.Open(ctx, m.Config.DataDir, store.Options{ReviewPeriod: m.Config.ReviewPeriod()}); err != nil {
		return err
	}
	if m.Audit, err = audit.Open(audit.Path(m.Config.DataDir), audit.Options{}); err != nil {
		return err
	}
	ps, err := m.Config.Pseudonymiser(ctx)
	if err != nil {
		return err
	}
	if m.Query, err = m.queryService(ctx, cat); err != nil {
		return err
	}
	m.Auth = auth.New()
	m.HTTP = httpapi.New(&httpapi.Server{
		Queries:           m.Store.Queries,
		Transparency:      m.Store.Transparency,
		Reviews:           m.Store.Reviews,
		Dashboards:        m.Store.Dashboards,
		Query:             m.Query,
		Authenticate:      m.Auth.Middleware,
		Mount:             m.Auth.Mount,
		Catalog:           cat,
		Pseudonymiser:     ps,
		Organisations:     m.Store.Organisations,
		People:            m.Store.People,
		Datasets:          m.Store.Datasets,
		Agreements:        m.Store.Agreements,
		Workspaces:        m.Store.Workspaces,
		Audit:             m.Audit,
		AuditPath:         audit.Path(m.Config.DataDir),
		IngestMemoryLimit: m.Config.Ingest.MemoryLimit,
		IngestThreads:     m.Config.Ingest.Threads,
		Logger:            m.Logger,
	})
	if err := m.HTTP.Listen(m.Config.Addr); err != nil {
		return err
	}
	// The dev issuer needs the bound port, so identity starts after Listen; until then signed
	// requests get 503.
	signins := func(r *http.Request, p *sde.Principal, action string) error {
		ev := audit.FromPrincipal(p, action, audit.OutcomeOK)
		ev.RemoteAddr = r.RemoteAddr
		_, err := m.Audit.Append(r.Context(), ev)
		return err
	}
	if err := m.Auth.Start(ctx, auth.Options{Config: m.Config.Auth, DataDir: m.Config.DataDir, Dev: m.Dev, Addr: m.HTTP.Addr(), Logger: m.Logger, Audit: signins}); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "sde: listening on http://%s (data in %s)\n", m.HTTP.Addr(), m.Config.DataDir)
	if m.Dev {
		if err := m.devSetup(ctx); err != nil {
			return err
		}
	}
	if err := m.applyLifecycle(ctx); err != nil {
		return err
	}
	if err := m.startFlight(); err != nil {
		return err
	}
	m.stop = make(chan struct{})
	m.wg.Add(1)
	go m.lifecycleLoop(time.Minute)
	m.HTTP.SetReady()
	fmt.Fprintf(m.Stdout, "sde: ready — GET http://%s/healthz\n", m.HTTP.Addr())
	if m.Dev {
		fmt.Fprintf(m.Stdout, "sde: open http://%s/ and sign in as a demo user (analyst1, planner1, checker1, controller-gp, ...)\n", m.HTTP.Addr())
	}
	return nil
}

// startFlight serves Arrow Flight SQL on Config.FlightAddr, if set: the same query service and
// token verifier as the REST API.
func (m *Main) startFlight() error {
	if m.Config.FlightAddr == "" {
		return nil
	}
	o := flight.Options{Query: m.Query, Verifier: m.Auth.Verifier, Audit: m.Audit, Version: "dev"}
	if m.Config.FlightTLSCertFile != "" || m.Config.FlightTLSKeyFile != "" {
		tc, err := flight.LoadTLS(m.Config.FlightTLSCertFile, m.Config.FlightTLSKeyFile)
		if err != nil {
			return err
		}
		o.TLS = tc
	}
	fs, err := flight.New(o)
	if err != nil {
		return err
	}
	if err := fs.Listen(m.Config.FlightAddr); err != nil {
		return err
	}
	m.Flight = fs
	scheme := "grpc"
	if o.TLS != nil {
		scheme = "grpc+tls"
	}
	fmt.Fprintf(m.Stdout, "sde: Arrow Flight SQL on %s://%s\n", scheme, fs.Addr())
	return nil
}

// queryService builds the query path: the analyser, one worker process per workspace (sockets in
// a short private directory: Unix socket paths are limited to about 100 bytes), and workspace
// databases materialised on first use.
func (m *Main) queryService(ctx context.Context, cat *catalog.Catalog) (*query.Service, error) {
	rk, err := m.Config.Rekeyer(ctx)
	if err != nil {
		return nil, err
	}
	an, err := analyse.New(ctx)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot start the SQL analyser.")
	}
	sockets, err := os.MkdirTemp("", "sde-w-")
	if err != nil {
		an.Close()
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot create the worker socket directory.")
	}
	pool := &worker.Pool{Exe: m.WorkerExe, Args: m.WorkerArgs, Dir: sockets, Limits: worker.Limits{
		Memory: m.Config.Workers.Memory, Threads: m.Config.Workers.Threads, Timeout: m.Config.Workers.Timeout(),
	}}
	return &query.Service{
		Workspaces: m.Store.Workspaces, Agreements: m.Store.Agreements, Releases: m.Store.Releases, Queries: m.Store.Queries,
		Dashboards: m.Store.Dashboards,
		Analyser:   an, Workers: pool, Policy: query.DefaultPolicy(), MaxRunning: m.Config.Workers.PerUser,
		Databases: &query.Databases{Catalog: cat, Rekeyer: rk, Dir: filepath.Join(m.Config.DataDir, "workspaces"),
			MemoryLimit: m.Config.Ingest.MemoryLimit, Threads: m.Config.Ingest.Threads},
	}, nil
}

// applyLifecycle records the workspace transitions time has caused (agreement expiry, end
// dates, lapsed memberships) and writes each to the audit log. Reads are right without it; this
// puts the transitions on the record promptly.
func (m *Main) applyLifecycle(ctx context.Context) error {
	evs, err := m.Store.Workspaces.ApplyLifecycle(ctx)
	if err != nil {
		return err
	}
	for _, e := range evs {
		ev := audit.Event{Action: "workspace.lifecycle", Outcome: audit.OutcomeOK, Workspace: e.Workspace, Target: e.Subject,
			Details: map[string]any{"kind": e.Kind, "from": e.From, "to": e.To, "reason": e.Reason}}
		if _, err := m.Audit.Append(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (m *Main) lifecycleLoop(every time.Duration) {
	defer m.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			if err := m.applyLifecycle(context.Background()); err != nil {
				m.Logger.Error("workspace lifecycle", "err", err)
			}
		}
	}
}

// Close stops the service: first the listener, so no request meets a closed store or log.
func (m *Main) Close() error {
	if m.stop != nil {
		close(m.stop)
		m.wg.Wait()
		m.stop = nil
	}
	var errs []error
	if m.Flight != nil {
		errs = append(errs, m.Flight.Close())
		m.Flight = nil
	}
	if m.HTTP != nil {
		errs = append(errs, m.HTTP.Close())
	}
	if m.Query != nil {
		errs = append(errs, m.Query.Workers.Close(), m.Query.Analyser.Close())
		os.RemoveAll(m.Query.Workers.Dir)
		m.Query = nil
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	if m.Audit != nil {
		errs = append(errs, m.Audit.Close())
	}
	return errors.Join(errs...)
}

// devSetup generates the synthetic sources and ingests any that the catalogue lacks. The CSVs
// (which hold synthetic NHS numbers) go to a temporary directory outside the data directory and
// are deleted afterwards, so the data directory never holds a raw identifier.
func (m *Main) devSetup(ctx context.Context) error {
	var specs [][]byte
	for _, sf := range synth.Specs() {
		specs = append(specs, sf.JSON)
	}
	if err := store.DevSeed(ctx, m.Store, specs...); err != nil {
		return err
	}
	var missing []synth.SpecFile
	for _, sf := range synth.Specs() {
		if vs, err := m.Catalog.Versions(sde.DatasetName(sf.Name)); err != nil {
			return err
		} else if len(vs) == 0 {
			missing = append(missing, sf)
		}
	}
	if len(missing) == 0 {
		fmt.Fprintf(m.Stdout, "sde: demo data already ingested\n")
		return m.demoDashboard(ctx)
	}
	tmp, err := os.MkdirTemp("", "sde-synth-")
	if err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "Cannot create a temporary directory for the synthetic data.")
	}
	defer os.RemoveAll(tmp)
	t0 := time.Now()
	sum, err := synth.Generate(ctx, synth.Options{Seed: m.Config.Dev.Seed, People: m.Config.Dev.People, Out: tmp})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "sde: generated synthetic data for %d people (seed %d): %d rows in %s\n", sum.People, sum.Seed, sum.Rows(), time.Since(t0).Round(time.Millisecond))
	for _, sf := range missing {
		spec, err := catalog.ReadSpec(bytes.NewReader(sf.JSON))
		if err != nil {
			return err
		}
		rep, err := m.Catalog.Ingest(ctx, catalog.IngestOptions{
			Spec: spec, Path: tmp + "/" + sf.File, Pseudonymiser: m.HTTP.Pseudonymiser,
			MemoryLimit: m.Config.Ingest.MemoryLimit, Threads: m.Config.Ingest.Threads, CreatedBy: "serve --dev",
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "sde: ingested %-20s v%d  %8d rows stored, %5d quarantined, linkage %5.1f%%  (%s)\n",
			rep.Dataset, rep.Version, rep.Rows.OK, rep.Rows.Quarantined, 100*rep.LinkageRate, rep.Controller.Name)
	}
	return m.demoDashboard(ctx)
}

// demoDashboards are the planner dashboard serve --dev ships, created by analyst1.
var demoDashboard = sde.Dashboard{
	Workspace:   store.DevWorkspace,
	Title:       "Long-term conditions and unplanned care",
	Description: "North Riverside (synthetic data). Refreshing re-runs every panel through disclosure control.",
	Panels: []sde.Panel{
		{Title: "People on a long-term-condition register, by deprivation decile (1 = most deprived)", Chart: "bar", X: "imd_decile", Y: "people",
			SQL: "SELECT p.imd_decile, count(DISTINCT e.person_id) AS people FROM gp_events e JOIN patients p ON p.person_id = e.person_id WHERE e.event_type = 'diagnosis' GROUP BY p.imd_decile ORDER BY p.imd_decile"},
		{Title: "People on a register, by age band", Chart: "bar", X: "age_band", Y: "people",
			SQL: "SELECT (2025 - year(p.birth_month)) // 10 * 10 AS age_band, count(DISTINCT e.person_id) AS people FROM gp_events e JOIN patients p ON p.person_id = e.person_id WHERE e.event_type = 'diagnosis' GROUP BY age_band ORDER BY age_band"},
		{Title: "Emergency admissions by month", Chart: "line", X: "month", Y: "admissions",
			SQL: "SELECT date_trunc('month', admission_date) AS month, count(*) AS admissions FROM hospital_admissions WHERE admission_method = 'emergency' GROUP BY month ORDER BY month"},
	},
}

// demoDashboard creates the demo dashboard once.
func (m *Main) demoDashboard(ctx context.Context) error {
	as := sde.WithPrincipal(ctx, store.DevPrincipal("analyst1"))
	ds, err := m.Store.Dashboards.List(as, store.DevWorkspace)
	if err != nil || len(ds) > 0 {
		return err
	}
	d := demoDashboard
	d.Panels = slices.Clone(d.Panels)
	if _, _, err := m.Query.CreateDashboard(as, &d); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "sde: created the demo dashboard %q (%d panels)\n", d.Title, len(d.Panels))
	return nil
}

// runServe is `sde serve`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	m := NewMain(stdout, stderr)
	if err := m.ParseFlags(args, stderr); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "sde: shutting down")
	return m.Close()
}
