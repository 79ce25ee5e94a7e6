// Package modelfile reads and writes harmonium's model files: safetensors
// files (an 8-byte little-endian header length, a JSON header, then raw
// little-endian tensor data) that Python's safetensors or plain NumPy can
// also read.
package modelfile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
)

// Tensor is a named float32 array with its shape.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// File is the contents of a safetensors file.
type File struct {
	Meta    map[string]string
	Tensors map[string]Tensor
}

type entry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// maxHeader bounds the JSON header a reader accepts.
const maxHeader = 100 << 20

// Write stores the tensors (in the order given) and metadata at path,
// atomically.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off int64
	for _, t := range tensors {
		n := int64(1)
		for _, d := range t.Shape {
			n *= int64(d)
		}
		if n != int64(len(t.Data)) {
			return fmt.Errorf("write %s: tensor %s has %d values for shape %v", path, t.Name, len(t.Data), t.Shape)
		}
		header[t.Name] = entry{DType: "F32", Shape: t.Shape, Offsets: [2]int64{off, off + 4*n}}
		off += 4 * n
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Pad the header with spaces so that the data is 8-byte aligned.
	if pad := (8 - len(hj)%8) % 8; pad > 0 {
		hj = append(hj, strings.Repeat(" ", pad)...)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(hj)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(hj); err != nil {
			return err
		}
		buf := make([]byte, 0, 1<<16)
		for _, t := range tensors {
			for i, v := range t.Data {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) == cap(buf) || i == len(t.Data)-1 {
					if _, err := w.Write(buf); err != nil {
						return err
					}
					buf = buf[:0]
				}
			}
		}
		return nil
	})
}

// Read loads a safetensors file, checking the header length against the
// file size, the JSON, every tensor's dtype, shape and offsets, and that the
// tensors exactly cover the data.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	fail := func(format string, a ...any) (*File, error) {
		return nil, fmt.Errorf("read %s: "+format, append([]any{path}, a...)...)
	}
	if len(b) < 8 {
		return fail("not a model file: %d bytes, too short for a safetensors header", len(b))
	}
	hlen := binary.LittleEndian.Uint64(b[:8])
	if hlen > uint64(len(b)-8) || hlen > maxHeader {
		return fail("header length %d runs past the end of the file (%d bytes): truncated or not a safetensors file", hlen, len(b))
	}
	data := b[8+hlen:]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+hlen], &raw); err != nil {
		return fail("header is not valid JSON: %v", err)
	}
	f := &File{Meta: map[string]string{}, Tensors: map[string]Tensor{}}
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Meta); err != nil {
				return fail("__metadata__ must map strings to strings")
			}
			continue
		}
		var e entry
		if err := json.Unmarshal(msg, &e); err != nil {
			return fail("tensor %s: bad header entry: %v", name, err)
		}
		if e.DType != "F32" {
			return fail("tensor %s has dtype %q; harmonium models hold F32 tensors", name, e.DType)
		}
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || d > 1<<31 {
				return fail("tensor %s has a bad shape %v", name, e.Shape)
			}
			n *= int64(d)
		}
		begin, end := e.Offsets[0], e.Offsets[1]
		if begin < 0 || end < begin || end > int64(len(data)) {
			return fail("tensor %s: data offsets [%d, %d] outside the %d bytes of data (truncated?)", name, begin, end, len(data))
		}
		if end-begin != 4*n {
			return fail("tensor %s: shape %v needs %d bytes, offsets give %d", name, e.Shape, 4*n, end-begin)
		}
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[begin+4*int64(i):]))
		}
		f.Tensors[name] = Tensor{Name: name, Shape: e.Shape, Data: vals}
		spans = append(spans, span{name, begin, end})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	var at int64
	for _, s := range spans {
		if s.begin != at {
			return fail("tensor %s starts at byte %d of the data, expected %d (overlap or gap)", s.name, s.begin, at)
		}
		at = s.end
	}
	if at != int64(len(data)) {
		return fail("%d bytes of data follow the last tensor", int64(len(data))-at)
	}
	return f, nil
}
