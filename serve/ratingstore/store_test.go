package ratingstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/cf"
)

// TestOpenOddFileNames opens databases whose names hold the characters a
// SQLite URI gives a meaning to, and checks that the file named is the one
// written, in WAL mode, and read back.
func TestOpenOddFileNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a?b.db", "c#d.db", "e%41f.db", "g h&i=1.db", "j%3Fk.db"} {
		path := filepath.Join(dir, name)
		s, err := Open(path, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var mode string
		if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("%s: journal mode %q, %v; want wal", name, mode, err)
		}
		if err := s.Add(context.Background(), []cf.Rating{{User: "u", Item: name, Value: 4}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: the database is not in the file named: %v", name, err)
			continue
		}
		r, err := Read(path)
		if err != nil || len(r.List) != 1 || r.List[0].Item != name {
			t.Errorf("%s: read back %v, %v", name, r, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 5 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files written: %q, want the 5 named", names)
	}
}

// TestReadLeavesOtherDatabasesAlone reads ratings from a SQLite file that
// is not a ratings database and checks that the read fails and leaves the
// file as it was: no tables added, journal mode unchanged.
func TestReadLeavesOtherDatabasesAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.sqlite")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (a INTEGER)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Read of a database without ratings: %v, want an error naming it", err)
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("Read changed the database it read (%d bytes, then %d)", len(before), len(after))
	}
	// A ratings database is still read, while a Store has it open.
	good := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(good, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Add(context.Background(), []cf.Rating{{User: "u", Item: "i", Value: 2}}); err != nil {
		t.Fatal(err)
	}
	if r, err := Read(good); err != nil || len(r.List) != 1 {
		t.Errorf("Read of an open ratings database: %v, %v", r, err)
	}
}

// TestOneStorePerDatabase opens a database twice: the second Open must
// fail with ErrInUse, naming the file, and succeed once the first Store is
// closed.
func TestOneStorePerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	first, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path, nil); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), path) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("second Open of %s: %v, want ErrInUse naming the file", path, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open after the first Store closed: %v", err)
	}
	again.Close()
}
