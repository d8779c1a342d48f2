package httpapi

import (
	_ "embed"
	"net/http"
)

// openapiYAML documents every endpoint; TestOpenAPIMatchesRoutes keeps it and routes() in step.
//
//go:embed openapi.yaml
var openapiYAML []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(openapiYAML)
	return err
}
