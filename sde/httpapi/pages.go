package httpapi

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

//go:embed pages/*.html
var pageFS embed.FS

var pages = template.Must(template.ParseFS(pageFS, "pages/*.html"))

// transparencyPage is the public transparency page: the same record as /api/v1/transparency,
// for people rather than programs. No sign-in, no script, no data, no names of people.
func (s *Server) transparencyPage(w http.ResponseWriter, r *http.Request) error {
	t, err := s.Transparency.Transparency(r.Context())
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, "transparency.html", t); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(b.Bytes())
	return err
}
