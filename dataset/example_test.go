package dataset_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
)

// ReadCSV reads one sample per line; a first line without numbers is a
// header.
func ExampleReadCSV() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "data.csv")
	csv := "red,green,blue\n0,0.5,1\n1,1,0\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		log.Fatal(err)
	}

	set, err := dataset.ReadCSV(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(set.Shape())
	fmt.Println(set.X.Row(0))
	// Output:
	// 2 x 3
	// [0 0.5 1]
}

// Load picks the reader from the path: a folder of MNIST IDX files, .csv,
// .csv.gz or .npy. Errors name the file and the problem.
func ExampleLoad() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "x.npy")
	m := mat32.FromSlice(2, 2, []float32{0, 1, 1, 0})
	if err := dataset.WriteNPY(path, m); err != nil {
		log.Fatal(err)
	}

	set, err := dataset.Load(path, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(set.Shape())

	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("1,2\n3\n"), 0o644)
	_, err = dataset.Load(bad, "")
	fmt.Println(strings.Replace(err.Error(), bad, "bad.csv", 1))
	// Output:
	// 2 x 2
	// read bad.csv: line 2 has 1 fields, expected 2
}

// Embedded needs no files: MNIST's test set is built into the binary.
func ExampleEmbedded() {
	set, err := dataset.Embedded()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(set.Shape())
	fmt.Println("first label:", set.Labels[0])
	train, held := set.Split(0.1, 1)
	fmt.Println(train.X.Rows, held.X.Rows)
	// Output:
	// 10000 x 784 (28x28 images)
	// first label: 7
	// 9000 1000
}
