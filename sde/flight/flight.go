// Package flight serves workspaces over Arrow Flight SQL, running every statement through the same query path as the REST API.
package flight

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
	"github.com/opensde/sde/workspaces/query"
)

// WorkspaceHeader is the gRPC metadata key (HTTP/2 header) that chooses the workspace a
// connection works in.
const WorkspaceHeader = "x-sde-workspace"

// TicketTTL is how long a statement's ticket may wait for its DoGet.
const TicketTTL = 5 * time.Minute

// Verifier checks a bearer token (auth.Verifier).
type Verifier interface {
	Verify(ctx context.Context, raw string) (*sde.Principal, error)
}

// Options configure a Server.
type Options struct {
	Query    *query.Service // required: the one query path
	Verifier Verifier       // required
	Audit    audit.Appender // optional: each statement and refusal is recorded
	// TLS, if set, serves gRPC over TLS; otherwise plaintext (for localhost).
	TLS *tls.Config
	// Version is reported by GetSqlInfo.
	Version string
	Now     func() time.Time
}

// Server is the Flight SQL endpoint.
type Server struct {
	flightsql.BaseServer
	o    Options
	srv  flight.Server
	done chan struct{}

	mu      sync.Mutex
	tickets map[string]ticket
}

type ticket struct {
	user    sde.UserID
	ws      sde.WorkspaceID
	sql     string
	expires time.Time
}

// LoadTLS builds a server TLS config from PEM files.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINVALID, "Cannot load the Flight SQL TLS certificate and key.")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// New builds the server; Listen starts it.
func New(o Options) (*Server, error) {
	if o.Query == nil || o.Verifier == nil {
		return nil, sde.Errorf(sde.EINTERNAL, "The Flight SQL server needs the query service and a token verifier.")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, tickets: map[string]ticket{}}
	s.BaseServer.Alloc = memory.DefaultAllocator
	for id, v := range map[flightsql.SqlInfo]any{
		flightsql.SqlInfoFlightSqlServerName:         "SDE",
		flightsql.SqlInfoFlightSqlServerVersion:      o.Version,
		flightsql.SqlInfoFlightSqlServerArrowVersion: "18",
		flightsql.SqlInfoFlightSqlServerReadOnly:     true,
		flightsql.SqlInfoFlightSqlServerSql:          true,
		flightsql.SqlInfoFlightSqlServerSubstrait:    false,
		flightsql.SqlInfoFlightSqlServerTransaction:  int32(flightsql.SqlTransactionNone),
		flightsql.SqlInfoFlightSqlServerCancel:       false,
	} {
		if err := s.RegisterSqlInfo(id, v); err != nil {
			return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot register Flight SQL server information.")
		}
	}
	mw := flight.ServerMiddleware{Unary: s.unaryAuth, Stream: s.streamAuth}
	var opts []grpc.ServerOption
	if o.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.TLS)))
	}
	s.srv = flight.NewServerWithMiddleware([]flight.ServerMiddleware{mw}, opts...)
	s.srv.RegisterFlightService(flightsql.NewFlightServer(s))
	return s, nil
}

// Listen binds addr and serves in the background.
func (s *Server) Listen(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return sde.Wrap(err, sde.EINVALID, "Cannot listen for Flight SQL on %s.", addr)
	}
	s.srv.InitListener(lis)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.srv.Serve()
	}()
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.srv.Addr().String() }

// Close stops the server, ending open streams.
func (s *Server) Close() error {
	if s.done == nil {
		return nil
	}
	s.srv.Shutdown()
	<-s.done
	s.done = nil
	return nil
}

type wsKey struct{}

// authenticate verifies the bearer token and puts the caller and chosen workspace in the context.
func (s *Server) authenticate(ctx context.Context, method string) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var raw string
	for _, v := range md.Get("authorization") {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			raw = strings.TrimSpace(v[7:])
		}
	}
	if raw == "" {
		s.audit(ctx, audit.Event{Action: audit.ActionAuthRefused, Outcome: audit.OutcomeRefused, Details: map[string]any{"via": "flight", "method": method}})
		return nil, status.Error(codes.Unauthenticated, "Sign in first: send an OIDC bearer token in the authorization header.")
	}
	p, err := s.o.Verifier.Verify(ctx, raw)
	if err != nil {
		s.audit(ctx, audit.Event{Action: audit.ActionAuthRefused, Outcome: audit.OutcomeRefused, Details: map[string]any{"via": "flight", "method": method, "error": sde.ErrorCode(err)}})
		if sde.ErrorCode(err) == sde.EUNAVAILABLE {
			return nil, Status(err)
		}
		return nil, status.Error(codes.Unauthenticated, sde.ErrorMessage(err))
	}
	ctx = sde.WithPrincipal(ctx, p)
	if v := md.Get(WorkspaceHeader); len(v) > 0 {
		ctx = context.WithValue(ctx, wsKey{}, sde.WorkspaceID(strings.TrimSpace(v[len(v)-1])))
	}
	return ctx, nil
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := s.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := s.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, &authedStream{ServerStream: ss, ctx: ctx})
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *authedStream) Context() context.Context { return a.ctx }

// workspace is the connection's workspace.
func workspace(ctx context.Context) (sde.WorkspaceID, error) {
	ws, _ := ctx.Value(wsKey{}).(sde.WorkspaceID)
	if ws == "" {
		return "", status.Error(codes.InvalidArgument, "Choose a workspace: send the gRPC header "+WorkspaceHeader+" with the workspace's name.")
	}
	return ws, nil
}

// Status maps an error to a gRPC status carrying only the user-safe message.
func Status(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !isSDE(err) {
		return err
	}
	c := codes.Internal
	switch sde.ErrorCode(err) {
	case sde.EINVALID, sde.ETOOLARGE:
		c = codes.InvalidArgument
	case sde.EREFUSED:
		c = codes.FailedPrecondition
	case sde.EFORBIDDEN:
		c = codes.PermissionDenied
	case sde.EUNAUTHORIZED:
		c = codes.Unauthenticated
	case sde.ENOTFOUND:
		c = codes.NotFound
	case sde.EUNAVAILABLE:
		c = codes.Unavailable
	case sde.ETOOMANY:
		c = codes.ResourceExhausted
	case sde.ECONFLICT:
		c = codes.Aborted
	}
	return status.Error(c, sde.ErrorMessage(err))
}

func isSDE(err error) bool {
	var e *sde.Error
	return errors.As(err, &e)
}

func (s *Server) audit(ctx context.Context, ev audit.Event) error {
	if s.o.Audit == nil {
		return nil
	}
	if p, ok := peerAddr(ctx); ok {
		ev.RemoteAddr = p
	}
	_, err := s.o.Audit.Append(context.WithoutCancel(ctx), ev)
	return err
}

func newID() string {
	b := make([]byte, 18)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func peerAddr(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "", false
	}
	return p.Addr.String(), true
}
