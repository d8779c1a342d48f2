// Package worker runs each workspace's queries in its own sandboxed process and supervises those
// processes from the control plane.
//
// One DuckDB instance is not a tenancy boundary (DESIGN.md, "Known facts"): logging, settings and
// catalogue functions reach across connections, so every active workspace gets its own process
// (`sde worker`) with its own instance that opens only that workspace's database file. The control
// plane talks to it over Arrow Flight (gRPC) on a Unix socket in a private 0700 directory; the one
// operation is DoGet with a ticket holding already-analysed SQL, answered with an Arrow stream.
// Flight rather than a home-made framing: arrow-go ships both ends, gRPC gives cancellation (the
// client's context ends the server's stream context, which interrupts DuckDB) and status codes.
//
// What a worker enforces, in the order it is applied:
//
//  1. It binds its socket (the only file it creates) and makes an empty private directory.
//  2. DuckDB opens the database READ_ONLY and is configured, in order:
//     autoinstall_known_extensions, autoload_known_extensions, allow_community_extensions and
//     allow_persistent_secrets off; secret_directory, home_directory and extension_directory set
//     to the empty private directory; temp_directory empty and max_temp_directory_size 0B
//     (nothing spills to disk); memory_limit; threads; enable_external_access off (after the
//     directories, which DuckDB refuses to change once it is off); disabled_filesystems =
//     LocalFileSystem (with external access off DuckDB still lets read_blob and friends read the
//     database file itself, raw pages and all; the database stays readable through the handle
//     already open); and last lock_configuration. The worker reads the settings back and probes
//     read_blob on its own file, and refuses to serve if anything is off. DuckDB starts before
//     the sandbox because its start-up reads cgroup files and aborts if it cannot; no analyst SQL
//     has run by then.
//  3. Linux: PR_SET_NO_NEW_PRIVS; PR_SET_DUMPABLE=0 and RLIMIT_CORE=0 (its memory holds data: no
//     core files, no ptrace by other processes of the same user).
//  4. Linux Landlock, best effort up to ABI 11 (github.com/landlock-lsm/go-landlock), on every
//     thread including DuckDB's (the kernel's TSYNC from ABI 8; below that libpsx signals each
//     thread in /proc/self/task): no path rules, so no file may be opened, created, written,
//     listed or executed — not even the database, which DuckDB reads through its open handle;
//     ABI >= 4: TCP bind and connect denied; ABI >= 6: abstract Unix sockets and signals scoped to
//     the worker; ABI >= 10: UDP denied too. Not covered below ABI 9: connecting to pathname Unix
//     sockets. The worker then probes itself (read /etc/passwd, write the temp directory, TCP
//     connect to 127.0.0.1), runs a query, and only then prints its ready line: a JSON Sandbox
//     with the ABI in force and the measured outcomes (Pool.Workers returns it). Without Landlock
//     (old kernel, other OS) it still runs on DuckDB's settings alone and says so.
//  5. Every query: exactly one statement, of type SELECT (prepared alone, which does not execute,
//     before it runs), a per-query timeout, and a DuckDB interrupt when the caller goes away.
//     Messages are cut to what the analyst may see: parser, binder and catalogue errors (about
//     the query text and the workspace's own schema) pass with paths and the catalogue name
//     removed; errors that can quote a value (conversion, out of range, invalid input) get a
//     generic message; file, network, extension and settings errors one "not allowed" message.
//     The log gets the error class only, never the text.
//
// Still possible inside a worker, at the DuckDB level, and so refused by the analyser: reading
// settings (duckdb_settings, current_setting: they show the private directory), listing the
// one database (duckdb_databases), and CALL/SELECT enable_logging(), which lock_configuration does
// not stop and which then shows this instance's SQL — of this workspace only, since no other
// workspace shares the process.
//
// The supervisor (Pool) starts a worker on a workspace's first query, reuses it, restarts it after
// a crash (the query that met the dead worker fails with EUNAVAILABLE; the next starts a new
// process), replaces it when the workspace's database file changes, stops it after IdleTimeout,
// and stops all on Close. A worker gets none of the service's environment (no Vault token or
// client secret; only LC_ALL=C), runs in its own process group, is killed if the supervising
// thread dies (PR_SET_PDEATHSIG), and has its stderr copied, prefixed, into the service log.
package worker
