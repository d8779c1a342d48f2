package httpapi

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes: every route is documented and every documented operation is routed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	documented := map[string]bool{}
	pathRe := regexp.MustCompile(`^  (/\S*):\s*$`)
	opRe := regexp.MustCompile(`^    (get|post|put|patch|delete):`)
	var path string
	sc := bufio.NewScanner(bytes.NewReader(openapiYAML))
	for sc.Scan() {
		line := sc.Text()
		if m := pathRe.FindStringSubmatch(line); m != nil {
			path = m[1]
		} else if strings.HasPrefix(line, "components:") {
			path = ""
		} else if m := opRe.FindStringSubmatch(line); m != nil && path != "" {
			documented[strings.ToUpper(m[1])+" "+path] = true
		}
	}
	s := &Server{}
	routed := map[string]bool{}
	for _, rt := range s.routes() {
		op := rt.Method + " " + rt.Pattern
		routed[op] = true
		if !documented[op] {
			t.Errorf("%s is routed but not in openapi.yaml", op)
		}
	}
	for op := range documented {
		if !routed[op] {
			t.Errorf("%s is in openapi.yaml but not routed", op)
		}
	}
	if len(routed) < 20 {
		t.Fatalf("only %d routes found; the scan is broken", len(routed))
	}
}
