package flight

import (
	"context"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
	"github.com/opensde/sde/workspaces/query"
)

// StatusSuffix names the status column that follows each measure (query.StatusSuffix).
const StatusSuffix = query.StatusSuffix

// maxSQL bounds a statement, as the REST API bounds its body.
const maxSQL = 1 << 20

// GetFlightInfoStatement checks the caller may use the workspace and issues a single-use ticket
// bound to the caller, the workspace and the SQL. The query runs on DoGet.
func (s *Server) GetFlightInfoStatement(ctx context.Context, cmd flightsql.StatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	sql := cmd.GetQuery()
	if strings.TrimSpace(sql) == "" {
		return nil, status.Error(codes.InvalidArgument, "Send a SQL statement.")
	}
	if len(sql) > maxSQL {
		return nil, status.Error(codes.InvalidArgument, "The statement is too long.")
	}
	if len(cmd.GetTransactionId()) > 0 {
		return nil, status.Error(codes.InvalidArgument, "Transactions are not supported; the workspace is read-only.")
	}
	if err := s.o.Query.Workspaces.CanQuery(ctx, ws); err != nil {
		s.audit(ctx, s.event(ctx, audit.ActionQueryRun, ws, err))
		return nil, Status(err)
	}
	p := sde.PrincipalFrom(ctx)
	id := newID()
	now := s.o.Now()
	s.mu.Lock()
	for k, t := range s.tickets {
		if now.After(t.expires) {
			delete(s.tickets, k)
		}
	}
	s.tickets[id] = ticket{user: p.User, ws: ws, sql: sql, expires: now.Add(TicketTTL)}
	s.mu.Unlock()
	tkt, err := flightsql.CreateStatementQueryTicket([]byte(id))
	if err != nil {
		return nil, status.Error(codes.Internal, "Internal error.")
	}
	return &flight.FlightInfo{
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: tkt}}},
		FlightDescriptor: desc,
		TotalRecords:     -1,
		TotalBytes:       -1,
	}, nil
}

// DoGetStatement redeems a ticket: the SQL runs through query.Service.Run, exactly as a REST
// query does, and the released result is streamed.
func (s *Server) DoGetStatement(ctx context.Context, cmd flightsql.StatementQueryTicket) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	id := string(cmd.GetStatementHandle())
	p := sde.PrincipalFrom(ctx)
	s.mu.Lock()
	t, ok := s.tickets[id]
	if ok && t.user == p.User {
		delete(s.tickets, id) // single use
	}
	s.mu.Unlock()
	if !ok || s.o.Now().After(t.expires) {
		return nil, nil, status.Error(codes.NotFound, "This ticket is unknown, already used or expired; execute the statement again.")
	}
	if t.user != p.User {
		s.audit(ctx, s.event(ctx, audit.ActionQueryRun, t.ws, sde.Errorf(sde.EFORBIDDEN, "ticket of another user")))
		return nil, nil, status.Error(codes.PermissionDenied, "This ticket was issued to another user.")
	}
	res, err := s.o.Query.Run(ctx, t.ws, t.sql)
	ev := s.event(ctx, audit.ActionQueryRun, t.ws, err)
	if res != nil {
		ev.Details["query"], ev.Details["release"], ev.Details["status"] = res.QueryID, res.Release, res.Status
	}
	if aerr := s.audit(ctx, ev); aerr != nil {
		return nil, nil, status.Error(codes.Unavailable, "The audit log cannot be written, so the request was refused. Try again later.")
	}
	if err != nil {
		return nil, nil, Status(err)
	}
	if res.Status != sde.ReleaseReleased {
		msg := res.Message
		if msg == "" {
			msg = "The result was not released."
		}
		return nil, nil, status.Errorf(codes.FailedPrecondition, "%s (query %s)", msg, res.QueryID)
	}
	rec, err := res.Arrow()
	if err != nil {
		return nil, nil, Status(err)
	}
	ch := make(chan flight.StreamChunk, 1)
	ch <- flight.StreamChunk{Data: rec}
	close(ch)
	return rec.Schema(), ch, nil
}

// event is the audit record of a statement, like the REST API's query.run.
func (s *Server) event(ctx context.Context, action string, ws sde.WorkspaceID, err error) audit.Event {
	ev := audit.FromPrincipal(sde.PrincipalFrom(ctx), action, audit.OutcomeOf(err))
	ev.Workspace = ws
	ev.Details = map[string]any{"via": "flight"}
	if err != nil {
		ev.Details["error"] = sde.ErrorCode(err)
	}
	return ev
}

// Prepared statements are refused: every statement is analysed and released on its own.
const preparedRefusal = "Prepared statements are not supported; send the query as a statement."

func (s *Server) CreatePreparedStatement(context.Context, flightsql.ActionCreatePreparedStatementRequest) (flightsql.ActionCreatePreparedStatementResult, error) {
	return flightsql.ActionCreatePreparedStatementResult{}, status.Error(codes.Unimplemented, preparedRefusal)
}

func (s *Server) GetFlightInfoPreparedStatement(context.Context, flightsql.PreparedStatementQuery, *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return nil, status.Error(codes.Unimplemented, preparedRefusal)
}

func (s *Server) DoGetPreparedStatement(context.Context, flightsql.PreparedStatementQuery) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return nil, nil, status.Error(codes.Unimplemented, preparedRefusal)
}
