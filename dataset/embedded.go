package dataset

import (
	"compress/gzip"
	"embed"
	"fmt"
)

//go:embed embedded/t10k-images-idx3-ubyte.gz embedded/t10k-labels-idx1-ubyte.gz
var embedded embed.FS

// EmbeddedName is the Source of the embedded data set.
const EmbeddedName = "embedded MNIST test set"

// Embedded returns MNIST's 10,000 test images and labels, built into the
// binary so that harmonium works with no data at hand.
func Embedded() (*Set, error) {
	read := func(name string, magic uint32) ([]int, []byte, error) {
		f, err := embedded.Open("embedded/" + name)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return decodeIDX(zr, name, magic)
	}
	dims, body, err := read("t10k-images-idx3-ubyte.gz", idxImages)
	if err != nil {
		return nil, err
	}
	_, lbody, err := read("t10k-labels-idx1-ubyte.gz", idxLabels)
	if err != nil {
		return nil, err
	}
	x, h, w := idxToImages(dims, body)
	return &Set{X: x, Labels: idxToLabels(lbody), Height: h, Width: w, Source: EmbeddedName}, nil
}
