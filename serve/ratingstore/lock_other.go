//go:build !unix

package ratingstore

import "os"

// lockFile opens (creating it if missing) the database file at path; on
// this system a second Store on the same file is not detected.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
