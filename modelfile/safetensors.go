// Package modelfile reads and writes harmonium's model files: safetensors
// files (an 8-byte little-endian header length, a JSON header, then raw
// little-endian tensor data) that Python's safetensors or plain NumPy can
// also read.
package modelfile

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
	"github.com/harmonium-ml/harmonium/internal/memguard"
)

// Tensor is a named array with its shape (row-major). Its values are
// float32 (safetensors dtype F32, the default) in Data, or, when Ints is
// non-nil, int32 (dtype I32) in Ints; a tensor holds one or the other.
// Read sets Data for F32 tensors and Ints for I32 ones (non-nil even when
// empty).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32 // F32 values
	Ints  []int32   // I32 values; non-nil makes the tensor I32
}

// DType returns the safetensors dtype of t: "I32" when t.Ints is non-nil,
// otherwise "F32".
func (t Tensor) DType() string {
	if t.Ints != nil {
		return "I32"
	}
	return "F32"
}

// Len returns the number of values t holds.
func (t Tensor) Len() int {
	if t.Ints != nil {
		return len(t.Ints)
	}
	return len(t.Data)
}

// File is the contents of a safetensors file.
type File struct {
	Meta    map[string]string
	Tensors map[string]Tensor
}

type entry struct {
	DType   string  `json:"dtype"`
	Shape   []int   `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// maxHeader bounds the JSON header a reader accepts.
const maxHeader = 100 << 20

// elemSize is the size in bytes of a value of either supported dtype.
const elemSize = 4

// Errors of count.
var (
	errNegative = errors.New("negative dimension")
	errTooBig   = errors.New("too many values")
)

// count returns the number of values of a tensor of the given shape. It
// fails, without overflowing, with errNegative when a dimension is
// negative and with errTooBig when the count would exceed limit.
func count(shape []int, limit int64) (int64, error) {
	zero := false
	for _, d := range shape {
		if d < 0 {
			return 0, errNegative
		}
		zero = zero || d == 0
	}
	if zero {
		return 0, nil
	}
	n := int64(1)
	for _, d := range shape {
		if int64(d) > limit/n {
			return 0, errTooBig
		}
		n *= int64(d)
	}
	if n > limit { // a scalar
		return 0, errTooBig
	}
	return n, nil
}

// Write stores the tensors (in the order given) and metadata at path,
// atomically. Each tensor must hold exactly as many values as its shape
// has elements; it is written as I32 when its Ints is non-nil, else F32.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off int64
	for _, t := range tensors {
		if t.Name == "__metadata__" || !printable(t.Name) {
			return fmt.Errorf("write %s: %q is not a valid tensor name", path, t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("write %s: two tensors named %s", path, t.Name)
		}
		if t.Ints != nil && t.Data != nil {
			return fmt.Errorf("write %s: tensor %s has both F32 and I32 values", path, t.Name)
		}
		n, err := count(t.Shape, int64(t.Len()))
		if err != nil || n != int64(t.Len()) {
			return fmt.Errorf("write %s: tensor %s has %d values for shape %v", path, t.Name, t.Len(), t.Shape)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar; the header needs a list
		}
		header[t.Name] = entry{DType: t.DType(), Shape: shape, Offsets: []int64{off, off + elemSize*n}}
		off += elemSize * n
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
		const bufSize = 1 << 16
		buf := make([]byte, 0, bufSize)
		flush := func(force bool) error {
			if len(buf) == 0 || (!force && len(buf) < bufSize) {
				return nil
			}
			_, err := w.Write(buf)
			buf = buf[:0]
			return err
		}
		for _, t := range tensors {
			for _, v := range t.Data {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if err := flush(false); err != nil {
					return err
				}
			}
			for _, v := range t.Ints {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(v))
				if err := flush(false); err != nil {
					return err
				}
			}
		}
		return flush(true)
	})
}

// Read loads a safetensors file, checking the header length against the
// file size, the JSON, every tensor's dtype (F32 or I32), shape and
// offsets, and that the tensors exactly cover the data. Sizes are checked
// against the bytes present before anything is allocated for a tensor.
func Read(path string) (*File, error) {
	raw, data, err := readHeader(path)
	if err != nil {
		return nil, err
	}
	f := &File{Meta: map[string]string{}, Tensors: map[string]Tensor{}}
	var spans []span
	// In name order, so that a file with several bad tensors always
	// reports the same one.
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		msg := raw[name]
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Meta); err != nil {
				return nil, readErrorf(path, "__metadata__ must map strings to strings")
			}
			if f.Meta == nil { // "__metadata__": null
				f.Meta = map[string]string{}
			}
			continue
		}
		t, s, err := readTensor(path, name, msg, data)
		if err != nil {
			return nil, err
		}
		f.Tensors[name] = t
		spans = append(spans, s)
	}
	if err := checkCoverage(path, spans, int64(len(data))); err != nil {
		return nil, err
	}
	return f, nil
}

// readErrorf returns the one-line error "read PATH: ..." of a file that
// is not a valid model file.
func readErrorf(path, format string, a ...any) error {
	return fmt.Errorf("read %s: "+format, append([]any{path}, a...)...)
}

// readHeader reads the file at path, returning its JSON header's entries
// and the data that follows the header.
func readHeader(path string) (raw map[string]json.RawMessage, data []byte, err error) {
	b, err := readFile(path)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) < 8 {
		return nil, nil, readErrorf(path, "not a model file: %d bytes, too short for a safetensors header", len(b))
	}
	hlen := binary.LittleEndian.Uint64(b[:8])
	if hlen > uint64(len(b)-8) || hlen > maxHeader {
		return nil, nil, readErrorf(path, "header length %d runs past the end of the file (%d bytes): truncated or not a safetensors file", hlen, len(b))
	}
	data = b[8+hlen:]
	if err := json.Unmarshal(b[8:8+hlen], &raw); err != nil {
		return nil, nil, readErrorf(path, "header is not valid JSON: %v", oneLine(err))
	}
	return raw, data, nil
}

// readFile returns the bytes of the model file at path: a regular file
// whole, anything else (a pipe, a device such as /dev/zero) only as far as
// its header says the data go, and one byte more, so that an endless
// stream fails as a bad file instead of filling memory. readHeader checks
// what it returns.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Mode().IsRegular() || fi.IsDir() {
		return os.ReadFile(path)
	}
	b := make([]byte, 8)
	if n, err := io.ReadFull(f, b); err != nil {
		return b[:n], nil
	}
	hlen := binary.LittleEndian.Uint64(b)
	if hlen > maxHeader {
		return b, nil
	}
	header, err := io.ReadAll(io.LimitReader(f, int64(hlen)))
	if err != nil {
		return nil, err
	}
	end := dataEnd(header)
	if err := memguard.Check("reading its tensors", float64(end)); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, end+1))
	if err != nil {
		return nil, err
	}
	return append(append(b, header...), data...), nil
}

// dataEnd returns the largest end offset of the tensors of a safetensors
// header: how many bytes of data the file claims (0 when the header is
// not valid JSON; readHeader then reports it).
func dataEnd(header []byte) int64 {
	var raw map[string]json.RawMessage
	if json.Unmarshal(header, &raw) != nil {
		return 0
	}
	var end int64
	for name, msg := range raw {
		var e entry
		if name != "__metadata__" && json.Unmarshal(msg, &e) == nil && len(e.Offsets) == 2 && e.Offsets[1] < math.MaxInt64 {
			end = max(end, e.Offsets[1])
		}
	}
	return end
}

// span is the bytes [begin, end) of the data that tensor name occupies.
type span struct {
	name       string
	begin, end int64
}

// readTensor returns tensor name of the header entry msg with its values
// from data, and the bytes of data it occupies, checking its dtype, shape
// and offsets against the data.
func readTensor(path, name string, msg json.RawMessage, data []byte) (Tensor, span, error) {
	fail := func(format string, a ...any) (Tensor, span, error) {
		return Tensor{}, span{}, readErrorf(path, format, a...)
	}
	if !printable(name) {
		return fail("tensor name %q has control characters or is not UTF-8", name)
	}
	var e entry
	if err := json.Unmarshal(msg, &e); err != nil {
		return fail("tensor %s: bad header entry: %v", name, oneLine(err))
	}
	if e.DType != "F32" && e.DType != "I32" {
		return fail("tensor %s has dtype %q; harmonium models hold F32 and I32 tensors", name, e.DType)
	}
	if e.Shape == nil {
		return fail("tensor %s has no shape", name)
	}
	if len(e.Offsets) != 2 {
		return fail("tensor %s: data_offsets must be [begin, end], got %v", name, e.Offsets)
	}
	begin, end := e.Offsets[0], e.Offsets[1]
	if begin < 0 || end < begin || end > int64(len(data)) {
		return fail("tensor %s: data offsets [%d, %d] outside the %d bytes of data (truncated?)", name, begin, end, len(data))
	}
	// Bounded by the bytes present, so neither the count nor the byte
	// count below can overflow.
	n, err := count(e.Shape, int64(len(data))/elemSize)
	if err == errNegative {
		return fail("tensor %s has a negative dimension in shape %v", name, e.Shape)
	} else if err != nil {
		return fail("tensor %s: shape %v needs more than the %d bytes of data (corrupt or truncated)", name, e.Shape, len(data))
	}
	if end-begin != elemSize*n {
		return fail("tensor %s: shape %v needs %d bytes, offsets give %d", name, e.Shape, elemSize*n, end-begin)
	}
	t := Tensor{Name: name, Shape: e.Shape}
	decode(&t, e.DType, data[begin:end])
	return t, span{name, begin, end}, nil
}

// decode sets t's values (Ints for dtype I32, else Data) from the
// little-endian bytes src, which hold exactly as many values as t's shape.
func decode(t *Tensor, dtype string, src []byte) {
	n := len(src) / elemSize
	if dtype == "I32" {
		t.Ints = make([]int32, n)
		for i := range t.Ints {
			t.Ints[i] = int32(binary.LittleEndian.Uint32(src[elemSize*i:]))
		}
		return
	}
	t.Data = make([]float32, n)
	for i := range t.Data {
		t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[elemSize*i:]))
	}
}

// checkCoverage checks that the tensors' spans cover the size bytes of
// data exactly, without overlaps or gaps.
func checkCoverage(path string, spans []span, size int64) error {
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var at int64
	for _, s := range spans {
		if s.begin != at {
			return readErrorf(path, "tensor %s starts at byte %d of the data, expected %d (overlap or gap)", s.name, s.begin, at)
		}
		at = s.end
	}
	if at != size {
		return readErrorf(path, "%d bytes of data follow the last tensor", size-at)
	}
	return nil
}

// oneLine returns err's message with line breaks replaced by spaces.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// printable reports whether s is UTF-8 without control characters, fit to
// appear in a one-line message.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
