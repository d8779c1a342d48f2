package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
	"github.com/opensde/sde/sde/catalog"
)

// maxJSONBody bounds request bodies other than dataset uploads.
const maxJSONBody = 1 << 20

// decode reads a JSON request body of at most maxJSONBody bytes into v; unknown fields are an
// error so typos are caught, and a longer body is ETOOLARGE rather than cut-off JSON.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return sde.Wrap(err, sde.EINVALID, "The request body could not be read.")
	}
	if len(body) > maxJSONBody {
		return sde.Errorf(sde.ETOOLARGE, "The request body is larger than %d KiB.", maxJSONBody>>10)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return sde.Errorf(sde.EINVALID, "The request body is empty; send a JSON object.")
		}
		return sde.Wrap(err, sde.EINVALID, "The request body is not valid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, sde.PrincipalFrom(r.Context()))
}

func (s *Server) listOrganisations(w http.ResponseWriter, r *http.Request) error {
	orgs, err := s.Organisations.List(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organisations": orgs})
}

func (s *Server) registerOrganisation(w http.ResponseWriter, r *http.Request) error {
	var o sde.Organisation
	if err := decode(r, &o); err != nil {
		return err
	}
	target(r, "", string(o.Code))
	if err := s.Organisations.Register(r.Context(), &o); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, o)
}

func (s *Server) listPeople(w http.ResponseWriter, r *http.Request) error {
	people, err := s.People.List(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"people": people})
}

func (s *Server) registerPerson(w http.ResponseWriter, r *http.Request) error {
	var p sde.Person
	if err := decode(r, &p); err != nil {
		return err
	}
	target(r, "", string(p.ID))
	if err := s.People.Register(r.Context(), &p); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, p)
}

// datasetView is a catalogue entry with the lineage of its stored versions; never any data.
type datasetView struct {
	*sde.Dataset
	Versions []catalog.Lineage `json:"versions"`
}

func (s *Server) datasetView(d *sde.Dataset, all bool) (datasetView, error) {
	v := datasetView{Dataset: d, Versions: []catalog.Lineage{}}
	vs, err := s.Catalog.Versions(d.Name)
	if err != nil {
		return v, err
	}
	if !all && len(vs) > 1 {
		vs = vs[len(vs)-1:]
	}
	for _, n := range vs {
		l, err := s.Catalog.Lineage(d.Name, n)
		if err != nil {
			return v, err
		}
		v.Versions = append(v.Versions, *l)
	}
	return v, nil
}

func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.Datasets.List(r.Context())
	if err != nil {
		return err
	}
	out := []datasetView{}
	for _, d := range ds {
		v, err := s.datasetView(d, false)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"datasets": out})
}

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request) error {
	name := sde.DatasetName(r.PathValue("name"))
	target(r, "", string(name))
	d, err := s.Datasets.Get(r.Context(), name)
	if err != nil {
		return err
	}
	v, err := s.datasetView(d, true)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) datasetUsage(w http.ResponseWriter, r *http.Request) error {
	name := sde.DatasetName(r.PathValue("name"))
	target(r, "", string(name))
	u, err := s.Datasets.Usage(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// registerDataset takes {"spec": {...}} in the sde/catalog spec format.
func (s *Server) registerDataset(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if len(body.Spec) == 0 {
		return sde.Errorf(sde.EINVALID, "Send the dataset spec as {\"spec\": {...}}.")
	}
	spec, err := catalog.ReadSpec(strings.NewReader(string(body.Spec)))
	if err != nil {
		return err
	}
	target(r, "", string(spec.Name))
	d := &sde.Dataset{Name: spec.Name, Spec: body.Spec}
	if err := s.Datasets.Register(r.Context(), d); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, d)
}

func (s *Server) listAgreements(w http.ResponseWriter, r *http.Request) error {
	as, err := s.Agreements.List(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"agreements": as})
}

func (s *Server) createAgreement(w http.ResponseWriter, r *http.Request) error {
	var a sde.Agreement
	if err := decode(r, &a); err != nil {
		return err
	}
	if err := s.Agreements.Create(r.Context(), &a); err != nil {
		return err
	}
	target(r, "", string(a.ID))
	return writeJSON(w, http.StatusCreated, a)
}

