package dataset

import (
	"encoding/binary"
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

// ReadNPY reads a NumPy .npy file holding a 1-D or 2-D array of float32,
// float64, uint8, int32 or int64 in C order (1-D arrays are one sample).
// NaN and Inf are errors.
func ReadNPY(path string) (*Set, error) {
	r, err := open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil || string(pre[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("read %s: not a .npy file (bad magic)", path)
	}
	hlen := int(binary.LittleEndian.Uint16(pre[8:10]))
	if pre[6] >= 2 {
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return nil, fmt.Errorf("read %s: truncated header", path)
		}
		hlen |= int(binary.LittleEndian.Uint16(ext[:])) << 16
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("read %s: truncated header", path)
	}
	h := string(header)
	d, fo, sh := npyDescr.FindStringSubmatch(h), npyFortran.FindStringSubmatch(h), npyShape.FindStringSubmatch(h)
	if d == nil || fo == nil || sh == nil {
		return nil, fmt.Errorf("read %s: header is not a NumPy array header", path)
	}
	if fo[1] == "True" {
		return nil, fmt.Errorf("read %s: Fortran-order arrays are not supported (save with np.ascontiguousarray)", path)
	}
	var dims []int
	for _, f := range strings.Split(sh[1], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("read %s: bad shape (%s)", path, sh[1])
		}
		dims = append(dims, n)
	}
	rows, cols := 0, 0
	switch len(dims) {
	case 1:
		rows, cols = 1, dims[0]
	case 2:
		rows, cols = dims[0], dims[1]
	default:
		return nil, fmt.Errorf("read %s: array has %d dimensions, want 1 or 2", path, len(dims))
	}
	size := map[string]int{"<f4": 4, "<f8": 8, "|u1": 1, "<u1": 1, "<i4": 4, "<i8": 8}[d[1]]
	if size == 0 {
		return nil, fmt.Errorf("read %s: unsupported dtype %s (want float32, float64, uint8, int32 or int64, little-endian)", path, d[1])
	}
	n := rows * cols
	raw := make([]byte, n*size)
	if got, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("read %s: truncated: shape %v needs %d bytes of data, file has %d", path, dims, len(raw), got)
	}
	x := mat32.New(rows, cols)
	for i := range x.Data {
		b := raw[i*size:]
		var v float64
		switch d[1] {
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
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("read %s: value %g at sample %d, feature %d is not finite", path, v, i/cols+1, i%cols+1)
		}
		x.Data[i] = float32(v)
	}
	return &Set{X: x, Source: path}, nil
}

// WriteNPY writes m as a 2-D float32 .npy file, atomically.
func WriteNPY(path string, m *mat32.Dense) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", m.Rows, m.Cols)
		// Pad so that the data starts on a 64-byte boundary, ending in '\n'.
		pad := 64 - (10+len(h)+1)%64
		h += strings.Repeat(" ", pad%64) + "\n"
		pre := []byte("\x93NUMPY\x01\x00\x00\x00")
		binary.LittleEndian.PutUint16(pre[8:], uint16(len(h)))
		if _, err := w.Write(pre); err != nil {
			return err
		}
		if _, err := io.WriteString(w, h); err != nil {
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
