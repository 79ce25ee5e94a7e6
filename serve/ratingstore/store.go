// Package ratingstore keeps ratings in an embedded SQLite database (the
// pure-Go driver modernc.org/sqlite, so builds without cgo work): the
// ratings a service collects, which harmonium cf train reads back to
// retrain.
//
// The database runs in WAL mode with synchronous=FULL: a write that Add
// acknowledged has been synced to disk and survives a crash of the process
// or the machine. Concurrent Adds are committed together, one transaction
// and one sync for all of them (group commit), in the order they arrive.
package ratingstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/harmonium-ml/harmonium/cf"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SchemaVersion is the version of the schema this package writes. A
// database of a newer version is refused.
const SchemaVersion = 1

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("rating store closed")

// ErrInUse is returned by Open when another Store (in this process or
// another, such as a second harmonium serve) has the database open: each
// folds only its own writes into its users, so two would disagree.
var ErrInUse = errors.New("in use by another server (one server per database)")

// maxGroup bounds how many waiting Adds one transaction commits.
const maxGroup = 256

// Store is a ratings database. Its methods may be called from many
// goroutines at once.
type Store struct {
	db       *sql.DB
	lock     *os.File // holds the file's exclusive lock until Close
	path     string
	onCommit func([]cf.Rating)
	seq      int64 // the last write's sequence number; the writer's alone

	mu     sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan *write
	done   chan struct{}
}

// write is one Add waiting for its commit.
type write struct {
	ratings []cf.Rating
	err     chan error
}

// Open opens or creates the database at path, creating or upgrading its
// schema. onCommit, when not nil, is called with the ratings of every
// committed transaction, in commit order, before their Adds return.
func Open(path string, onCommit func([]cf.Rating)) (*Store, error) {
	if path == "" {
		return nil, errors.New("open ratings database: no path")
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, fmt.Errorf("open ratings database %s: %w", path, err)
	}
	s, err := open(path, lock, onCommit)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open ratings database %s: %w", path, err)
	}
	go s.writer()
	return s, nil
}

// open opens the locked database file at path and brings its schema up to
// date.
func open(path string, lock *os.File, onCommit func([]cf.Rating)) (*Store, error) {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	s := &Store{db: db, lock: lock, path: path, onCommit: onCommit, queue: make(chan *write, maxGroup), done: make(chan struct{})}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM ratings`).Scan(&s.seq); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// dsn returns the driver's name of the database file at path with the
// settings of a Store: a SQLite URI, whose path has the characters a URI
// gives a meaning to ('?', '#' and '%') escaped, so that every file name
// opens that file, in WAL mode.
func dsn(path string) string {
	return uri(path) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate"
}

// uri returns the SQLite URI of the file at path, without parameters.
func uri(path string) string {
	var b strings.Builder
	b.WriteString("file:")
	for _, c := range []byte(filepath.Clean(path)) {
		if c == '?' || c == '#' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Path returns the database's file name.
func (s *Store) Path() string { return s.path }

// migrate creates the schema or upgrades it to SchemaVersion.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var v int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		v = 0
	case err != nil:
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this program's (%d)", v, SchemaVersion)
	}
	if v < 1 {
		const ddl = `CREATE TABLE ratings (
			user_id TEXT NOT NULL,
			item_id TEXT NOT NULL,
			rating REAL NOT NULL,
			updated_at INTEGER NOT NULL,
			seq INTEGER NOT NULL,
			PRIMARY KEY (user_id, item_id)
		) WITHOUT ROWID`
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("create ratings: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (1)`); err != nil {
			return fmt.Errorf("record schema version: %w", err)
		}
	}
	return tx.Commit()
}

// Add stores ratings (a later rating of the same user and item replaces an
// earlier one) and returns once they are committed and synced to disk.
// Once queued, a write is waited for even if ctx ends, so that a nil error
// always means stored and an error means not stored.
func (s *Store) Add(ctx context.Context, ratings []cf.Rating) error {
	for _, r := range ratings {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			return fmt.Errorf("rating of user %q, item %q is %v, not a number", r.User, r.Item, r.Value)
		}
	}
	w := &write{ratings: ratings, err: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.queue <- w:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	return <-w.err
}

