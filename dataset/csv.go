package dataset

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
	"github.com/harmonium-ml/harmonium/mat32"
)

// ReadCSV reads a comma-separated matrix of numbers, one sample per line,
// optionally gzipped. A first line with no numbers at all is taken as a
// header. Ragged rows, fields that are not numbers, NaN and Inf are errors
// that name the line and column.
func ReadCSV(path string) (*Set, error) {
	r, err := open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	var data []float32
	cols, rows, line := -1, 0, 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Split(text, ",")
		if rows == 0 && cols < 0 && isHeader(fields) {
			cols = len(fields)
			continue
		}
		if cols >= 0 && len(fields) != cols {
			return nil, fmt.Errorf("read %s: line %d has %d fields, expected %d", path, line, len(fields), cols)
		}
		cols = len(fields)
		for j, f := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil {
				return nil, fmt.Errorf("read %s: line %d, column %d: %q is not a number", path, line, j+1, strings.TrimSpace(f))
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("read %s: line %d, column %d: %s is not allowed", path, line, j+1, strings.TrimSpace(f))
			}
			data = append(data, float32(v))
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if rows == 0 {
		return nil, fmt.Errorf("read %s: no data rows", path)
	}
	return &Set{X: mat32.FromSlice(rows, cols, data), Source: path}, nil
}

// isHeader reports whether no field of a line parses as a number.
func isHeader(fields []string) bool {
	for _, f := range fields {
		if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil {
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
