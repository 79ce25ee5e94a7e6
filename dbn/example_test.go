package dbn_test

import (
	"context"
	"fmt"

	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/mat32"
)

// A DBN with a label group in its top RBM, trained greedily on two
// patterns, classifies by the free energy of each clamped label and dreams
// of a class by Gibbs sampling with the label clamped.
func Example() {
	x := mat32.New(100, 8)
	labels := make([]int, 100)
	for i := range 100 {
		labels[i] = i % 2
		for j := range 4 {
			x.Set(i, j+4*labels[i], 1) // class 0: first half on; class 1: second half
		}
	}
	cfg := dbn.DefaultConfig(dbn.Shape{Visible: 8, Hidden: []int{6, 10}, Labels: 2}, x.Rows, 1)
	for i := range cfg.Layers {
		t := &cfg.Layers[i].Train
		t.Epochs, t.BatchSize = 30, 10
		t.Persistent, t.LearningRate = false, 0.1 // CD-1: the PCD recipe suits large data sets
	}
	d, err := dbn.Train(context.Background(), x, labels, cfg, dbn.Hooks{})
	if err != nil {
		fmt.Println(err)
		return
	}
	pred, _ := d.Classify(x.Slice(0, 4))
	fmt.Println("sizes:", d.Sizes(), "predicted:", pred)
	dream, _ := d.Dream(context.Background(), 1, 1, 100, 1, nil)
	fmt.Printf("a dream of class 1 is on in its second half: %v\n", dream.At(0, 6) > dream.At(0, 1))
	// Output:
	// sizes: [8 6 10] predicted: [0 1 0 1]
	// a dream of class 1 is on in its second half: true
}
