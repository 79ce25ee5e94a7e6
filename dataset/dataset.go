// Package dataset reads the data harmonium trains on: MNIST IDX files, CSV
// and NPY matrices (one row per sample), a copy of MNIST's test set embedded
// in the binary, and MNIST downloaded into the user's cache.
package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Set is a data set: one sample per row of X.
type Set struct {
	X      *mat32.Dense
	Labels []int  // class of each sample, nil when the source has none
	Height int    // image height, 0 when unknown
	Width  int    // image width, 0 when unknown
	Source string // where the data came from, for messages
}

// Load reads the data at path: a folder of MNIST IDX files (split "train"
// or "test"), a .csv or .csv.gz file, or a .npy file.
func Load(path, split string) (*Set, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, pathErr(err))
	}
	if fi.IsDir() {
		return LoadMNIST(path, split)
	}
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".csv.gz"):
		return ReadCSV(path)
	case strings.HasSuffix(lower, ".npy"):
		return ReadNPY(path)
	case strings.Contains(lower, "idx3"):
		x, h, w, err := ReadIDXImages(path)
		if err != nil {
			return nil, err
		}
		return &Set{X: x, Height: h, Width: w, Source: path}, nil
	}
	return nil, fmt.Errorf("read %s: unknown data format (want a folder of MNIST IDX files, .csv, .csv.gz or .npy)", path)
}

// pathErr drops the path from an *os.PathError, for messages that name the
// path themselves.
func pathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// maxValues caps the number of values any reader accepts from a file: 2^30
// (4 GiB as float32, the in-memory type), or less where int is 32 bits. A
// header claiming more is an error before anything is allocated, so that a
// corrupt or hostile file (or a small gzip "bomb") cannot exhaust memory.
// MNIST's training set holds 47 million values.
const maxValues = min(1<<30, math.MaxInt/8)

// input is a data file opened for reading: its contents, gunzipped when they
// start with the gzip magic bytes, and how many bytes of them are left when
// that is known up front (an uncompressed regular file).
type input struct {
	r    io.Reader
	f    *os.File
	size int64 // bytes of the file; -1 when not known up front
	done int64 // bytes read so far
}

func (in *input) Read(p []byte) (int, error) {
	n, err := in.r.Read(p)
	in.done += int64(n)
	return n, err
}

func (in *input) Close() error { return in.f.Close() }

// remaining returns how many bytes are left to read, or -1 when unknown.
func (in *input) remaining() int64 {
	if in.size < 0 {
		return -1
	}
	return max(in.size-in.done, 0)
}

// remaining returns how many bytes r has left, or -1 when unknown.
func remaining(r io.Reader) int64 {
	if in, ok := r.(*input); ok {
		return in.remaining()
	}
	return -1
}

// open opens path for reading, gunzipping its contents when they start with
// the gzip magic bytes.
func open(path string) (*input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, pathErr(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, pathErr(err))
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("read %s: is a folder, not a file", path)
	}
	in := &input{f: f, size: -1}
	if fi.Mode().IsRegular() {
		in.size = fi.Size()
	}
	br := bufio.NewReaderSize(f, 1<<16)
	in.r = br
	magic, _ := br.Peek(2)
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, readErr(path, err, "truncated gzip header")
		}
		in.r, in.size = zr, -1
	}
	return in, nil
}

// readChunk is the buffer readBody starts with when the size of its input
// is not known; the buffer then doubles as data arrives, so that it is
// never more than twice the data read (or readChunk).
const readChunk = 1 << 16

// readBody reads exactly n bytes from r without allocating much more than
// the data actually present: when r's size is known (see remaining) and too
// small it fails before allocating anything, and otherwise its buffer grows
// in chunks as data arrives, so a header claiming gigabytes in a small
// gzipped file costs little. It returns the data and how many bytes were
// there; the error is io.ErrUnexpectedEOF when there were fewer than n.
func readBody(r io.Reader, n int64) ([]byte, int64, error) {
	if n < 0 || n > math.MaxInt {
		return nil, 0, fmt.Errorf("cannot read %d bytes", n)
	}
	if rem := remaining(r); rem >= 0 {
		if rem < n {
			return nil, rem, io.ErrUnexpectedEOF
		}
		buf := make([]byte, n)
		got, err := io.ReadFull(r, buf)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf, int64(got), err
	}
	buf := make([]byte, 0, min(n, readChunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		got, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+got]
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return buf, int64(len(buf)), err
		}
	}
	return buf, n, nil
}

