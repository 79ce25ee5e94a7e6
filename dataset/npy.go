package dataset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
	"github.com/harmonium-ml/harmonium/mat32"
)

var (
	npyDescr   = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	npyFortran = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	npyShape   = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// maxNPYHeader caps the length of a .npy header. NumPy writes a few hundred
// bytes for the plain arrays read here (and np.load refuses headers over
// 10,000 bytes by default); 64 KiB is generous, and bounds what a version
// 2 or 3 header, whose length field goes up to 4 GiB, can make us allocate.
const maxNPYHeader = 1 << 16

// npyItemSize is the size in bytes of each dtype ReadNPY accepts.
var npyItemSize = map[string]int{"<f4": 4, "<f8": 8, "|u1": 1, "<u1": 1, "<i4": 4, "<i8": 8}

// ReadNPY reads a NumPy .npy file (optionally gzipped) holding a 1-D or 2-D
// array of float32, float64, uint8, int32 or int64 in C order (1-D arrays
// are one sample). NaN and Inf are errors, as are values too large for
// float32, empty arrays, and arrays of more than 2^30 values.
func ReadNPY(path string) (*Set, error) {
	r, err := open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var pre [12]byte
	if _, err := io.ReadFull(r, pre[:10]); err != nil || string(pre[:6]) != "\x93NUMPY" {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, readErr(path, err, "")
		}
		return nil, fmt.Errorf("read %s: not a .npy file (bad magic)", path)
	}
	d, fo, sh, err := readNPYHeader(r, path, &pre)
	if err != nil {
		return nil, err
	}
	l, err := npyLayoutOf(path, d, fo, sh)
	if err != nil {
		return nil, err
	}
	rows, cols := l.rows, l.cols
	data, err := readNPYData(r, path, l.shape, rows*cols, cols, d, l.size)
	if err != nil {
		return nil, err
	}
	// Reading on lets a gzip reader check its CRC when the array ends the
	// data; anything after the array is ignored, as np.load does.
	if _, err := io.ReadFull(r, pre[:1]); err != nil && err != io.EOF {
		return nil, readErr(path, err, "truncated: the compressed data ends early")
	}
	return &Set{X: mat32.FromSlice(int(rows), int(cols), data), Source: path}, nil
}

// npyLayout is what a .npy header gives of the array: its size in bytes
// per value, its rows and columns (a 1-D array is one row), and its shape
// as the header writes it.
type npyLayout struct {
	size       int
	rows, cols int64
	shape      string
}

// npyLayoutOf checks a header's dtype d, order fo and shape sh (of the
// file or data called name) for an array ReadNPY accepts: C order, a
// supported dtype, 1 or 2 dimensions, not empty, at most maxValues values.
func npyLayoutOf(name, d, fo, sh string) (npyLayout, error) {
	if fo == "True" {
		return npyLayout{}, fmt.Errorf("read %s: Fortran-order arrays are not supported (save with np.ascontiguousarray)", name)
	}
	size := npyItemSize[d]
	if size == 0 {
		return npyLayout{}, fmt.Errorf("read %s: unsupported dtype %s (want float32, float64, uint8, int32 or int64, little-endian)", name, showToken(d))
	}
	dims, err := parseNPYShape(sh)
	if err != nil {
		return npyLayout{}, fmt.Errorf("read %s: %v", name, err)
	}
	l := npyLayout{size: size, shape: npyShapeString(dims)}
	switch len(dims) {
	case 0:
		return npyLayout{}, fmt.Errorf("read %s: array is a scalar (shape ()), want 1 or 2 dimensions", name)
	case 1:
		l.rows, l.cols = 1, dims[0]
	case 2:
		l.rows, l.cols = dims[0], dims[1]
	default:
		return npyLayout{}, fmt.Errorf("read %s: array has %d dimensions, want 1 or 2", name, len(dims))
	}
	if l.rows == 0 || l.cols == 0 {
		return npyLayout{}, fmt.Errorf("read %s: array of shape %s is empty: no samples", name, l.shape)
	}
	if l.rows > maxValues/l.cols { // by division: rows*cols could overflow
		return npyLayout{}, fmt.Errorf("read %s: array of shape %s has more than %d values", name, l.shape, maxValues)
	}
	return l, nil
}

// parseNPYShape parses the inside of a header's shape tuple, e.g. "3, 4" or
// "3,", into non-negative dimensions.
func parseNPYShape(s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	fields := strings.Split(s, ",")
	var dims []int64
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" && i > 0 && i == len(fields)-1 {
			break // the trailing comma of "(3,)"
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad shape %s", quoteField("("+s+")"))
		}
		dims = append(dims, n)
	}
	return dims, nil
}

// npyShapeString formats dims the way Python prints a tuple.
func npyShapeString(dims []int64) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range dims {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(d, 10))
	}
	if len(dims) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

