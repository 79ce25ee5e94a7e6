package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", "time CD-1 training epochs (or, with --arch, neural-network training epochs) over 60,000 samples (MNIST's training set size) and print seconds per epoch; data loading is not timed. "+
		"It first prints the CPU's instruction-set extensions, the element-wise kernels in use (HARMONIUM_KERNELS=avx512, avx2, scalar or go chooses), "+
		"the products' backend and how it spreads products over the cores (HARMONIUM_GEMM), and the rates of the products and of the sigmoid-and-sample kernel, measured briefly. "+
		"Set HARMONIUM_BLAS=go to time the pure-Go backend.",
		"harmonium bench --data ../shared/data/mnist --epochs 3\n  harmonium bench --data ../shared/data/mnist --arch cnn --epochs 1")
	var data dataFlags
	data.register(fs, "train")
	epochs := fs.Int("epochs", 3, "epochs to time")
	hidden := fs.Int("hidden", 500, "hidden units")
	batch := fs.Int("batch", 100, "minibatch size")
	rows := fs.Int("rows", 60000, "samples per epoch: the data is repeated or cut to this many")
	momentum := fs.Float64("momentum", 0, "momentum (0: plain CD-1, the algorithm of the published comparisons)")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	arch := fs.String("arch", "", "time a neural network instead: mlp:800,800 or cnn (as nn train --arch), with its recipe's settings and --batch, on MNIST (the data must have labels)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := positive(map[string]int{"epochs": *epochs, "hidden": *hidden, "batch": *batch, "rows": *rows}); err != nil {
		return err
	}
	set, err := data.load(ctx, e)
	if err != nil {
		return err
	}
	if *arch != "" {
		return reportNNBench(ctx, e, *arch, set, *epochs, *batch, *rows, *jsonOut)
	}
	x := mat32.New(*rows, set.X.Cols)
	for i := 0; i < *rows; i++ {
		copy(x.Row(i), set.X.Row(i%set.X.Rows))
	}
	m := rbm.NewInit(x.Cols, *hidden, x, 1)
	cfg := rbm.Config{Epochs: *epochs, BatchSize: *batch, LearningRate: 0.1, Steps: 1, Momentum: *momentum, Seed: 1}
	products := mat32.Backend()
	if s := mat32.GemmStrategy(); s != "" {
		products += ", " + s
	}
	if note := mat32.BackendNote(); note != "" {
		products += " (" + note + ")"
	}
	kernels := mat32.KernelPath()
	if note := mat32.KernelNote(); note != "" {
		kernels += " (" + note + ")"
	}
	rates := mat32.MeasureRates(x.Cols, *hidden, min(*batch, *rows), 600*time.Millisecond)
	density, sparse := mat32.Density(x), rbm.SparseProducts(m, x)
	dataLine := fmt.Sprintf("%.0f%% of the values are nonzero: dense products", 100*density)
	if sparse {
		dataLine = fmt.Sprintf("%.0f%% of the values are nonzero: the products with each minibatch skip its zeros", 100*density)
	}
	sparseDown := rbm.SparseHiddenProducts(m)
	hiddenLine := "binary samples: dense products down"
	if sparseDown {
		hiddenLine = "binary samples: the products down skip their zeros when under half are ones"
	}
	if !*jsonOut {
		fmt.Fprintf(e.stdout, "CD-1, %d x %d -> %d hidden, batch %d, momentum %g; %d workers\n", x.Rows, x.Cols, *hidden, *batch, *momentum, mat32.Workers())
		fmt.Fprintf(e.stdout, "CPU features:     %s\n", mat32.CPUFeatures())
		fmt.Fprintf(e.stdout, "kernels:          %s\n", kernels)
		fmt.Fprintf(e.stdout, "products:         %s\n", products)
		fmt.Fprintf(e.stdout, "data:             %s\n", dataLine)
		fmt.Fprintf(e.stdout, "hidden units:     %s\n", hiddenLine)
		fmt.Fprintf(e.stdout, "measured rates:   products %.0f GFLOP/s (this step's three shapes), sigmoid+sample %.0f Melem/s, Gaussian sample %.0f Melem/s, noisy ReLU %.0f Melem/s (%d x %d)\n",
			rates.GemmGFLOPS, rates.SampleMelems, rates.GaussianMelems, rates.ReLUMelems, min(*batch, *rows), *hidden)
	}
	var secs []float64
	_, err = m.Fit(ctx, x, cfg, rbm.Hooks{Epoch: func(s rbm.EpochStats) error {
		secs = append(secs, s.Duration.Seconds())
		if !*jsonOut {
			fmt.Fprintf(e.stdout, "epoch %d: %.3f s\n", s.Epoch, s.Duration.Seconds())
		}
		return nil
	}})
	if err != nil {
		return err
	}
	sorted := slices.Clone(secs)
	slices.Sort(sorted)
	gflop := 10 * float64(x.Rows) * float64(x.Cols) * float64(*hidden) / 1e9
	if *jsonOut {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"seconds_per_epoch": secs, "best": sorted[0], "median": sorted[len(sorted)/2],
			"gflop_per_epoch": gflop, "backend": mat32.Backend(), "gemm_strategy": mat32.GemmStrategy(), "backend_note": mat32.BackendNote(),
			"kernels": mat32.KernelPath(), "kernel_note": mat32.KernelNote(), "cpu_features": mat32.CPUFeatures(), "workers": mat32.Workers(),
			"data_density": density, "sparse_products": sparse, "sparse_hidden_products": sparseDown,
			"gemm_gflops": rates.GemmGFLOPS, "sample_melem_per_s": rates.SampleMelems,
			"gaussian_melem_per_s": rates.GaussianMelems, "relu_melem_per_s": rates.ReLUMelems})
	}
	fmt.Fprintf(e.stdout, "best %.3f s/epoch, median %.3f s (%.0f GFLOP per epoch in products, %.0f GFLOP/s at best)\n",
		sorted[0], sorted[len(sorted)/2], gflop, gflop/sorted[0])
	return nil
}