// readErr describes err, met reading path, in one line: short for a
// premature end of the data, else err itself.
func readErr(path string, err error, short string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %s", path, short)
	}
	return fmt.Errorf("read %s: %s", path, oneLine(pathErr(err).Error()))
}

// oneLine replaces line breaks in s, for messages.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// CheckUnitInterval returns an error naming the first value of s outside
// [0, 1], which Bernoulli visible units cannot model.
func (s *Set) CheckUnitInterval() error {
	for i, x := range s.X.Data {
		if !(x >= 0 && x <= 1) {
			return fmt.Errorf("%s: value %g at sample %d, feature %d is outside [0, 1]; Bernoulli units need values in [0, 1] (use --scale or --binarize)",
				s.Source, x, i/s.X.Cols+1, i%s.X.Cols+1)
		}
	}
	return nil
}

// Scale maps every value linearly from the data's [min, max] to [0, 1].
func (s *Set) Scale() {
	if len(s.X.Data) == 0 {
		return
	}
	lo, hi := s.X.Data[0], s.X.Data[0]
	for _, x := range s.X.Data {
		lo, hi = min(lo, x), max(hi, x)
	}
	span := hi - lo
	for i, x := range s.X.Data {
		if span > 0 {
			s.X.Data[i] = (x - lo) / span
		} else {
			s.X.Data[i] = 0
		}
	}
}

// Binarize sets values above threshold to 1 and the others to 0.
func (s *Set) Binarize(threshold float32) {
	for i, x := range s.X.Data {
		if x > threshold {
			s.X.Data[i] = 1
		} else {
			s.X.Data[i] = 0
		}
	}
}

// Head returns the first n samples of s (all of them when n <= 0 or n is
// larger than the set), sharing storage.
func (s *Set) Head(n int) *Set {
	if n <= 0 || n >= s.X.Rows {
		return s
	}
	c := *s
	c.X = s.X.Slice(0, n)
	if s.Labels != nil {
		c.Labels = s.Labels[:n]
	}
	return &c
}

// Shape describes s, e.g. "10000 x 784 (28x28 images)".
func (s *Set) Shape() string {
	d := fmt.Sprintf("%d x %d", s.X.Rows, s.X.Cols)
	if s.Height > 0 {
		d += fmt.Sprintf(" (%dx%d images)", s.Height, s.Width)
	}
	return d
}

// baseName is filepath.Base, for messages.
func baseName(p string) string { return filepath.Base(p) }

// Split divides s into two parts: a random fraction (chosen by seed, and
// clamped to [0, 1]) of its samples, and the rest, each keeping the original
// order.
func (s *Set) Split(fraction float64, seed uint64) (rest, part *Set) {
	n := s.X.Rows
	if !(fraction > 0) { // also NaN
		fraction = 0
	}
	k := int(math.Round(min(fraction, 1) * float64(n)))
	chosen := make([]bool, n)
	for _, i := range rand.New(rand.NewPCG(seed, 0x5917)).Perm(n)[:k] {
		chosen[i] = true
	}
	take := func(want bool, name string) *Set {
		var idx []int
		for i, c := range chosen {
			if c == want {
				idx = append(idx, i)
			}
		}
		out := &Set{X: mat32.New(len(idx), s.X.Cols), Height: s.Height, Width: s.Width, Source: s.Source + name}
		for r, i := range idx {
			copy(out.X.Row(r), s.X.Row(i))
			if s.Labels != nil {
				out.Labels = append(out.Labels, s.Labels[i])
			}
		}
		return out
	}
	return take(false, ""), take(true, " (held out)")
}
