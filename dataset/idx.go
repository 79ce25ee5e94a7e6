package dataset

import (
	"encoding/binary"
	"errors"
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

// decodeIDX reads IDX data from r; path names it in messages.
func decodeIDX(r io.Reader, path string, magic uint32) ([]int, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, fmt.Errorf("read %s: not an IDX file: too short for a header", path)
	}
	got := binary.BigEndian.Uint32(hdr[:])
	if got != magic {
		return nil, nil, fmt.Errorf("read %s: wrong IDX magic number 0x%08x (want 0x%08x)", path, got, magic)
	}
	ndim := int(magic & 0xff)
	dims := make([]int, ndim)
	total := 1
	for i := range dims {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, nil, fmt.Errorf("read %s: truncated IDX header", path)
		}
		dims[i] = int(binary.BigEndian.Uint32(hdr[:]))
		total *= dims[i]
		if dims[i] == 0 || total > 1<<34 {
			return nil, nil, fmt.Errorf("read %s: implausible IDX dimensions %v", path, dims[:i+1])
		}
	}
	body := make([]byte, total)
	n, err := io.ReadFull(r, body)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("read %s: truncated: header says %v (%d bytes), file has %d", path, dims, total, n)
		}
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if extra, _ := r.Read(hdr[:1]); extra > 0 {
		return nil, nil, fmt.Errorf("read %s: data continues past the %d bytes its header %v describes", path, total, dims)
	}
	return dims, body, nil
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
