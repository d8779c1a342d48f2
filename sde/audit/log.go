package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/sde"
)

// Path is where the log of a data directory lives.
func Path(dataDir string) string { return filepath.Join(dataDir, "audit", "audit.jsonl") }

// Messages of the errors Append and Open return; they are safe to show to any caller.
const (
	msgUnavailable = "The audit log cannot be written; the request was refused."
	msgClosed      = "The audit log is closed; the request was refused."
	msgDamaged     = `The audit log is damaged or unreadable; run "sde audit verify".`
	msgInUse       = "The audit log is in use by another process."
)

// tailWindow is how much of the end of the file Open checks. It holds at least one whole
// record after a torn one, since neither can exceed MaxRecordBytes.
const tailWindow = 4 * MaxRecordBytes

// Options configures a Log.
type Options struct {
	// Now is the clock; nil means time.Now. Record times are stored in UTC.
	Now func() time.Time
}

// Log is an open audit log. Append is safe for concurrent use.
//
// Every Append returns only after its record, and every record before it, is written and
// fsynced. Concurrent Appends are committed together (one write and one fsync for all the
// records queued while the previous fsync ran), so throughput grows with concurrency while
// each caller still waits for its own record to be durable.
//
// Fail closed: if a write or fsync fails, the failing Appends and every later one return an
// EUNAVAILABLE *sde.Error until the log is reopened, so the requests they record are refused
// and nothing is ever appended after a half-written record. Reopening checks the tail. The
// error is one-sided: a failed group write can leave whole records of that group in the file
// for requests that were then refused, but no request is ever answered whose record is not.
type Log struct {
	path string
	now  func() time.Time
	f    *os.File
	lock *os.File // holds the exclusive lock on path+".lock"
	// write and sync are f.Write and f.Sync; tests replace them to inject failures.
	write func([]byte) (int, error)
	sync  func() error

	mu       sync.Mutex
	cond     sync.Cond
	seq      int64       // last seq assigned
	head     crypto.Hash // hash of the last record assigned
	pending  []byte      // lines assigned but not yet handed to a flush
	spare    []byte      // the buffer of the previous flush, reused
	durable  int64       // last seq written and fsynced
	dhead    crypto.Hash // its hash
	flushing bool
	closed   bool
	err      *sde.Error // once set, every Append fails with it
}

// Open opens (creating if needed) the log at path, normally Path(dataDir): the file is created
// 0600 in a directory created 0700, and locked against a second writer. It checks the records
// at the end of the file (each one's hash, and the links between them) and resumes the chain
// from the last; a damaged tail is an EUNAVAILABLE error, so the service does not start on a
// log it cannot extend honestly.
//
// A torn final line — bytes after the last newline, left by a crash or a failed write in the
// middle of a record — belongs to a request that was never answered, since Append returns only
// after the whole line is fsynced. Open moves those bytes to "audit.jsonl.torn-<UTC time>"
// beside the log (kept as evidence, never deleted), truncates the log to its last whole record,
// and appends an "audit.recovered" record naming that file and the number of bytes moved.
func Open(path string, opts Options) (*Log, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, msgUnavailable)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, msgUnavailable)
	}
	// The lock is on a sidecar file, not the log: the log may be a device or a symlink to one
	// (tests use /dev/full), and a lock on that would be global.
	lk, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		f.Close()
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, msgUnavailable)
	}
	if err := lockFile(lk); err != nil {
		lk.Close()
		f.Close()
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, msgInUse)
	}
	l := &Log{path: path, now: now, f: f, lock: lk, write: f.Write, sync: f.Sync}
	l.cond.L = &l.mu
	torn, err := l.resume(dir)
	if err == nil && torn != nil {
		err = l.setAside(dir, torn)
	}
	if err != nil {
		f.Close()
		lk.Close()
		return nil, err
	}
	return l, nil
}

// resume locks the file, checks its tail, and sets the chain head; it returns the torn bytes
// after the last newline, if any.
func (l *Log) resume(dir string) ([]byte, error) {
	fi, err := l.f.Stat()
	if err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, msgUnavailable)
	}
	// Others able to write the file could rewrite history; a device (tests use /dev/full) is
	// not a file anyone else keeps.
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o022 != 0 {
		return nil, sde.Wrap(fmt.Errorf("audit log mode %v is writable by others", fi.Mode().Perm()), sde.EUNAVAILABLE, msgUnavailable)
	}
	if fi.Size() == 0 {
		// A new file: make its directory entry durable before anything is acknowledged.
		if fi.Mode().IsRegular() {
			if err := syncDir(dir); err != nil {
				return nil, sde.Wrap(err, sde.EUNAVAILABLE, msgUnavailable)
			}
		}
		return nil, nil
	}
	off := max(fi.Size()-tailWindow, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := l.f.ReadAt(buf, off); err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, msgDamaged)
	}
	end := bytes.LastIndexByte(buf, '\n') + 1
	whole, torn := buf[:end], buf[end:]
	if off > 0 {
		// The window starts inside a record: skip to the next line.
		i := bytes.IndexByte(whole, '\n')
		whole = whole[i+1:]
		if len(whole) == 0 {
			return nil, sde.Wrap(fmt.Errorf("no whole record in the last %d bytes", tailWindow), sde.EUNAVAILABLE, msgDamaged)
		}
	}
	c := &chain{anchored: off == 0}
	for len(whole) > 0 {
		i := bytes.IndexByte(whole, '\n')
		if _, verr := c.check(whole[:i]); verr != nil {
			if off > 0 {
				verr.Line = 0 // counted from the window, not the file
			}
			return nil, sde.Wrap(verr, sde.EUNAVAILABLE, msgDamaged)
		}
		whole = whole[i+1:]
	}
	l.seq, l.head = c.seq, c.head
	l.durable, l.dhead = c.seq, c.head
	if len(torn) == 0 {
		return nil, nil
	}
	return torn, nil
}

