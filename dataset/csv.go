package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
	"github.com/harmonium-ml/harmonium/mat32"
)

// maxCSVLine caps the length of a CSV line in bytes: 64 MiB, room for
// millions of features, while a file with no line breaks (or a stream of
// zeros) fails instead of being buffered whole.
const maxCSVLine = 1 << 26

// ReadCSV reads a comma-separated matrix of numbers, one sample per line,
// optionally gzipped. A first line with no numbers at all is taken as a
// header. Ragged rows, fields that are not numbers or are out of float32's
// range, NaN and Inf are errors that name the line and column, as are lines
// over 64 MiB and files of more than 2^30 values.
func ReadCSV(path string) (*Set, error) {
	r, err := open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxCSVLine)
	sc.Split(scanLines())
	var data []float32
	cols, rows, line := -1, 0, 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // a UTF-8 byte order mark
		}
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		nf := strings.Count(text, ",") + 1
		if rows == 0 && cols < 0 && isHeader(text) {
			cols = nf
			continue
		}
		if cols >= 0 && nf != cols {
			return nil, fmt.Errorf("read %s: line %d has %d fields, expected %d", path, line, nf, cols)
		}
		if len(data) > maxValues-nf {
			return nil, fmt.Errorf("read %s: line %d: more than %d values in all (the limit)", path, line, maxValues)
		}
		cols = nf
		for j, rest, more := 0, text, true; more; j++ {
			var f string
			f, rest, more = strings.Cut(rest, ",")
			f = strings.TrimSpace(f)
			v, err := strconv.ParseFloat(f, 32)
			switch {
			case errors.Is(err, strconv.ErrRange):
				return nil, fmt.Errorf("read %s: line %d, column %d: %s is out of float32's range", path, line, j+1, quoteField(f))
			case err != nil:
				return nil, fmt.Errorf("read %s: line %d, column %d: %s is not a number", path, line, j+1, quoteField(f))
			case math.IsNaN(v) || math.IsInf(v, 0):
				return nil, fmt.Errorf("read %s: line %d, column %d: %s is not allowed", path, line, j+1, f)
			}
			data = append(data, float32(v))
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("read %s: line %d is longer than %d bytes (the limit)", path, line+1, maxCSVLine)
		}
		return nil, readErr(path, err, "truncated: the compressed data ends early")
	}
	if rows == 0 {
		return nil, fmt.Errorf("read %s: no data rows", path)
	}
	return &Set{X: mat32.FromSlice(rows, cols, data), Source: path}, nil
}

// scanLines returns a split function like bufio.ScanLines (less its
// dropping of '\r', which ReadCSV trims anyway) that remembers how far it has
// searched a line that has not ended yet. bufio.ScanLines searches from the
// line's start after every read, which makes a long line cost time
// quadratic in its length.
func scanLines() bufio.SplitFunc {
	searched := 0
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data[min(searched, len(data)):], '\n'); i >= 0 {
			i += min(searched, len(data))
			searched = 0
			return i + 1, data[:i], nil
		}
		searched = len(data)
		if atEOF && len(data) > 0 {
			searched = 0
			return len(data), data, nil
		}
		return 0, nil, nil
	}
}

// quoteField quotes a field for a message, shortening a long one.
func quoteField(f string) string {
	const max = 40
	if len(f) > max {
		return strconv.Quote(strings.ToValidUTF8(f[:max], "")) + "..."
	}
	return strconv.Quote(f)
}

// showToken returns s for a message: as it is when short and printable,
// else quoted (and shortened).
func showToken(s string) string {
	if len(s) > 40 || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) || r == utf8.RuneError }) {
		return quoteField(s)
	}
	return s
}

// isHeader reports whether no comma-separated field of a line parses as a
// number (including one out of range).
func isHeader(line string) bool {
	for rest, more := line, true; more; {
		var f string
		f, rest, more = strings.Cut(rest, ",")
		if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil || errors.Is(err, strconv.ErrRange) {
			return false
		}
	}
	return true
}

// WriteCSV writes m as CSV, one row per line, atomically.
func WriteCSV(path string, m *mat32.Dense) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		buf := make([]byte, 0, 64)
		for i := 0; i < m.Rows; i++ {
			buf = buf[:0]
			for j, v := range m.Row(i) {
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
			}
			buf = append(buf, '\n')
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
}
