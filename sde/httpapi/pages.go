package httpapi

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"

	"github.com/opensde/sde/sde"
)

//go:embed pages/*.html
var pageFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	// words turns a code such as "in_force" into "in force".
	"words": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
}).ParseFS(pageFS, "pages/*.html"))

// transparencyPage is the public transparency page: the same record as /api/v1/transparency,
// for people rather than programs. No sign-in, no script, no data, no names of people.
func (s *Server) transparencyPage(w http.ResponseWriter, r *http.Request) error {
	t, err := s.Transparency.Transparency(r.Context())
	if err != nil {
		return err
	}
	names := map[sde.OrgCode]string{}
	for _, o := range t.Organisations {
		names[o.Code] = o.Name
	}
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, "transparency.html", struct {
		*sde.Transparency
		OrgNames map[sde.OrgCode]string
	}{t, names}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(b.Bytes())
	return err
}
