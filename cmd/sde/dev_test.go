package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/auth"
)

// devIssuer serves the development issuer from data as serve --dev does, on a test server.
func devIssuer(t *testing.T, data string) *auth.Verifier {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	dev, err := auth.OpenDevIssuer(auth.DevIssuerOptions{Dir: auth.DevIssuerDir(data), Issuer: auth.DevIssuerURL(srv.Listener.Addr().String())})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(dev.Pattern(), dev)
	v, err := auth.NewVerifier(context.Background(), dev.Config())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDevToken(t *testing.T) {
	data := t.TempDir()
	v := devIssuer(t, data)
	for _, args := range [][]string{
		{"dev", "token", "analyst1", "--data", data},
		{"dev", "token", "--data", data, "--ttl", "5m", "analyst1"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		tok := strings.TrimSpace(out.String())
		if strings.Count(tok, ".") != 2 || strings.Contains(out.String()[:len(out.String())-1], "\n") {
			t.Fatalf("stdout is not one token: %q", out.String())
		}
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("the running issuer refused the token: %v", err)
		}
		if p.User != "analyst1" || p.Organisation != auth.OrgICB || !p.Has(sde.RoleAnalyst) {
			t.Errorf("principal = %+v", p)
		}
	}
}

func TestDevTokenErrors(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"before serve --dev", []string{"dev", "token", "analyst1", "--data", data}, 1, "serve --dev"},
		{"unknown user", []string{"dev", "token", "mallory", "--data", data}, 2, `"mallory" is not a demo user`},
		{"no user", []string{"dev", "token", "--data", data}, 2, "which demo user"},
		{"two users", []string{"dev", "token", "analyst1", "analyst2", "--data", data}, 2, "which demo user"},
		{"bad ttl", []string{"dev", "token", "analyst1", "--ttl", "72h"}, 2, "--ttl"},
		{"no subcommand", []string{"dev"}, 2, "token"},
		{"unknown subcommand", []string{"dev", "mint"}, 2, "unknown dev command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errb); code != tt.code {
				t.Errorf("exit = %d, want %d; stderr %s", code, tt.code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr = %q, want it to mention %q", errb.String(), tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q", out.String())
			}
		})
	}
	// The unknown-user message lists who is available.
	var out, errb bytes.Buffer
	run(context.Background(), []string{"dev", "token", "mallory"}, &out, &errb)
	if !strings.Contains(errb.String(), "controller-gp") {
		t.Errorf("stderr = %q", errb.String())
	}
}
