package store

import (
	"context"
	"database/sql/driver"
	"reflect"
	"strings"

	"modernc.org/sqlite"
)

// The store's SQL is a fixed set of texts run over and over (a query's path reads the
// workspace's nine tables twice), and compiling a text costs SQLite more than running it:
// 33 µs against 13 µs for a one-row lookup, a millisecond per query in all. So each connection
// keeps its compiled statements, keyed by text. database/sql's own Stmt cannot do this through
// a transaction without the callers preparing each text by hand.

// maxCachedStmts bounds a connection's kept statements; texts past it are compiled each time.
const maxCachedStmts = 256

// stmtConnector opens modernc.org/sqlite connections that keep their statements.
type stmtConnector struct {
	dsn string
	drv *sqlite.Driver
}

func (c *stmtConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &stmtConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c *stmtConnector) Driver() driver.Driver { return c.drv }

// stmtConn is one connection and its kept statements. database/sql uses a connection from one
// goroutine at a time, so the map needs no lock.
type stmtConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

// cachedStmt is a compiled statement; busy while rows read from it are open, when a nested
// use of the same text (a query inside another's row loop) gets a statement of its own.
type cachedStmt struct {
	st   driver.Stmt
	busy bool
}

// stmt returns the kept statement for query, compiling it on first use; nil when query should
// not be kept (a script of several statements, or the cache is full) or the statement is busy.
func (c *stmtConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if cs := c.stmts[query]; cs != nil {
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	if strings.Contains(query, ";") || len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{st: st}
	c.stmts[query] = cs
	return cs, nil
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &stmtRows{Rows: rows, cs: cs}, nil
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	return cs.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *stmtConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *stmtConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *stmtConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *stmtConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *stmtConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// Close finalises the kept statements before the connection: SQLite will not close a
// connection with statements still open.
func (c *stmtConn) Close() error {
	for _, cs := range c.stmts {
		cs.st.Close()
	}
	clear(c.stmts)
	return c.Conn.Close()
}

// stmtRows frees its statement for the next use when closed.
type stmtRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *stmtRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	return err
}

func (r *stmtRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.Rows.(driver.RowsColumnTypeDatabaseTypeName).ColumnTypeDatabaseTypeName(i)
}

func (r *stmtRows) ColumnTypeScanType(i int) reflect.Type {
	return r.Rows.(driver.RowsColumnTypeScanType).ColumnTypeScanType(i)
}

func (r *stmtRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	return r.Rows.(driver.RowsColumnTypeNullable).ColumnTypeNullable(i)
}