// setAside moves a torn final line out of the log and records that it did.
func (l *Log) setAside(dir string, torn []byte) error {
	name := filepath.Base(l.path) + ".torn-" + l.now().UTC().Format("20060102T150405.000000000Z")
	fail := func(err error) error { return sde.Wrap(err, sde.EUNAVAILABLE, msgUnavailable) }
	tf, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fail(err)
	}
	_, err = tf.Write(torn)
	if err == nil {
		err = tf.Sync()
	}
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	// The copy must be durable before the bytes leave the log.
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	fi, err := l.f.Stat()
	if err != nil {
		return fail(err)
	}
	if err := l.f.Truncate(fi.Size() - int64(len(torn))); err != nil {
		return fail(err)
	}
	if err := l.f.Sync(); err != nil {
		return fail(err)
	}
	_, err = l.Append(context.Background(), Event{
		Action:  ActionRecovered,
		Outcome: OutcomeOK,
		Target:  name,
		Details: map[string]any{"torn_bytes": len(torn), "after_seq": l.seq},
	})
	return err
}

// Append records ev and returns the record once it is durable. Errors are *sde.Error: EINTERNAL
// for an invalid Event (a bug in the caller; the log stays usable), EUNAVAILABLE when the log
// cannot be written (the caller must refuse the request; the log stays unusable). A context
// that is done before the record is queued refuses it; once queued, the record is written.
func (l *Log) Append(ctx context.Context, ev Event) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, sde.Wrap(err, sde.EUNAVAILABLE, "The request was cancelled before it could be recorded.")
	}
	if !validAction(ev.Action) || !validOutcome(ev.Outcome) {
		return Record{}, sde.Wrap(fmt.Errorf("audit: invalid action %q or outcome %q", ev.Action, ev.Outcome), sde.EINTERNAL, "The audit record is invalid.")
	}
	var details json.RawMessage
	if len(ev.Details) > 0 {
		b, err := json.Marshal(Redact(ev.Details))
		if err != nil {
			return Record{}, sde.Wrap(err, sde.EINTERNAL, "The audit record is invalid.")
		}
		details = b
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return Record{}, l.err
	}
	rec := Record{
		Seq:          l.seq + 1,
		Time:         l.now().UTC(),
		Prev:         l.head.String(),
		Actor:        ev.Actor,
		Organisation: ev.Organisation,
		Action:       ev.Action,
		Outcome:      ev.Outcome,
		Workspace:    ev.Workspace,
		Target:       ev.Target,
		RemoteAddr:   ev.RemoteAddr,
		Details:      details,
	}
	body, err := json.Marshal(rec) // Hash is empty, so omitted: this is the body that is hashed
	if err != nil {
		return Record{}, sde.Wrap(err, sde.EINTERNAL, "The audit record is invalid.")
	}
	if len(body)+hashSuffixLen > MaxRecordBytes {
		return Record{}, sde.Wrap(fmt.Errorf("audit: record of %d bytes", len(body)), sde.EINTERNAL, "The audit record is too large.")
	}
	h := crypto.ChainHash(l.head, body)
	rec.Hash = h.String()
	l.pending = append(l.pending, body[:len(body)-1]...)
	l.pending = append(l.pending, hashKey...)
	l.pending = append(l.pending, rec.Hash...)
	l.pending = append(l.pending, "\"}\n"...)
	l.seq, l.head = rec.Seq, h

	for {
		switch {
		case l.durable >= rec.Seq:
			return rec, nil
		case l.err != nil:
			return Record{}, l.err
		case !l.flushing:
			l.flush()
		default:
			l.cond.Wait()
		}
	}
}

// flush writes and fsyncs everything pending, with l.mu held on entry and exit but not while
// it waits for the disk, so later Appends can queue behind it.
func (l *Log) flush() {
	batch, last, lastHash := l.pending, l.seq, l.head
	l.pending = l.spare[:0]
	l.flushing = true
	l.mu.Unlock()

	_, err := l.write(batch)
	if err == nil {
		err = l.sync()
	}

	l.mu.Lock()
	l.flushing = false
	l.spare = batch[:0]
	if err != nil {
		// Some of the batch may be on disk, possibly half a line: never write after it.
		l.err = sde.Wrap(err, sde.EUNAVAILABLE, msgUnavailable)
	} else {
		l.durable, l.dhead = last, lastHash
	}
	l.cond.Broadcast()
}

// Err is nil while the log accepts appends, and the error every Append returns once it does
// not (after a write failure, or Close). A health check can report it.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		return nil
	}
	return l.err
}

// Head returns the seq and hash of the last durable record (0 and the zero hash for an empty
// log): the value to record elsewhere so that cutting records off the end can be detected.
func (l *Log) Head() (int64, crypto.Hash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable, l.dhead
}

// Close waits for an in-progress write, then closes the file; later Appends fail.
func (l *Log) Close() error {
	l.mu.Lock()
	for l.flushing {
		l.cond.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.err = sde.Errorf(sde.EUNAVAILABLE, msgClosed)
	l.cond.Broadcast()
	l.mu.Unlock()
	err := l.f.Close()
	l.lock.Close() // releases the lock
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupported(err) {
		return err
	}
	return nil
}

// isUnsupported reports the error of file systems that cannot fsync a directory.
func isUnsupported(err error) bool { return errors.Is(err, syscall.EINVAL) }
