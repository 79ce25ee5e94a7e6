package dataset

import (
	"bytes"
	"fmt"

	"github.com/harmonium-ml/harmonium/mat32"
)

// ReadNPYBytes parses data, the whole contents of a .npy file held in
// memory (an HTTP request body, say), as ReadNPY reads a file: a 1-D or
// 2-D array of float32, float64, uint8, int32 or int64 in C order (a 1-D
// array is one sample), every value finite and within float32's range.
// name names the data in errors, which read "read NAME: ...". Unlike
// ReadNPY it does not gunzip, and bytes after the array's data are an
// error. The shape is checked against len(data) before the values are
// allocated, so a small input cannot make it allocate much: at most 64 KiB
// for the header and 4 bytes per byte of data.
func ReadNPYBytes(name string, data []byte) (*Set, error) {
	if len(data) < 10 || string(data[:6]) != "\x93NUMPY" {
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			return nil, fmt.Errorf("read %s: gzipped; send the .npy data uncompressed", name)
		}
		return nil, fmt.Errorf("read %s: not a .npy file (bad magic)", name)
	}
	// An input of known size: readNPYData then fails on data too short
	// for the shape before allocating anything for it.
	in := &input{r: bytes.NewReader(data), size: int64(len(data))}
	var pre [12]byte
	in.Read(pre[:10])
	d, fo, sh, err := readNPYHeader(in, name, &pre)
	if err != nil {
		return nil, err
	}
	l, err := npyLayoutOf(name, d, fo, sh)
	if err != nil {
		return nil, err
	}
	rows, cols, shape := l.rows, l.cols, l.shape
	values, err := readNPYData(in, name, shape, rows*cols, cols, d, l.size)
	if err != nil {
		return nil, err
	}
	if extra := in.remaining(); extra > 0 {
		return nil, fmt.Errorf("read %s: %d bytes after the data of the array of shape %s", name, extra, shape)
	}
	return &Set{X: mat32.FromSlice(int(rows), int(cols), values), Source: name}, nil
}
