package serve

import (
	"bufio"
	"io"
	"os"
	"testing"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// makeTempDir makes a folder for the fixtures shared by all tests (removed
// by TestMain).
func makeTempDir() (string, error) { return os.MkdirTemp("", "serve-test") }

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}