func (s *Server) getAgreement(w http.ResponseWriter, r *http.Request) error {
	id := sde.AgreementID(r.PathValue("id"))
	target(r, "", string(id))
	a, err := s.Agreements.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) signAgreement(w http.ResponseWriter, r *http.Request) error {
	id := sde.AgreementID(r.PathValue("id"))
	target(r, "", string(id))
	a, err := s.Agreements.Sign(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

// reasonBody is {"reason": "..."} for revocations and archiving.
type reasonBody struct {
	Reason string `json:"reason"`
}

func (s *Server) revokeAgreement(w http.ResponseWriter, r *http.Request) error {
	id := sde.AgreementID(r.PathValue("id"))
	target(r, "", string(id))
	var b reasonBody
	if err := decode(r, &b); err != nil {
		return err
	}
	a, err := s.Agreements.Revoke(r.Context(), id, b.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := sde.WorkspaceFilter{
		State:     q.Get("state"),
		Agreement: sde.AgreementID(q.Get("agreement")),
		Dataset:   sde.DatasetName(q.Get("dataset")),
		Member:    sde.UserID(q.Get("member")),
	}
	ws, err := s.Workspaces.List(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"workspaces": ws})
}

func (s *Server) requestWorkspace(w http.ResponseWriter, r *http.Request) error {
	var ws sde.Workspace
	if err := decode(r, &ws); err != nil {
		return err
	}
	target(r, sde.WorkspaceID(ws.Name), "")
	if err := s.Workspaces.Request(r.Context(), &ws); err != nil {
		return err
	}
	target(r, ws.ID, "") // the store names the workspace
	return writeJSON(w, http.StatusCreated, ws)
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	id := sde.WorkspaceID(r.PathValue("ws"))
	target(r, id, "")
	ws, err := s.Workspaces.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ws)
}

func (s *Server) workspaceHistory(w http.ResponseWriter, r *http.Request) error {
	id := sde.WorkspaceID(r.PathValue("ws"))
	target(r, id, "")
	h, err := s.Workspaces.History(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"events": h})
}

func (s *Server) decideWorkspace(w http.ResponseWriter, r *http.Request) error {
	id := sde.WorkspaceID(r.PathValue("ws"))
	var d sde.Decision
	if err := decode(r, &d); err != nil {
		return err
	}
	target(r, id, string(d.Dataset))
	detail(r, "verdict", d.Verdict)
	ws, err := s.Workspaces.Decide(r.Context(), id, d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ws)
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) error {
	id := sde.WorkspaceID(r.PathValue("ws"))
	var b struct {
		User sde.UserID `json:"user"`
		Role sde.Role   `json:"role"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	target(r, id, string(b.User))
	ws, err := s.Workspaces.AddMember(r.Context(), id, b.User, b.Role)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ws)
}

func (s *Server) confirmMember(w http.ResponseWriter, r *http.Request) error {
	id, user := sde.WorkspaceID(r.PathValue("ws")), sde.UserID(r.PathValue("user"))
	target(r, id, string(user))
	ws, err := s.Workspaces.ConfirmMember(r.Context(), id, user)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ws)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) error {
	id, user := sde.WorkspaceID(r.PathValue("ws")), sde.UserID(r.PathValue("user"))
	target(r, id, string(user))
	ws, err := s.Workspaces.RemoveMember(r.Context(), id, user)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ws)
}

func (s *Server) archiveWorkspace(w http.ResponseWriter, r *http.Request) error {
	id := sde.WorkspaceID(r.PathValue("ws"))
	target(r, id, "")
	var b reasonBody
	if err := decode(r, &b); err != nil {
		return err
	}
	ws, err := s.Workspaces.Archive(r.Context(), id, b.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ws)
}

// exportAudit streams matching audit records as JSON lines; administrators only, since the log
// names everyone's activity.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request) error {
	if !sde.PrincipalFrom(r.Context()).Has(sde.RoleAdmin) {
		return sde.Errorf(sde.EFORBIDDEN, "Only administrators may export the audit log.")
	}
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Workspace: q.Get("workspace"), Action: q.Get("action"), Outcome: q.Get("outcome")}
	for name, t := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			parsed, err := parseTime(v)
			if err != nil {
				return sde.Errorf(sde.EINVALID, "%s must be a date (YYYY-MM-DD) or an RFC 3339 time.", name)
			}
			*t = parsed
		}
	}
	fh, err := os.Open(s.AuditPath)
	if err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "The audit log cannot be read.")
	}
	defer fh.Close()
	w.Header().Set("Content-Type", "application/x-ndjson")
	if _, err := audit.Export(fh, w, f); err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "The audit log cannot be read.")
	}
	return nil
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}

// transparency is the public record of how data is used: no sign-in, no data, no people.
func (s *Server) transparency(w http.ResponseWriter, r *http.Request) error {
	t, err := s.Transparency.Transparency(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}
