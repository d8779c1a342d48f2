package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/auth"
)

func init() { commands["query"] = runQuery }

// runQuery is `sde query`: an analyst's SQL sent to a running service's REST API, and the
// released result printed with suppressed cells marked. It is a client: everything — access,
// analysis, disclosure control, audit — happens in the service.
func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("query", stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "the service's address")
	ws := fs.String("workspace", "demo", "the workspace to query")
	token := fs.String("token", "", "bearer token (default $SDE_TOKEN)")
	user := fs.String("user", "", "with serve --dev: mint a token for this demo user from --data")
	data := fs.String("data", "sde-data", "with --user: the serve --dev data directory")
	format := fs.String("format", "table", "table, csv or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sde query [--workspace W] [--token T | --user U] [--format table|csv|json] SQL\n\nRuns SQL in a workspace through the service; only disclosure-controlled results come back.\nSuppressed cells print as \"*\" followed by the reason.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(text) == "" {
		fs.Usage()
		return sde.Errorf(sde.EINVALID, "Give the SQL to run.")
	}
	tok := *token
	if tok == "" {
		tok = os.Getenv("SDE_TOKEN")
	}
	if tok == "" && *user != "" {
		var err error
		if tok, err = auth.DevToken(auth.DevIssuerDir(*data), *user, time.Hour, time.Now()); err != nil {
			return err
		}
	}
	if tok == "" {
		return sde.Errorf(sde.EINVALID, "Give a token (--token or $SDE_TOKEN), or --user with serve --dev.")
	}
	body, _ := json.Marshal(map[string]string{"sql": text})
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(*url, "/")+"/api/v1/workspaces/"+*ws+"/queries", bytes.NewReader(body))
	if err != nil {
		return sde.Errorf(sde.EINVALID, "The service address %q is not a URL.", *url)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if *format == "csv" {
		req.Header.Set("Accept", "text/csv")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sde.Wrap(err, sde.EUNAVAILABLE, "Cannot reach the service at %s.", *url)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return sde.Wrap(err, sde.EUNAVAILABLE, "The service's answer was cut short.")
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			return &sde.Error{Code: e.Error.Code, Message: e.Error.Message}
		}
		return sde.Errorf(sde.EUNAVAILABLE, "The service answered %s.", resp.Status)
	}
	switch *format {
	case "csv", "json":
		_, err := stdout.Write(raw)
		return err
	}
	var res struct {
		Status   string
		Message  string
		Columns  []struct{ Name string }
		Rows     [][]any
		Cells    [][]string
		Decision struct{ Status string }
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return sde.Wrap(err, sde.EUNAVAILABLE, "The service's answer is not a query result.")
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for j, c := range res.Columns {
		if j > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c.Name)
	}
	fmt.Fprintln(tw)
	for i, row := range res.Rows {
		for j, v := range row {
			if j > 0 {
				fmt.Fprint(tw, "\t")
			}
			switch st := cell(res.Cells, i, j); {
			case strings.HasPrefix(st, "suppressed:"):
				fmt.Fprint(tw, "*"+strings.TrimPrefix(st, "suppressed:"))
			case v == nil:
				fmt.Fprint(tw, "")
			default:
				fmt.Fprint(tw, v)
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d rows, %s", len(res.Rows), res.Status)
	if res.Message != "" {
		fmt.Fprintf(stdout, ": %s", res.Message)
	}
	fmt.Fprintln(stdout)
	return nil
}

func cell(cells [][]string, i, j int) string {
	if i < len(cells) && j < len(cells[i]) {
		return cells[i][j]
	}
	return ""
}
