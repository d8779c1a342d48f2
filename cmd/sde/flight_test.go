//go:build duckdb_arrow

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"google.golang.org/grpc/credentials"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-adbc/go/adbc"
	adbcflight "github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/opensde/sde/sde/audit"
	"github.com/opensde/sde/sde/auth"
	sdeflight "github.com/opensde/sde/sde/flight"
)

// flightClient connects to the service's Flight SQL endpoint.
func flightClient(t *testing.T, m *Main) *flightsql.Client {
	t.Helper()
	if m.Flight == nil {
		t.Fatal("Flight SQL is not running")
	}
	c, err := flightsql.NewClient(m.Flight.Addr(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// as is a call context carrying user's token (none if "", a bad one if "bad") and the workspace header.
func as(t *testing.T, m *Main, user, ws string) context.Context {
	t.Helper()
	ctx := context.Background()
	switch user {
	case "":
	case "bad":
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer not.a.token")
	default:
		tok, err := auth.DevToken(auth.DevIssuerDir(m.Config.DataDir), user, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	if ws != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, sdeflight.WorkspaceHeader, ws)
	}
	return ctx
}

// readAll reads a FlightInfo's first endpoint into one record.
func readAll(ctx context.Context, c *flightsql.Client, info *flight.FlightInfo) (arrow.RecordBatch, error) {
	rd, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		return nil, err
	}
	return oneRecord(rd)
}

// oneRecord reads a stream into one record (empty, with the schema, if it has no rows).
func oneRecord(rd array.RecordReader) (arrow.RecordBatch, error) {
	defer rd.Release()
	var recs []arrow.RecordBatch
	for rd.Next() {
		r := rd.RecordBatch()
		r.Retain()
		defer r.Release()
		recs = append(recs, r)
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	tbl := array.NewTableFromRecords(rd.Schema(), recs)
	defer tbl.Release()
	tr := array.NewTableReader(tbl, tbl.NumRows()+1)
	defer tr.Release()
	if !tr.Next() {
		return array.NewRecordBatch(rd.Schema(), nil, 0), nil
	}
	r := tr.RecordBatch()
	r.Retain()
	return r, nil
}

func code(err error) codes.Code { return status.Code(err) }

// TestFlightSQL runs queries and metadata calls over Arrow Flight SQL: the same released cells
// as REST, the same refusals, single-use tickets bound to their caller.
func TestFlightSQL(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	c := flightClient(t, m)
	ctx := as(t, m, "analyst1", "demo")
	const q = "SELECT sex, count(*) AS n FROM patients GROUP BY sex ORDER BY sex"

	st, body := newClient(t, m, "analyst1").do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": q}, "")
	if st != 200 {
		t.Fatalf("REST query = %d %v", st, body)
	}
	info, err := c.Execute(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := readAll(ctx, c, info)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if got := strings.Join([]string{rec.Schema().Field(0).Name, rec.Schema().Field(1).Name, rec.Schema().Field(2).Name}, " "); got != "sex n n__status" {
		t.Errorf("columns = %s", got)
	}
	rows, cells := body["rows"].([]any), body["cells"].([]any)
	if int(rec.NumRows()) != len(rows) || len(rows) == 0 {
		t.Fatalf("flight rows %d, REST rows %d", rec.NumRows(), len(rows))
	}
	dims, ns, sts := rec.Column(0).(*array.String), rec.Column(1).(*array.Float64), rec.Column(2).(*array.String)
	for i := range rows {
		row, cell := rows[i].([]any), cells[i].([]any)
		if dims.Value(i) != fmt.Sprint(row[0]) || sts.Value(i) != cell[1] {
			t.Errorf("row %d: flight %s/%s, REST %v/%v", i, dims.Value(i), sts.Value(i), row[0], cell[1])
		}
		switch n := row[1].(type) {
		case nil:
			if !ns.IsNull(i) {
				t.Errorf("row %d: suppressed in REST, %v over Flight", i, ns.Value(i))
			}
		case float64:
			if ns.IsNull(i) || ns.Value(i) != n {
				t.Errorf("row %d: REST %v, Flight %v", i, n, ns.Value(i))
			}
		}
	}

	// A ticket is single use, and only its caller's.
	if _, err := readAll(ctx, c, info); code(err) != codes.NotFound {
		t.Errorf("second DoGet = %v, want NotFound", err)
	}
	info, err = c.Execute(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(as(t, m, "analyst2", "demo"), c, info); code(err) != codes.PermissionDenied {
		t.Errorf("DoGet by another user = %v, want PermissionDenied", err)
	}
	if r, err := readAll(ctx, c, info); err != nil {
		t.Errorf("the owner could not use the ticket after another user tried it: %v", err)
	} else {
		r.Release()
	}

	// Refusals, each with its code and a message without internals.
	run := func(ctx context.Context, sql string) error {
		info, err := c.Execute(ctx, sql)
		if err != nil {
			return err
		}
		r, err := readAll(ctx, c, info)
		if err == nil {
			r.Release()
		}
		return err
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		sql  string
		want codes.Code
	}{
		{"no token", as(t, m, "", "demo"), q, codes.Unauthenticated},
		{"bad token", as(t, m, "bad", "demo"), q, codes.Unauthenticated},
		{"no workspace", as(t, m, "analyst1", ""), q, codes.InvalidArgument},
		// Not a member: the workspace's existence is not disclosed, as over REST.
		{"another workspace", as(t, m, "analyst2", "demo"), q, codes.NotFound},
		// The analyser refuses (EREFUSED): FailedPrecondition.
		{"dangerous SQL", ctx, "SELECT count(*) FROM read_csv('/etc/passwd')", codes.FailedPrecondition},
		{"row-level SQL", ctx, "SELECT * FROM patients", codes.FailedPrecondition},
		{"syntax error", ctx, "SELECT sex, count(* AS n FROM patients GROUP BY sex", codes.InvalidArgument},
	} {
		err := run(tc.ctx, tc.sql)
		if code(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
		if s, _ := status.FromError(err); s != nil && (containsAny(s.Message(), m.Config.DataDir, "/tmp/")) {
			t.Errorf("%s: message leaks a path: %s", tc.name, s.Message())
		}
	}

	// Prepared statements are refused clearly.
	if _, err := c.Prepare(ctx, q); code(err) != codes.Unimplemented {
		t.Errorf("prepare = %v, want Unimplemented", err)
	}

	// Metadata: the workspace's tables only.
	info, err = c.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
	if err != nil {
		t.Fatal(err)
	}
	tables, err := readAll(ctx, c, info)
	if err != nil {
		t.Fatal(err)
	}
	defer tables.Release()
	_, rest := newClient(t, m, "analyst1").do("GET", "/api/v1/workspaces/demo/tables", nil, "")
	want := map[string]bool{}
	for _, tb := range rest["tables"].([]any) {
		want[tb.(map[string]any)["name"].(string)] = true
	}
	names := tables.Column(2).(*array.String)
	if int(tables.NumRows()) != len(want) || len(want) == 0 {
		t.Errorf("GetTables lists %d tables, REST %d", tables.NumRows(), len(want))
	}
	for i := 0; i < names.Len(); i++ {
		if !want[names.Value(i)] || tables.Column(0).(*array.String).Value(i) != "demo" {
			t.Errorf("GetTables lists %s.%s", tables.Column(0).(*array.String).Value(i), names.Value(i))
		}
	}
	if info, err := c.GetTables(as(t, m, "analyst2", "demo"), &flightsql.GetTablesOpts{}); err == nil {
		if _, err := readAll(as(t, m, "analyst2", "demo"), c, info); err == nil {
			t.Errorf("analyst2 listed demo's tables")
		}
	}
	for name, call := range map[string]func(context.Context, ...grpc.CallOption) (*flight.FlightInfo, error){
		"catalogs": c.GetCatalogs, "table types": c.GetTableTypes,
	} {
		info, err := call(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r, err := readAll(ctx, c, info)
		if err != nil || r.NumRows() != 1 {
			t.Errorf("%s: %v rows, %v", name, r, err)
		} else {
			r.Release()
		}
	}
	info, err = c.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := readAll(ctx, c, info); err != nil || r.NumRows() != 1 {
		t.Errorf("schemas: %v", err)
	}
	info, err = c.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName, flightsql.SqlInfoFlightSqlServerReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := readAll(ctx, c, info); err != nil || r.NumRows() != 2 {
		t.Errorf("sql info: %v", err)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestFlightSQLADBC runs a query through the Go ADBC Flight SQL driver, as Python's and R's
// adbc_driver_flightsql do: the same cells as REST, and refusals as ADBC errors.
func TestFlightSQLADBC(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	tok, err := auth.DevToken(auth.DevIssuerDir(m.Config.DataDir), "analyst1", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := adbcflight.NewDriver(memory.DefaultAllocator).NewDatabase(map[string]string{
		adbc.OptionKeyURI:                    "grpc://" + m.Flight.Addr(),
		adbcflight.OptionAuthorizationHeader: "Bearer " + tok,
		adbcflight.OptionRPCCallHeaderPrefix + sdeflight.WorkspaceHeader: "demo",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cn, err := db.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	query := func(sql string) (arrow.RecordBatch, error) {
		st, err := cn.NewStatement()
		if err != nil {
			return nil, err
		}
		defer st.Close()
		if err := st.SetSqlQuery(sql); err != nil {
			return nil, err
		}
		rd, _, err := st.ExecuteQuery(ctx)
		if err != nil {
			return nil, err
		}
		rec, err := oneRecord(rd)
		if err == nil && rec.NumRows() == 0 {
			rec.Release()
			return nil, fmt.Errorf("no rows")
		}
		return rec, err
	}
	const q = "SELECT sex, count(*) AS n FROM patients GROUP BY sex ORDER BY sex"
	_, body := newClient(t, m, "analyst1").do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": q}, "")
	rec, err := query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	rows, cells := body["rows"].([]any), body["cells"].([]any)
	if int(rec.NumRows()) != len(rows) {
		t.Fatalf("ADBC rows %d, REST %d", rec.NumRows(), len(rows))
	}
	for i := range rows {
		row, cell := rows[i].([]any), cells[i].([]any)
		n := rec.Column(1).(*array.Float64)
		got := fmt.Sprint(rec.Column(0).(*array.String).Value(i), " ", rec.Column(2).(*array.String).Value(i))
		if want := fmt.Sprint(row[0], " ", cell[1]); got != want {
			t.Errorf("row %d: ADBC %s, REST %s", i, got, want)
		}
		if v, ok := row[1].(float64); ok && (n.IsNull(i) || n.Value(i) != v) || !ok && !n.IsNull(i) {
			t.Errorf("row %d: ADBC n %v, REST %v", i, n.Value(i), row[1])
		}
	}
	var ae adbc.Error
	if _, err := query("SELECT * FROM patients"); !errors.As(err, &ae) || !strings.Contains(ae.Msg, "SELECT * returns rows") {
		t.Errorf("row-level SQL over ADBC: %v", err)
	}
	if _, err := query("SELECT count(*) FROM read_csv('/etc/passwd')"); err == nil {
		t.Errorf("dangerous SQL over ADBC was not refused")
	}
}

// TestFlightSQLTLS: with a certificate configured, Flight SQL speaks TLS, and a client that
// trusts the certificate can query while a plaintext client cannot connect.
func TestFlightSQLTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	m, _ := startDevWith(t, t.TempDir(), func(m *Main) {
		m.Config.FlightTLSCertFile, m.Config.FlightTLSKeyFile = certFile, keyFile
	})
	c, err := flightsql.NewClient(m.Flight.Addr(), nil, nil, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := as(t, m, "analyst1", "demo")
	info, err := c.Execute(ctx, "SELECT sex, count(*) AS n FROM patients GROUP BY sex")
	if err != nil {
		t.Fatalf("query over TLS: %v", err)
	}
	rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatalf("fetch over TLS: %v", err)
	}
	rdr.Release()
	plain := flightClient(t, m)
	if _, err := plain.Execute(ctx, "SELECT sex, count(*) AS n FROM patients GROUP BY sex"); err == nil {
		t.Error("a plaintext client talked to the TLS endpoint")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a pool trusting it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sde test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestFlightMetadataIsAudited: schema-browser calls over Flight are on the audit log like REST's,
// refusals included (second security review, F6).
func TestFlightMetadataIsAudited(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	c := flightClient(t, m)
	info, err := c.GetTables(as(t, m, "analyst1", "demo"), &flightsql.GetTablesOpts{})
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := c.DoGet(as(t, m, "analyst1", "demo"), info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	if info, err := c.GetTables(as(t, m, "analyst2", "demo"), &flightsql.GetTablesOpts{}); err == nil {
		if _, err := c.DoGet(as(t, m, "analyst2", "demo"), info.Endpoint[0].Ticket); err == nil {
			t.Fatal("analyst2 listed demo's tables")
		}
	}
	f, err := os.Open(audit.Path(m.Config.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	if _, err := audit.Export(f, &out, audit.Filter{Action: "workspace.tables"}); err != nil {
		t.Fatal(err)
	}
	log := out.String()
	if !strings.Contains(log, `"analyst1"`) || !strings.Contains(log, `"analyst2"`) || !strings.Contains(log, `"refused"`) || !strings.Contains(log, `"flight"`) {
		t.Errorf("audit of Flight metadata calls:\n%s", log)
	}
}
