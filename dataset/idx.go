package dataset

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/harmonium-ml/harmonium/mat32"
)

// IDX magic numbers: unsigned bytes with 3 dimensions (images) or 1 (labels).
const (
	idxImages = 0x00000803
	idxLabels = 0x00000801
)

// readIDX reads an IDX file of unsigned bytes with the given magic number and
// returns its dimensions and body, checking the body's length against them.
func readIDX(path string, magic uint32) ([]int, []byte, error) {
	r, err := open(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	return decodeIDX(r, path, magic)
}

// decodeIDX reads IDX data from r; path names it in messages. The body's
// size is checked for overflow and against maxValues before anything is
// allocated, and read with readBody, so a header claiming more data than r
// holds fails as "truncated" without allocating the claim.
func decodeIDX(r io.Reader, path string, magic uint32) ([]int, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, readErr(path, err, "not an IDX file: too short for a header")
	}
	got := binary.BigEndian.Uint32(hdr[:])
	if got != magic {
		return nil, nil, fmt.Errorf("read %s: wrong IDX magic number 0x%08x (want 0x%08x)", path, got, magic)
	}
	dims := make([]int64, magic&0xff)
	var total int64 = 1
	for i := range dims {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, nil, readErr(path, err, "truncated IDX header")
		}
		dims[i] = int64(binary.BigEndian.Uint32(hdr[:]))
		if dims[i] == 0 {
			return nil, nil, fmt.Errorf("read %s: IDX dimensions %v include a 0: no samples", path, dims[:i+1])
		}
		// Compare by division: total*dims[i] could overflow.
		if dims[i] > maxValues/total {
			return nil, nil, fmt.Errorf("read %s: implausible IDX dimensions %v: more than %d values", path, dims[:i+1], maxValues)
		}
		total *= dims[i]
	}
	body, n, err := readBody(r, total)
	if err != nil {
		return nil, nil, readErr(path, err, fmt.Sprintf("truncated: header says %v (%d bytes), file has %d", dims, total, n))
	}
	// Reading on to the end also makes a gzip reader check its CRC.
	switch extra, err := io.ReadFull(r, hdr[:1]); {
	case extra > 0:
		return nil, nil, fmt.Errorf("read %s: data continues past the %d bytes its header %v describes", path, total, dims)
	case err != io.EOF:
		return nil, nil, readErr(path, err, "truncated: the compressed data ends early")
	}
	out := make([]int, len(dims))
	for i, d := range dims {
		out[i] = int(d) // fits: d <= total <= maxValues
	}
	return out, body, nil
}

// ReadIDXImages reads an IDX image file (raw or gzipped) and returns one row
// per image with pixels scaled from 0..255 to [0, 1], and the image size.
func ReadIDXImages(path string) (x *mat32.Dense, height, width int, err error) {
	dims, body, err := readIDX(path, idxImages)
	if err != nil {
		return nil, 0, 0, err
	}
	x, height, width = idxToImages(dims, body)
	return x, height, width, nil
}

func idxToImages(dims []int, body []byte) (x *mat32.Dense, height, width int) {
	x = mat32.New(dims[0], dims[1]*dims[2])
	for i, b := range body {
		x.Data[i] = float32(b) / 255
	}
	return x, dims[1], dims[2]
}

// ReadIDXLabels reads an IDX label file (raw or gzipped).
func ReadIDXLabels(path string) ([]int, error) {
	_, body, err := readIDX(path, idxLabels)
	if err != nil {
		return nil, err
	}
	return idxToLabels(body), nil
}

func idxToLabels(body []byte) []int {
	labels := make([]int, len(body))
	for i, b := range body {
		labels[i] = int(b)
	}
	return labels
}

// findIDX returns the path of an MNIST file in dir, trying the usual names
// (train-images-idx3-ubyte, train-images.idx3-ubyte, each optionally .gz).
func findIDX(dir, prefix, kind string) (string, error) {
	var tried []string
	for _, sep := range []string{"-", "."} {
		for _, ext := range []string{".gz", ""} {
			name := prefix + "-" + kind + sep + map[string]string{"images": "idx3-ubyte", "labels": "idx1-ubyte"}[kind] + ext
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, name)
		}
	}
	return "", fmt.Errorf("read %s: no MNIST %s file (looked for %s)", dir, kind, tried[0])
}

// LoadMNIST reads MNIST from a folder: split "train" (60,000 images) or
// "test" (10,000). Labels are read when their file is present; their count
// must match the images.
func LoadMNIST(dir, split string) (*Set, error) {
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("unknown split %q (want train or test)", split)
	}
	ip, err := findIDX(dir, prefix, "images")
	if err != nil {
		return nil, err
	}
	x, h, w, err := ReadIDXImages(ip)
	if err != nil {
		return nil, err
	}
	set := &Set{X: x, Height: h, Width: w, Source: ip}
	if lp, err := findIDX(dir, prefix, "labels"); err == nil {
		labels, err := ReadIDXLabels(lp)
		if err != nil {
			return nil, err
		}
		if len(labels) != x.Rows {
			return nil, fmt.Errorf("read %s: %d labels for %d images in %s", lp, len(labels), x.Rows, baseName(ip))
		}
		set.Labels = labels
	}
	return set, nil
}
