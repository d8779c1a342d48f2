package httpapi

import (
	"mime"
	"net/http"
	"strconv"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/workspaces/query"
)

// dashboardView is a dashboard with the latest result of each panel.
type dashboardView struct {
	*sde.Dashboard
	Results []sde.PanelResult `json:"results"`
}

func (s *Server) createDashboard(w http.ResponseWriter, r *http.Request) error {
	ws := sde.WorkspaceID(r.PathValue("ws"))
	target(r, ws, "")
	var d sde.Dashboard
	if err := decode(r, &d); err != nil {
		return err
	}
	d.Workspace = ws
	got, results, err := s.Query.CreateDashboard(r.Context(), &d)
	if err != nil {
		return err
	}
	target(r, ws, got.ID)
	return writeJSON(w, http.StatusCreated, dashboardView{got, results})
}

func (s *Server) listDashboards(w http.ResponseWriter, r *http.Request) error {
	ws := sde.WorkspaceID(r.PathValue("ws"))
	target(r, ws, "")
	ds, err := s.Dashboards.List(r.Context(), ws)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"dashboards": ds})
}

func (s *Server) getDashboard(w http.ResponseWriter, r *http.Request) error {
	ws, id := sde.WorkspaceID(r.PathValue("ws")), r.PathValue("id")
	target(r, ws, id)
	d, results, err := s.Dashboards.Get(r.Context(), ws, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, dashboardView{d, results})
}

func (s *Server) refreshDashboard(w http.ResponseWriter, r *http.Request) error {
	ws, id := sde.WorkspaceID(r.PathValue("ws")), r.PathValue("id")
	target(r, ws, id)
	d, results, err := s.Query.Refresh(r.Context(), ws, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, dashboardView{d, results})
}

// dashboardHistory lists every refresh of the dashboard's panels: the release history.
func (s *Server) dashboardHistory(w http.ResponseWriter, r *http.Request) error {
	ws, id := sde.WorkspaceID(r.PathValue("ws")), r.PathValue("id")
	target(r, ws, id)
	h, err := s.Dashboards.History(r.Context(), ws, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"releases": h})
}

// panelCSV downloads the latest released result of one panel as CSV (suppressed cells empty).
func (s *Server) panelCSV(w http.ResponseWriter, r *http.Request) error {
	ws, id := sde.WorkspaceID(r.PathValue("ws")), r.PathValue("id")
	target(r, ws, id)
	n, err := strconv.Atoi(r.PathValue("panel"))
	if err != nil {
		return sde.Errorf(sde.EINVALID, "The panel is a number.")
	}
	_, results, err := s.Dashboards.Get(r.Context(), ws, id)
	if err != nil {
		return err
	}
	for _, pr := range results {
		if pr.Panel != n {
			continue
		}
		if pr.Error != nil || len(pr.Result) == 0 {
			return sde.Errorf(sde.ENOTFOUND, "The panel has no released result; refresh the dashboard.")
		}
		var res query.Result
		if err := decodeResult(pr.Result, &res); err != nil {
			return sde.Wrap(err, sde.EINTERNAL, "The stored result cannot be read.")
		}
		detail(r, "download", true)
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": id + "-panel-" + strconv.Itoa(n) + ".csv"}))
		return writeResult(w, formatCSV, &res)
	}
	return sde.Errorf(sde.ENOTFOUND, "No such panel.")
}
