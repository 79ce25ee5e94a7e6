//go:build unix

package ratingstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile opens (creating it if missing) the database file at path and
// takes an exclusive advisory lock on it for as long as the returned file
// stays open; the system drops the lock when the process ends, however it
// ends. ErrInUse reports a lock held by another Store.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrInUse
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}
