//go:build unix

package modelfile

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/harmonium-ml/harmonium/internal/memguard"
)

// TestReadEndlessPipe checks that a model read from a pipe that never
// ends (zeros, as /dev/zero gives) fails after reading its header, not
// after filling memory, and that a model file piped in still loads.
func TestReadEndlessPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.safetensors")
	written := endlessPipe(t, fifo, nil)
	_, err := Read(fifo)
	if err == nil || !strings.HasPrefix(err.Error(), "read "+fifo+": ") {
		t.Fatalf("Read of endless zeros: %v", err)
	}
	if n := written.Load(); n > 1<<20 {
		t.Fatalf("Read consumed %d bytes of an endless pipe", n)
	}

	good := filepath.Join(dir, "good.safetensors")
	if err := Write(good, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(good)
	pipe := filepath.Join(dir, "pipe.safetensors")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		if w, err := os.OpenFile(pipe, os.O_WRONLY, 0); err == nil {
			w.Write(body)
			w.Close()
		}
	}()
	f, err := Read(pipe)
	if err != nil || f.Meta["k"] != "v" || len(f.Tensors["w"].Data) != 2 {
		t.Fatalf("Read of a piped model: %v", err)
	}
}

// TestReadPipeHugeClaim feeds a pipe a valid header whose tensor claims
// 2^50 bytes of data, then zeros without end: Read must refuse it from
// the header's figures (the memory check) after reading little.
func TestReadPipeHugeClaim(t *testing.T) {
	t.Setenv(memguard.EnvLimit, "1G")
	header := `{"w":{"dtype":"F32","shape":[281474976710656],"data_offsets":[0,1125899906842624]}}`
	prefix := append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...)
	fifo := filepath.Join(t.TempDir(), "model.safetensors")
	written := endlessPipe(t, fifo, prefix)
	_, err := Read(fifo)
	if err == nil || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("Read of a pipe claiming 2^50 bytes: %v; want a memory error naming it", err)
	}
	if n := written.Load(); n > 1<<20 {
		t.Fatalf("Read consumed %d bytes of the pipe", n)
	}
}

// endlessPipe makes a named pipe at path and feeds it prefix, then zeros
// without end (up to 256 MiB, so that a failing test ends), returning the
// count of bytes written so far.
func endlessPipe(t *testing.T, path string, prefix []byte) *atomic.Int64 {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no named pipes:", err)
	}
	written := new(atomic.Int64)
	go func() {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		chunk := prefix
		for written.Load() < 256<<20 {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
			chunk = make([]byte, 1<<16)
		}
	}()
	return written
}
