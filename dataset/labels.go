package dataset

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/harmonium-ml/harmonium/internal/memguard"
)

// MaxLabel is the largest class label ReadLabels accepts.
const MaxLabel = 1<<31 - 1

// ReadLabels reads class labels, one non-negative integer per sample, from
// a .csv file (one per line, optionally gzipped, with an optional header
// line that is not a number) or a .npy file (a 1-D array, or 2-D with one
// column, of int8/16/32/64, uint8/16/32/64, or float32/float64 holding whole
// numbers). Errors are one line naming the file and the line (CSV) or
// sample (NPY): a value that is not an integer, a negative value, a value
// over MaxLabel, more than one value on a line. A .npy header is checked
// against the file's length before anything is allocated for the data.
func ReadLabels(path string) ([]int, error) {
	r, err := open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// Peek at the magic without consuming it; a plain file's reader is
	// already buffered (and knows the bytes left), a gzip stream is not.
	var src io.Reader = r
	br, ok := r.r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
		src = br
	}
	magic, _ := br.Peek(6)
	var labels []int
	switch {
	case string(magic) == "\x93NUMPY":
		labels, err = readNPYLabels(src, path)
	case strings.HasSuffix(strings.ToLower(path), ".npy"):
		return nil, fmt.Errorf("read %s: not a .npy file (bad magic)", path)
	default:
		labels, err = readCSVLabels(src, path)
	}
	if err != nil {
		return nil, err
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("read %s: no labels", path)
	}
	return labels, nil
}

// readCSVLabels reads one integer per line; blank lines are skipped.
func readCSVLabels(r io.Reader, path string) ([]int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4<<10), 1<<16)
	sc.Split(scanLines())
	var labels []int
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		if len(labels) == 0 && line == 1 && isHeader(text) && !strings.Contains(text, ",") {
			continue // a column name
		}
		if strings.Contains(text, ",") {
			return nil, fmt.Errorf("read %s: line %d has %d fields, expected one label", path, line, strings.Count(text, ",")+1)
		}
		v, err := parseLabel(text)
		if err != nil {
			return nil, fmt.Errorf("read %s: line %d: %s %v", path, line, quoteField(text), err)
		}
		if len(labels) >= maxValues {
			return nil, fmt.Errorf("read %s: line %d: more than %d labels (the limit)", path, line, maxValues)
		}
		if err := checkGrowth(labels, path); err != nil {
			return nil, err
		}
		labels = append(labels, v)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("read %s: line %d is longer than %d bytes: not one label per line", path, line+1, 1<<16)
		}
		return nil, readErr(path, err, "truncated: the compressed data ends early")
	}
	return labels, nil
}

// parseLabel parses a class label: a whole number in [0, MaxLabel],
// written as an integer or as a number with a zero fraction ("3.0", "3e0").
func parseLabel(s string) (int, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return checkLabel(float64(n))
	}
	f, err := strconv.ParseFloat(s, 64)
	notInt := errors.New("is not an integer")
	switch {
	case errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0): // 1e400: a huge whole number
	case err != nil, math.IsNaN(f), math.IsInf(f, 0), f != math.Trunc(f):
		return 0, notInt
	}
	return checkLabel(f)
}

// checkLabel checks the range of a label whose value is the whole number f.
func checkLabel(f float64) (int, error) {
	switch {
	case f < 0:
		return 0, errors.New("is negative: class labels are 0, 1, 2, ...")
	case f > MaxLabel:
		return 0, fmt.Errorf("is larger than %d", MaxLabel)
	}
	return int(f), nil
}

// npyLabelTypes are the dtypes ReadLabels accepts in a .npy file, with
// their sizes in bytes.
var npyLabelTypes = map[string]int{
	"|i1": 1, "<i2": 2, "<i4": 4, "<i8": 8, "|u1": 1, "<u1": 1, "<u2": 2, "<u4": 4, "<u8": 8,
	"<f4": 4, "<f8": 8,
}

