package httpapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/workspaces/query"
)

// runQuery is POST /api/v1/workspaces/{ws}/queries {"sql": "..."}. It answers with the released
// result (JSON; CSV or Arrow IPC stream by Accept), or with ?async=true 202 and the query to poll.
func (s *Server) runQuery(w http.ResponseWriter, r *http.Request) error {
	ws := sde.WorkspaceID(r.PathValue("ws"))
	target(r, ws, "")
	var body struct {
		SQL string `json:"sql"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.SQL) == "" {
		return sde.Errorf(sde.EINVALID, `Send the query as {"sql": "SELECT ..."}.`)
	}
	if v := r.URL.Query().Get("async"); v == "true" || v == "1" {
		rec, err := s.Query.Start(r.Context(), ws, body.SQL)
		if err != nil {
			return err
		}
		detail(r, "query", rec.ID)
		w.Header().Set("Location", fmt.Sprintf("/api/v1/workspaces/%s/queries/%s", ws, rec.ID))
		return writeJSON(w, http.StatusAccepted, rec)
	}
	res, err := s.Query.Run(r.Context(), ws, body.SQL)
	if res != nil {
		detail(r, "query", res.QueryID)
		detail(r, "release", res.Release)
		detail(r, "status", res.Status)
		detail(r, "ms", res.Timings)
	}
	if err != nil {
		return err
	}
	return writeResult(w, resultFormat(r), res)
}

// Result formats a client can ask for with Accept; anything else (none, */*, JSON) is JSON.
const (
	formatJSON  = "json"
	formatCSV   = "text/csv"
	formatArrow = "application/vnd.apache.arrow.stream"
)

// resultFormat is the one reading of Accept for results.
func resultFormat(r *http.Request) string {
	// ?format= lets a plain link download (browsers cannot set Accept on one).
	switch r.URL.Query().Get("format") {
	case "csv":
		return formatCSV
	case "arrow":
		return formatArrow
	}
	accept := r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, formatCSV):
		return formatCSV
	case strings.Contains(accept, formatArrow):
		return formatArrow
	}
	return formatJSON
}

// spreadsheetSafe keeps a text value from being run as a formula when a CSV is opened in a
// spreadsheet: a label an analyst chose (a CASE result, a column alias) could otherwise be
// =HYPERLINK(...) in a planner's Excel (third review, F2). Numbers are not text, so negative
// values are untouched.
func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// decodeResult reads a stored result with its numbers as written, so a count of millions
// downloads as digits, not as a float64 in exponent form.
func decodeResult(raw []byte, res *query.Result) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(res)
}

// attachment names the file a browser saves when a download link (?format=) was followed.
func attachment(w http.ResponseWriter, r *http.Request, name, format string) {
	if r.URL.Query().Get("format") == "" {
		return
	}
	ext := map[string]string{formatCSV: ".csv", formatArrow: ".arrows"}[format]
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ext}))
}

// writeResult answers in format. CSV and Arrow carry the released values; the per-cell status is
// in the JSON form and the decision record.
func writeResult(w http.ResponseWriter, format string, res *query.Result) error {
	switch format {
	case formatCSV:
		w.Header().Set("Content-Type", "text/csv")
		cw := csv.NewWriter(w)
		var header []string
		for _, c := range res.Columns {
			header = append(header, spreadsheetSafe(c.Name))
		}
		cw.Write(header)
		for _, row := range res.Rows {
			rec := make([]string, len(row))
			for j, v := range row {
				switch v := v.(type) {
				case nil:
				case string:
					rec[j] = spreadsheetSafe(v)
				case float64:
					rec[j] = strconv.FormatFloat(v, 'f', -1, 64) // never 1.23457e+06
				default: // int64, and json.Number from a stored result
					rec[j] = fmt.Sprint(v)
				}
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	case formatArrow:
		rec, err := res.Arrow()
		if err != nil {
			return err
		}
		defer rec.Release()
		w.Header().Set("Content-Type", "application/vnd.apache.arrow.stream")
		iw := ipc.NewWriter(w, ipc.WithSchema(rec.Schema()))
		if err := iw.Write(rec); err != nil {
			return err
		}
		return iw.Close()
	}
	return writeJSON(w, http.StatusOK, res)
}

// getQuery returns one of the caller's queries: its state, and once done its released result.
func (s *Server) getQuery(w http.ResponseWriter, r *http.Request) error {
	ws, id := sde.WorkspaceID(r.PathValue("ws")), r.PathValue("id")
	target(r, ws, id)
	q, err := s.Queries.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if q.Workspace != ws {
		return sde.Errorf(sde.ENOTFOUND, "No query %s.", id)
	}
	// A finished query downloads as CSV or Arrow when asked; otherwise the record (with the
	// result inside) is JSON.
	if f := resultFormat(r); q.State == sde.QueryDone && f != formatJSON {
		var res query.Result
		if err := decodeResult(q.Result, &res); err != nil {
			return sde.Wrap(err, sde.EINTERNAL, "The stored result cannot be read.")
		}
		detail(r, "download", true)
		attachment(w, r, id, f)
		return writeResult(w, f, &res)
	}
	return writeJSON(w, http.StatusOK, q)
}

// listQueries returns the caller's own queries in a workspace.
func (s *Server) listQueries(w http.ResponseWriter, r *http.Request) error {
	ws := sde.WorkspaceID(r.PathValue("ws"))
	target(r, ws, "")
	qs, err := s.Queries.List(r.Context(), ws)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"queries": qs})
}

// listTables is the schema browser: the workspace's tables and columns, for its members.
func (s *Server) listTables(w http.ResponseWriter, r *http.Request) error {
	ws := sde.WorkspaceID(r.PathValue("ws"))
	target(r, ws, "")
	m, err := s.Query.Manifest(r.Context(), ws)
	if err != nil {
		return err
	}
	type table struct {
		Name    string `json:"name"`
		Dataset string `json:"dataset"`
		Version int    `json:"version"`
		Columns any    `json:"columns"`
	}
	var out []table
	for _, d := range m.Datasets {
		out = append(out, table{Name: d.Table, Dataset: string(d.Dataset), Version: d.SourceVersion, Columns: d.Columns})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"workspace": ws, "tables": out})
}

// reviewQueue lists held results waiting for the calling output checker.
func (s *Server) reviewQueue(w http.ResponseWriter, r *http.Request) error {
	items, err := s.Reviews.Queue(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"reviews": items})
}

// reviewDecide records a checker's verdict on a held result: {"verdict": "approved"|"rejected",
// "comment": "..."}.
func (s *Server) reviewDecide(w http.ResponseWriter, r *http.Request) error {
	id := sde.ReleaseID(r.PathValue("id"))
	var b struct {
		Verdict string `json:"verdict"`
		Comment string `json:"comment"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	target(r, "", string(id))
	detail(r, "verdict", b.Verdict)
	it, err := s.Reviews.Decide(r.Context(), id, b.Verdict, b.Comment)
	if err != nil {
		return err
	}
	target(r, it.Workspace, string(id))
	return writeJSON(w, http.StatusOK, it)
}