// readNPYData reads n values of the given dtype (size bytes each) from r and
// converts them to float32, checking each. It reads in fixed-size chunks and
// grows its result only as data arrives, unless r's size is known, in which
// case a file too short for the shape fails before anything is allocated.
func readNPYData(r io.Reader, path, shape string, n, cols int64, descr string, size int) ([]float32, error) {
	nbytes := n * int64(size) // no overflow: n <= maxValues
	truncated := func(got int64) error {
		return fmt.Errorf("read %s: truncated: shape %s needs %d bytes of data, file has %d", path, shape, nbytes, got)
	}
	want := n
	if rem := remaining(r); rem < 0 {
		want = min(n, readChunk/4)
	} else if rem < nbytes {
		return nil, truncated(rem)
	}
	data := make([]float32, 0, want)
	buf := make([]byte, 1<<16) // a multiple of every item size
	for int64(len(data)) < n {
		chunk := buf[:min(int64(len(buf)), (n-int64(len(data)))*int64(size))]
		got, err := io.ReadFull(r, chunk)
		for b := chunk[:got-got%size]; len(b) > 0; b = b[size:] {
			var v float64
			switch descr {
			case "<f4":
				v = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
			case "<f8":
				v = math.Float64frombits(binary.LittleEndian.Uint64(b))
			case "|u1", "<u1":
				v = float64(b[0])
			case "<i4":
				v = float64(int32(binary.LittleEndian.Uint32(b)))
			case "<i8":
				v = float64(int64(binary.LittleEndian.Uint64(b)))
			}
			f := float32(v)
			if math.IsNaN(v) || math.IsInf(float64(f), 0) {
				i := int64(len(data))
				what := "is not finite"
				if !math.IsInf(v, 0) && !math.IsNaN(v) {
					what = "does not fit in float32"
				}
				return nil, fmt.Errorf("read %s: value %g at sample %d, feature %d %s", path, v, i/cols+1, i%cols+1, what)
			}
			data = append(data, f)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, truncated(int64(len(data))*int64(size) + int64(got%size))
			}
			return nil, readErr(path, err, "")
		}
	}
	return data, nil
}

// WriteNPY writes m as a 2-D float32 .npy file, atomically.
func WriteNPY(path string, m *mat32.Dense) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		if err := writeNPYHeader(w, "<f4", fmt.Sprintf("(%d, %d)", m.Rows, m.Cols)); err != nil {
			return err
		}
		buf := make([]byte, 4*m.Cols)
		for i := 0; i < m.Rows; i++ {
			for j, v := range m.Row(i) {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(v))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteLabels writes class labels, one per sample, atomically: a 1-D int64
// .npy file, or a .csv file with one label per line, chosen by the path's
// extension.
func WriteLabels(path string, labels []int) error {
	csv := strings.HasSuffix(strings.ToLower(path), ".csv")
	return atomicfile.Write(path, func(w io.Writer) error {
		var buf []byte
		if csv {
			for _, l := range labels {
				buf = append(strconv.AppendInt(buf, int64(l), 10), '\n')
			}
		} else {
			if err := writeNPYHeader(w, "<i8", fmt.Sprintf("(%d,)", len(labels))); err != nil {
				return err
			}
			for _, l := range labels {
				buf = binary.LittleEndian.AppendUint64(buf, uint64(int64(l)))
			}
		}
		_, err := w.Write(buf)
		return err
	})
}

// writeNPYHeader writes a version 1.0 .npy header for a C-order array,
// padded so that the data starts on a 64-byte boundary.
func writeNPYHeader(w io.Writer, descr, shape string) error {
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	pad := 64 - (10+len(h)+1)%64
	h += strings.Repeat(" ", pad%64) + "\n"
	pre := []byte("\x93NUMPY\x01\x00\x00\x00")
	binary.LittleEndian.PutUint16(pre[8:], uint16(len(h)))
	if _, err := w.Write(pre); err != nil {
		return err
	}
	_, err := io.WriteString(w, h)
	return err
}

// readNPYHeader reads the rest of a .npy header whose first 10 bytes are in
// pre (magic, version, and the first bytes of the header length) and
// returns its dtype, Fortran-order and shape fields.
func readNPYHeader(r io.Reader, path string, pre *[12]byte) (descr, fortran, shape string, err error) {
	var hlen int64
	switch pre[6] {
	case 1:
		hlen = int64(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		if _, err := io.ReadFull(r, pre[10:12]); err != nil {
			return "", "", "", readErr(path, err, "truncated header")
		}
		hlen = int64(binary.LittleEndian.Uint32(pre[8:12]))
	default:
		return "", "", "", fmt.Errorf("read %s: unsupported .npy format version %d.%d (want 1.0, 2.0 or 3.0)", path, pre[6], pre[7])
	}
	if hlen > maxNPYHeader {
		return "", "", "", fmt.Errorf("read %s: .npy header of %d bytes is implausibly long (the limit is %d)", path, hlen, maxNPYHeader)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return "", "", "", readErr(path, err, "truncated header")
	}
	h := string(header)
	d, fo, sh := npyDescr.FindStringSubmatch(h), npyFortran.FindStringSubmatch(h), npyShape.FindStringSubmatch(h)
	if d == nil || fo == nil || sh == nil {
		return "", "", "", fmt.Errorf("read %s: header is not a NumPy array header", path)
	}
	return d[1], fo[1], sh[1], nil
}