// readNPYLabels reads the labels of a .npy file whose magic was seen.
func readNPYLabels(r io.Reader, path string) ([]int, error) {
	d, size, shape, n, err := readNPYLabelHeader(r, path)
	if err != nil {
		return nil, err
	}
	nbytes := n * int64(size)
	if rem := remaining(r); rem >= 0 && rem < nbytes {
		return nil, fmt.Errorf("read %s: truncated: shape %s needs %d bytes of data, file has %d", path, shape, nbytes, rem)
	}
	body, got, err := readBody(r, nbytes)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("read %s: truncated: shape %s needs %d bytes of data, file has %d", path, shape, nbytes, got)
		}
		return nil, readErr(path, err, "")
	}
	return decodeNPYLabels(body, d, size, n, path)
}

// readNPYLabelHeader reads the header of a .npy file of labels whose magic
// was seen, and returns its dtype, the dtype's size in bytes, the array's
// shape as Python prints it and the number of labels, checked against
// maxValues.
func readNPYLabelHeader(r io.Reader, path string) (d string, size int, shape string, n int64, err error) {
	var pre [12]byte
	if _, err := io.ReadFull(r, pre[:10]); err != nil {
		return "", 0, "", 0, readErr(path, err, "truncated header")
	}
	d, _, sh, err := readNPYHeader(r, path, &pre)
	if err != nil {
		return "", 0, "", 0, err
	}
	size = npyLabelTypes[d]
	if size == 0 {
		return "", 0, "", 0, fmt.Errorf("read %s: unsupported dtype %s for labels (want little-endian integers, or floats holding whole numbers)", path, showToken(d))
	}
	dims, err := parseNPYShape(sh)
	if err != nil {
		return "", 0, "", 0, fmt.Errorf("read %s: %v", path, err)
	}
	shape = npyShapeString(dims)
	if !(len(dims) == 1 || len(dims) == 2 && dims[1] == 1) {
		return "", 0, "", 0, fmt.Errorf("read %s: array of shape %s: labels need shape (n,) or (n, 1)", path, shape)
	}
	n = dims[0]
	if n > maxValues {
		return "", 0, "", 0, fmt.Errorf("read %s: array of shape %s has more than %d labels", path, shape, maxValues)
	}
	return d, size, shape, n, nil
}

// decodeNPYLabels converts the n labels of dtype d (size bytes each) in
// body, checking each.
func decodeNPYLabels(body []byte, d string, size int, n int64, path string) ([]int, error) {
	labels := make([]int, n)
	for i := range labels {
		f := npyLabelValue(body[int64(i)*int64(size):], d)
		if bad := npyLabelProblem(f); bad != "" {
			return nil, fmt.Errorf("read %s: sample %d: %g %s", path, i+1, f, bad)
		}
		labels[i] = int(f)
	}
	return labels, nil
}

// npyLabelValue returns the value of dtype d at the start of b; integers
// above MaxLabel come back as MaxLabel+1.
func npyLabelValue(b []byte, d string) float64 {
	switch d {
	case "|i1":
		return float64(int8(b[0]))
	case "<i2":
		return float64(int16(binary.LittleEndian.Uint16(b)))
	case "<i4":
		return float64(int32(binary.LittleEndian.Uint32(b)))
	case "<i8":
		v := int64(binary.LittleEndian.Uint64(b))
		if v > MaxLabel {
			return MaxLabel + 1
		}
		return float64(v)
	case "|u1", "<u1":
		return float64(b[0])
	case "<u2":
		return float64(binary.LittleEndian.Uint16(b))
	case "<u4":
		return float64(binary.LittleEndian.Uint32(b))
	case "<u8":
		return float64(min(binary.LittleEndian.Uint64(b), MaxLabel+1))
	case "<f4":
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case "<f8":
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0
}

// npyLabelProblem says why the value f is not a class label, or "".
func npyLabelProblem(f float64) string {
	if f != math.Trunc(f) || math.IsNaN(f) || math.IsInf(f, 0) {
		return "is not an integer"
	}
	if _, err := checkLabel(f); err != nil {
		return err.Error()
	}
	return ""
}

// checkGrowth refuses to grow labels, full, to twice its size when the
// machine lacks the memory: a small compressed file can hold billions of
// lines, which would otherwise be read until the program ran out of
// memory.
func checkGrowth(labels []int, path string) error {
	if len(labels) < cap(labels) || len(labels) < 1<<20 {
		return nil
	}
	need := 3 * float64(len(labels)) * float64(unsafe.Sizeof(labels[0]))
	return memguard.Check(fmt.Sprintf("reading the labels of %s (over %d so far)", path, len(labels)), need)
}
