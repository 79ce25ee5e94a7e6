//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A named pipe that nothing writes to blocks at open; the first interrupt
// still stops the command at once.
func TestInterruptWhileOpeningPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	t.Cleanup(func() { // let the abandoned open return
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, _, errs := harmoniumCtx(t, ctx, "train", "--data", fifo, "--out", filepath.Join(t.TempDir(), "m.safetensors"))
	if code != 130 || !strings.Contains(errs, "interrupted while reading "+fifo) {
		t.Fatalf("train on a silent pipe, interrupted: %d %q", code, errs)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v to stop", d)
	}
}