// writer commits queued writes, as many as are waiting in one transaction.
func (s *Store) writer() {
	defer close(s.done)
	for w := range s.queue {
		group := []*write{w}
	more:
		for len(group) < maxGroup {
			select {
			case w, ok := <-s.queue:
				if !ok {
					break more
				}
				group = append(group, w)
			default:
				break more
			}
		}
		var all []cf.Rating
		for _, g := range group {
			all = append(all, g.ratings...)
		}
		err := s.commit(all)
		if err == nil && s.onCommit != nil {
			s.onCommit(all)
		}
		for _, g := range group {
			g.err <- err
		}
	}
}

// commit writes ratings in one transaction.
func (s *Store) commit(ratings []cf.Rating) error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store ratings: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO ratings (user_id, item_id, rating, updated_at, seq)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, item_id) DO UPDATE SET rating = excluded.rating, updated_at = excluded.updated_at, seq = excluded.seq`)
	if err != nil {
		return fmt.Errorf("store ratings: %w", err)
	}
	defer stmt.Close()
	now := time.Now().UnixMilli()
	for _, r := range ratings {
		s.seq++
		if _, err := stmt.ExecContext(ctx, r.User, r.Item, r.Value, now, s.seq); err != nil {
			return fmt.Errorf("store rating of user %q, item %q: %w", r.User, r.Item, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store ratings: %w", err)
	}
	return nil
}

// All returns every stored rating, in the order they were last written.
func (s *Store) All(ctx context.Context) (*cf.Ratings, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, item_id, rating FROM ratings ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read ratings from %s: %w", s.path, err)
	}
	defer rows.Close()
	out := &cf.Ratings{Source: s.path}
	for rows.Next() {
		var r cf.Rating
		if err := rows.Scan(&r.User, &r.Item, &r.Value); err != nil {
			return nil, fmt.Errorf("read ratings from %s: %w", s.path, err)
		}
		out.List = append(out.List, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read ratings from %s: %w", s.path, err)
	}
	return out, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&n); err != nil {
		return fmt.Errorf("ratings database %s: %w", s.path, err)
	}
	return nil
}

// Close waits for the queued writes and closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	<-s.done
	defer s.lock.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close ratings database %s: %w", s.path, err)
	}
	return nil
}

// Prefix marks a ratings database where a ratings file is expected:
// "db:FILE". A name ending in .db or .sqlite is one too.
const Prefix = "db:"

// IsDatabase reports whether a ratings path names a database (see Prefix)
// and returns its file name.
func IsDatabase(path string) (string, bool) {
	if rest, ok := strings.CutPrefix(path, Prefix); ok {
		return rest, true
	}
	if strings.HasSuffix(path, ".db") || strings.HasSuffix(path, ".sqlite") {
		return path, true
	}
	return "", false
}

// Read returns every rating stored in the database at path, which must
// exist and is only read: a SQLite file that is not a ratings database is
// refused, not given the schema, and keeps its journal mode. (It is opened
// for writing all the same, but never written, so that closing a WAL
// database removes its -wal and -shm files as a Store does.)
func Read(path string) (*cf.Ratings, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("ratings database: %w", err)
	}
	db, err := sql.Open("sqlite", uri(path)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open ratings database %s: %w", path, err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil {
		return nil, fmt.Errorf("ratings database %s: not one harmonium serve wrote (%w)", path, err)
	}
	if v > SchemaVersion {
		return nil, fmt.Errorf("ratings database %s: schema version %d is newer than this program's (%d)", path, v, SchemaVersion)
	}
	r, err := (&Store{db: db, path: path}).All(context.Background())
	if err != nil {
		return nil, err
	}
	if len(r.List) == 0 {
		return nil, fmt.Errorf("ratings database %s holds no ratings", path)
	}
	return r, nil
}
