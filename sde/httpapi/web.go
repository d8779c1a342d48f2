package httpapi

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// The web workbench: a page and its script, styles and the chart library, all embedded. The
// assets hold no data and need no sign-in; everything they show comes from the API, which
// checks every request. The chart library is copied from npm by scripts/web.sh.
//
//go:embed web
var webFS embed.FS

// webCSP allows only this site's own scripts and style sheets. Style attributes are allowed
// (style-src-attr) because the chart library's tooltip is markup with style attributes (its
// values escaped); injected <style> elements are not.
const webCSP = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// mountWeb serves the workbench at / and its assets under /static/.
func mountWeb(mux *http.ServeMux) {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	mux.Handle("GET /{$}", webHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, sub, "index.html")
	})))
	mux.Handle("GET /static/", webHeaders(http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // files only, no directory listings
			return
		}
		files.ServeHTTP(w, r)
	}))))
}

func webHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", webCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
