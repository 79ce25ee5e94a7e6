package modelfile_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
)

// Save an RBM to a model file and load it back.
func Example() {
	dir, err := os.MkdirTemp("", "harmonium-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	// 784 visible units (28x28 pixels), 64 hidden units, weights drawn with seed 1.
	m := rbm.NewInit(784, 64, nil, 1)
	if err := modelfile.SaveRBM(path, m, map[string]string{"note": "untrained"}, nil); err != nil {
		log.Fatal(err)
	}

	loaded, meta, state, err := modelfile.LoadRBM(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("format:", meta["format"], "note:", meta["note"])
	fmt.Println("visible:", loaded.Visible(), "hidden:", loaded.Hidden(), "weights:", len(loaded.W.Data))
	fmt.Println("same weights:", loaded.W.Data[100] == m.W.Data[100])
	fmt.Println("checkpoint:", state != nil)
	// Output:
	// format: harmonium.rbm/v1 note: untrained
	// visible: 784 hidden: 64 weights: 50176
	// same weights: true
	// checkpoint: false
}

// A checkpoint also holds the training state, so that training can resume.
func ExampleSaveRBM_checkpoint() {
	dir, err := os.MkdirTemp("", "harmonium-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "checkpoint.safetensors")

	m := rbm.New(6, 4)
	trainer, err := rbm.NewTrainer(m, rbm.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	trainer.State.Epoch = 3 // as if three epochs had run
	if err := modelfile.SaveRBM(path, m, nil, &trainer.State); err != nil {
		log.Fatal(err)
	}

	loaded, _, state, err := modelfile.LoadRBM(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%dx%d RBM after %d epochs\n", loaded.Visible(), loaded.Hidden(), state.Epoch)
	// Output:
	// 6x4 RBM after 3 epochs
}

// Write and Read handle any float32 (F32) and int32 (I32) tensors.
func ExampleWrite() {
	dir, err := os.MkdirTemp("", "harmonium-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tensors.safetensors")

	err = modelfile.Write(path, []modelfile.Tensor{
		{Name: "scores", Shape: []int{2, 2}, Data: []float32{0.5, 1, 1.5, 2}},
		{Name: "ids", Shape: []int{3}, Ints: []int32{7, 8, 9}},
	}, map[string]string{"source": "example"})
	if err != nil {
		log.Fatal(err)
	}
	f, err := modelfile.Read(path)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"scores", "ids"} {
		t := f.Tensors[name]
		fmt.Println(name, t.DType(), t.Shape, t.Data, t.Ints)
	}
	// Output:
	// scores F32 [2 2] [0.5 1 1.5 2] []
	// ids I32 [3] [] [7 8 9]
}
