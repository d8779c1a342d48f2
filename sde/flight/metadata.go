package flight

import (
	"context"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/workspaces/activate"
)

// The workspace is the catalog; its tables are in one schema.
const dbSchema = "main"

func (s *Server) infoFor(desc *flight.FlightDescriptor, schema *arrow.Schema) *flight.FlightInfo {
	return &flight.FlightInfo{
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: desc.Cmd}}},
		FlightDescriptor: desc,
		Schema:           flight.SerializeSchema(schema, memory.DefaultAllocator),
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

func one(rec arrow.RecordBatch) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	ch := make(chan flight.StreamChunk, 1)
	ch <- flight.StreamChunk{Data: rec}
	close(ch)
	return rec.Schema(), ch, nil
}

func strings1(schema *arrow.Schema, cols ...[]string) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for j, c := range cols {
		b.Field(j).(*array.StringBuilder).AppendValues(c, nil)
	}
	return b.NewRecordBatch()
}

// catalogWorkspace is the workspace a metadata call is about: the catalog it names, else the
// connection's workspace. The caller must be able to view it.
func (s *Server) catalogWorkspace(ctx context.Context, catalog *string) (sde.WorkspaceID, error) {
	var ws sde.WorkspaceID
	if catalog != nil && *catalog != "" {
		ws = sde.WorkspaceID(*catalog)
	} else {
		var err error
		if ws, err = workspace(ctx); err != nil {
			return "", err
		}
	}
	// Metadata calls are on the record like the REST schema browser, refusals included (second
	// security review, F6); if the record cannot be written the call is refused.
	viewErr := s.o.Query.Workspaces.CanView(ctx, ws)
	ev := s.event(ctx, "workspace.tables", ws, viewErr)
	if aerr := s.audit(ctx, ev); aerr != nil {
		return "", status.Error(codes.Unavailable, "The audit log cannot be written, so the request was refused. Try again later.")
	}
	if viewErr != nil {
		return "", Status(viewErr)
	}
	return ws, nil
}

func (s *Server) GetFlightInfoCatalogs(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.infoFor(desc, schema_ref.Catalogs), nil
}

// DoGetCatalogs lists the connection's workspace.
func (s *Server) DoGetCatalogs(ctx context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	ws, err := s.catalogWorkspace(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	return one(strings1(schema_ref.Catalogs, []string{string(ws)}))
}

func (s *Server) GetFlightInfoSchemas(_ context.Context, _ flightsql.GetDBSchemas, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.infoFor(desc, schema_ref.DBSchemas), nil
}

func (s *Server) DoGetDBSchemas(ctx context.Context, cmd flightsql.GetDBSchemas) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	ws, err := s.catalogWorkspace(ctx, cmd.GetCatalog())
	if err != nil {
		return nil, nil, err
	}
	var cats, schemas []string
	if like(cmd.GetDBSchemaFilterPattern(), dbSchema) {
		cats, schemas = []string{string(ws)}, []string{dbSchema}
	}
	return one(strings1(schema_ref.DBSchemas, cats, schemas))
}

func (s *Server) GetFlightInfoTableTypes(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.infoFor(desc, schema_ref.TableTypes), nil
}

func (s *Server) DoGetTableTypes(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return one(strings1(schema_ref.TableTypes, []string{"TABLE"}))
}

func (s *Server) GetFlightInfoTables(_ context.Context, cmd flightsql.GetTables, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if cmd.GetIncludeSchema() {
		return s.infoFor(desc, schema_ref.TablesWithIncludedSchema), nil
	}
	return s.infoFor(desc, schema_ref.Tables), nil
}

// DoGetTables lists the workspace's own tables: the schema browser's data.
func (s *Server) DoGetTables(ctx context.Context, cmd flightsql.GetTables) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	ws, err := s.catalogWorkspace(ctx, cmd.GetCatalog())
	if err != nil {
		return nil, nil, err
	}
	m, err := s.manifest(ctx, ws)
	if err != nil {
		return nil, nil, Status(err)
	}
	schema := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		schema = schema_ref.TablesWithIncludedSchema
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	typeOK := len(cmd.GetTableTypes()) == 0
	for _, t := range cmd.GetTableTypes() {
		typeOK = typeOK || strings.EqualFold(t, "TABLE")
	}
	if typeOK && like(cmd.GetDBSchemaFilterPattern(), dbSchema) {
		for _, d := range m.Datasets {
			if !like(cmd.GetTableNameFilterPattern(), d.Table) {
				continue
			}
			b.Field(0).(*array.StringBuilder).Append(string(ws))
			b.Field(1).(*array.StringBuilder).Append(dbSchema)
			b.Field(2).(*array.StringBuilder).Append(d.Table)
			b.Field(3).(*array.StringBuilder).Append("TABLE")
			if cmd.GetIncludeSchema() {
				b.Field(4).(*array.BinaryBuilder).Append(flight.SerializeSchema(tableSchema(d), memory.DefaultAllocator))
			}
		}
	}
	return one(b.NewRecordBatch())
}

// manifest is the workspace database's manifest, as the REST schema browser reads it.
func (s *Server) manifest(ctx context.Context, ws sde.WorkspaceID) (*activate.Manifest, error) {
	return s.o.Query.Manifest(ctx, ws)
}

// tableSchema describes a workspace table's columns in Arrow types (approximately: only
// aggregates are ever released, so this is for clients' schema browsers).
func tableSchema(d activate.DatasetManifest) *arrow.Schema {
	var fs []arrow.Field
	for _, c := range d.Columns {
		t := strings.ToUpper(c.Type)
		var dt arrow.DataType = arrow.BinaryTypes.String
		switch {
		case t == "BIGINT":
			dt = arrow.PrimitiveTypes.Int64
		case t == "INTEGER":
			dt = arrow.PrimitiveTypes.Int32
		case t == "SMALLINT":
			dt = arrow.PrimitiveTypes.Int16
		case t == "DOUBLE" || strings.HasPrefix(t, "DECIMAL"):
			dt = arrow.PrimitiveTypes.Float64
		case t == "FLOAT" || t == "REAL":
			dt = arrow.PrimitiveTypes.Float32
		case t == "BOOLEAN":
			dt = arrow.FixedWidthTypes.Boolean
		case t == "DATE":
			dt = arrow.FixedWidthTypes.Date32
		case strings.HasPrefix(t, "TIMESTAMP"):
			dt = arrow.FixedWidthTypes.Timestamp_us
		}
		fs = append(fs, arrow.Field{Name: c.Name, Type: dt, Nullable: true})
	}
	return arrow.NewSchema(fs, nil)
}

// like matches s against a SQL LIKE pattern (% and _); nil matches everything.
func like(pattern *string, s string) bool {
	if pattern == nil {
		return true
	}
	var re strings.Builder
	re.WriteString("^")
	for _, r := range *pattern {
		switch r {
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	ok, _ := regexp.MatchString(re.String(), s)
	return ok
}