// reportNNBench times training epochs of a neural network (bench --arch)
// and prints seconds per epoch.
func reportNNBench(ctx context.Context, e *env, arch string, set *dataset.Set, epochs, batch, rows int, jsonOut bool) error {
	if !jsonOut {
		fmt.Fprintf(e.stdout, "%s, %d x %d, batch %d, its nn train recipe; %d workers\n", arch, rows, set.X.Cols, batch, mat32.Workers())
		fmt.Fprintf(e.stdout, "CPU features:     %s\n", mat32.CPUFeatures())
		fmt.Fprintf(e.stdout, "kernels:          %s\n", mat32.KernelPath())
		fmt.Fprintf(e.stdout, "products:         %s %s\n", mat32.Backend(), mat32.GemmStrategy())
	}
	secs, params, convs, err := benchNN(ctx, arch, set, epochs, batch, rows)
	if err != nil {
		return err
	}
	sorted := slices.Clone(secs)
	slices.Sort(sorted)
	if jsonOut {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"arch": arch, "seconds_per_epoch": secs, "best": sorted[0], "median": sorted[len(sorted)/2],
			"rows": rows, "batch": batch, "parameters": params, "backend": mat32.Backend(), "cpu_features": mat32.CPUFeatures(), "workers": mat32.Workers(),
			"kernels": mat32.KernelPath(), "convolutions": convs})
	}
	for _, c := range convs {
		fmt.Fprintf(e.stdout, "convolution:      %s\n", c)
	}
	for i, s := range secs {
		fmt.Fprintf(e.stdout, "epoch %d: %.3f s\n", i+1, s)
	}
	fmt.Fprintf(e.stdout, "best %.3f s/epoch, median %.3f s (%d parameters)\n", sorted[0], sorted[len(sorted)/2], params)
	return nil
}
