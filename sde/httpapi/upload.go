package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
	"github.com/opensde/sde/sde/catalog"
)

// uploadVersion receives a new version of a dataset from its controller. The body is the source
// file (CSV, Parquet or Arrow IPC). It is streamed into a memory-backed file, never to disk,
// because it still holds raw NHS numbers; then it is ingested as a job. The answer is 202 with
// the job (poll GET /api/v1/ingests/{id} for progress and the report), or with ?wait=true the
// finished report itself.
func (s *Server) uploadVersion(w http.ResponseWriter, r *http.Request) error {
	name := sde.DatasetName(r.PathValue("name"))
	target(r, "", string(name))
	p := sde.PrincipalFrom(r.Context())
	d, err := s.Datasets.Get(r.Context(), name)
	if err != nil {
		return err
	}
	if !p.Has(sde.RoleController) || p.Organisation != d.Controller {
		return sde.Errorf(sde.EFORBIDDEN, "Only a data controller of the organisation that controls %q may upload its versions.", name)
	}
	spec, err := catalog.ReadSpec(strings.NewReader(string(d.Spec)))
	if err != nil {
		return err
	}
	format, err := uploadFormat(r)
	if err != nil {
		return err
	}
	filename := r.URL.Query().Get("filename")
	if filename == "" || strings.ContainsAny(filename, "/\\") || len(filename) > 200 {
		filename = string(name) + "." + format
	}
	f, path, err := memFile(string(name))
	if err != nil {
		return err
	}
	n, err := io.Copy(f, http.MaxBytesReader(w, r.Body, s.MaxUpload))
	if err != nil {
		f.Close()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return sde.Errorf(sde.ETOOLARGE, "The upload is larger than the limit of %d bytes.", s.MaxUpload)
		}
		return sde.Wrap(err, sde.EINVALID, "The upload was interrupted; nothing was stored.")
	}
	detail(r, "bytes", n)
	job := s.ingests.start(p, name)
	detail(r, "job", job.ID)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer f.Close()
		rep, err := s.Catalog.Ingest(s.ingests.context(), catalog.IngestOptions{
			Spec: spec, Path: path, SourceName: filename, Format: format, Pseudonymiser: s.Pseudonymiser,
			MemoryLimit: s.IngestMemoryLimit, Threads: s.IngestThreads, Progress: job, CreatedBy: string(p.User),
		})
		ev := audit.FromPrincipal(p, "dataset.version.create", audit.OutcomeOf(err))
		ev.Target = string(name)
		ev.Details = map[string]any{"job": job.ID}
		if err != nil {
			ev.Details["error"] = sde.ErrorCode(err)
		} else {
			ev.Details["version"] = rep.Version
			ev.Details["rows"] = rep.Rows
		}
		if s.Audit != nil {
			if _, aerr := s.Audit.Append(context.Background(), ev); aerr != nil {
				s.Logger.Error("audit append failed after ingest", "job", job.ID, "err", aerr)
			}
		}
		job.finish(rep, err)
	}()
	if v := r.URL.Query().Get("wait"); v == "true" || v == "1" {
		select {
		case <-done:
		case <-r.Context().Done():
		}
		view := job.view()
		if view.Error != nil {
			return job.err
		}
		return writeJSON(w, http.StatusOK, view)
	}
	w.Header().Set("Location", "/api/v1/ingests/"+job.ID)
	return writeJSON(w, http.StatusAccepted, job.view())
}

// uploadFormat takes ?format= or the Content-Type.
func uploadFormat(r *http.Request) (string, error) {
	if f := r.URL.Query().Get("format"); f != "" {
		switch f {
		case "csv", "parquet", "arrow":
			return f, nil
		}
		return "", sde.Errorf(sde.EINVALID, "format must be csv, parquet or arrow.")
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	switch ct {
	case "text/csv", "application/csv":
		return "csv", nil
	case "application/vnd.apache.parquet", "application/x-parquet":
		return "parquet", nil
	case "application/vnd.apache.arrow.file", "application/vnd.apache.arrow.stream":
		return "arrow", nil
	}
	return "", sde.Errorf(sde.EINVALID, "Say what the upload is: Content-Type text/csv, application/vnd.apache.parquet or application/vnd.apache.arrow.file, or ?format=csv|parquet|arrow.")
}

func (s *Server) getIngest(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	target(r, "", id)
	job := s.ingests.get(id)
	// Only the uploader sees a job: others learn nothing, not even that it exists.
	if job == nil || job.owner != sde.PrincipalFrom(r.Context()).User {
		return sde.Errorf(sde.ENOTFOUND, "No such ingest.")
	}
	return writeJSON(w, http.StatusOK, job.view())
}

// ingestJobs tracks uploads being ingested. Jobs live in memory: the outcome that matters, the
// dataset version and its lineage, is on disk; a restart loses only the progress lines.
type ingestJobs struct {
	mu     sync.Mutex
	jobs   map[string]*ingestJob
	ctx    context.Context
	cancel context.CancelFunc
}

func (j *ingestJobs) context() context.Context {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ctx == nil {
		j.ctx, j.cancel = context.WithCancel(context.Background())
	}
	return j.ctx
}

// stop cancels running ingests (at shutdown); they leave no version behind.
func (j *ingestJobs) stop() {
	j.context()
	j.cancel()
}

func (j *ingestJobs) start(p *sde.Principal, name sde.DatasetName) *ingestJob {
	b := make([]byte, 8)
	rand.Read(b)
	job := &ingestJob{ID: hex.EncodeToString(b), Dataset: name, owner: p.User, Started: time.Now().UTC()}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.jobs == nil {
		j.jobs = map[string]*ingestJob{}
	}
	j.jobs[job.ID] = job
	return job
}

func (j *ingestJobs) get(id string) *ingestJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.jobs[id]
}

// ingestJob is one upload's ingest; it is the io.Writer the ingest reports progress to.
type ingestJob struct {
	ID      string
	Dataset sde.DatasetName
	Started time.Time
	owner   sde.UserID

	mu       sync.Mutex
	progress []string
	report   *catalog.Report
	err      error
	finished time.Time
}

// jobView is what GET /api/v1/ingests/{id} returns.
type jobView struct {
	ID       string          `json:"id"`
	Dataset  sde.DatasetName `json:"dataset"`
	State    string          `json:"state"` // running | done | failed
	Started  time.Time       `json:"started"`
	Finished *time.Time      `json:"finished,omitempty"`
	Progress []string        `json:"progress"`
	Report   *catalog.Report `json:"report,omitempty"`
	Error    *errorBody      `json:"error,omitempty"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

const keepProgress = 100

func (j *ingestJob) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		j.progress = append(j.progress, line)
	}
	if len(j.progress) > keepProgress {
		j.progress = j.progress[len(j.progress)-keepProgress:]
	}
	return len(p), nil
}

func (j *ingestJob) finish(rep *catalog.Report, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.report, j.err, j.finished = rep, err, time.Now().UTC()
}

func (j *ingestJob) view() jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := jobView{ID: j.ID, Dataset: j.Dataset, State: "running", Started: j.Started, Progress: append([]string{}, j.progress...), Report: j.report}
	if !j.finished.IsZero() {
		f := j.finished
		v.Finished, v.State = &f, "done"
	}
	if j.err != nil {
		v.State = "failed"
		v.Error = &errorBody{Code: sde.ErrorCode(j.err), Message: sde.ErrorMessage(j.err)}
	}
	return v
}
