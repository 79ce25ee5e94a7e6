package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/internal/memguard"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", "time CD-1 training epochs (or, with --arch, neural-network training epochs) over 60,000 samples (MNIST's training set size) and print seconds per epoch; data loading is not timed. "+
		"It first prints the CPU's instruction-set extensions, the element-wise kernels in use (HARMONIUM_KERNELS=avx512, avx2, scalar or go chooses), "+
		"the products' backend and how it spreads products over the cores (HARMONIUM_GEMM), and the rates of the products and of the sigmoid-and-sample kernel, measured briefly. "+
		"Set HARMONIUM_BLAS=go to time the pure-Go backend.",
		"harmonium bench --data ../shared/data/mnist --epochs 3\n  harmonium bench --data ../shared/data/mnist --arch cnn --epochs 1")
	var f rbmBenchFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := positive(map[string]int{"epochs": f.epochs, "hidden": f.hidden, "batch": f.batch, "rows": f.rows}); err != nil {
		return err
	}
	set, err := f.data.load(ctx, e)
	if err != nil {
		return err
	}
	if f.arch != "" {
		return reportNNBench(ctx, e, f.arch, set, f.epochs, f.batch, f.rows, f.json)
	}
	cfg := rbm.Config{Epochs: f.epochs, BatchSize: f.batch, LearningRate: 0.1, Steps: 1, Momentum: f.momentum, Seed: 1}
	if err := f.check(cfg, set.X.Cols); err != nil {
		return err
	}
	x := mat32.New(f.rows, set.X.Cols)
	for i := 0; i < f.rows; i++ {
		copy(x.Row(i), set.X.Row(i%set.X.Rows))
	}
	m := rbm.NewInit(x.Cols, f.hidden, x, 1)
	s := f.setup(m, x)
	if !f.json {
		f.printSetup(e, x, s)
	}
	secs, err := f.timeEpochs(ctx, e, m, x, cfg)
	if err != nil {
		return err
	}
	return f.report(e, x, s, secs)
}

// rbmBenchFlags are the settings of bench.
type rbmBenchFlags struct {
	data                        dataFlags
	epochs, hidden, batch, rows int
	momentum                    float64
	json                        bool
	arch                        string
}

// register defines the flags of bench.
func (f *rbmBenchFlags) register(fs *flag.FlagSet) {
	f.data.register(fs, "train")
	fs.IntVar(&f.epochs, "epochs", 3, "epochs to time")
	fs.IntVar(&f.hidden, "hidden", 500, "hidden units")
	fs.IntVar(&f.batch, "batch", 100, "minibatch size")
	fs.IntVar(&f.rows, "rows", 60000, "samples per epoch: the data is repeated or cut to this many")
	fs.Float64Var(&f.momentum, "momentum", 0, "momentum (0: plain CD-1, the algorithm of the published comparisons)")
	fs.BoolVar(&f.json, "json", false, "print the result as JSON")
	fs.StringVar(&f.arch, "arch", "", "time a neural network instead: mlp:800,800 or cnn (as nn train --arch), with its recipe's settings and --batch, on MNIST (the data must have labels)")
}

// check refuses, before anything is allocated, settings CD-1 does not take
// and a benchmark of --rows samples of cols values and --hidden units whose
// data and training state would not fit in memory.
func (f *rbmBenchFlags) check(cfg rbm.Config, cols int) error {
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	state := rbm.Config{BatchSize: min(f.batch, f.rows)}.MemoryBytes(cols, f.hidden)
	what := fmt.Sprintf("benchmarking a %d-%d RBM (--hidden %d) on --rows %d", cols, f.hidden, f.hidden, f.rows)
	return memguard.Check(what, 4*float64(f.rows)*float64(cols)+state)
}

// rbmBenchSetup describes what a CD-1 benchmark runs on: the kernels and
// products in use, their measured rates and the sparsity of the data.
type rbmBenchSetup struct {
	products, kernels    string
	rates                mat32.Rates
	density              float64
	sparse, sparseDown   bool
	dataLine, hiddenLine string
}

// setup describes the kernels and products that training m on x uses and
// measures their rates.
func (f *rbmBenchFlags) setup(m *rbm.RBM, x *mat32.Dense) rbmBenchSetup {
	var s rbmBenchSetup
	s.products = mat32.Backend()
	if g := mat32.GemmStrategy(); g != "" {
		s.products += ", " + g
	}
	if note := mat32.BackendNote(); note != "" {
		s.products += " (" + note + ")"
	}
	s.kernels = mat32.KernelPath()
	if note := mat32.KernelNote(); note != "" {
		s.kernels += " (" + note + ")"
	}
	s.rates = mat32.MeasureRates(x.Cols, f.hidden, min(f.batch, f.rows), 600*time.Millisecond)
	s.density, s.sparse = mat32.Density(x), rbm.SparseProducts(m, x)
	s.dataLine = fmt.Sprintf("%.0f%% of the values are nonzero: dense products", 100*s.density)
	if s.sparse {
		s.dataLine = fmt.Sprintf("%.0f%% of the values are nonzero: the products with each minibatch skip its zeros", 100*s.density)
	}
	s.sparseDown = rbm.SparseHiddenProducts(m)
	s.hiddenLine = "binary samples: dense products down"
	if s.sparseDown {
		s.hiddenLine = "binary samples: the products down skip their zeros when under half are ones"
	}
	return s
}

// printSetup prints the benchmark's settings and setup as text.
func (f *rbmBenchFlags) printSetup(e *env, x *mat32.Dense, s rbmBenchSetup) {
	fmt.Fprintf(e.stdout, "CD-1, %d x %d -> %d hidden, batch %d, momentum %g; %d workers\n", x.Rows, x.Cols, f.hidden, f.batch, f.momentum, mat32.Workers())
	fmt.Fprintf(e.stdout, "CPU features:     %s\n", mat32.CPUFeatures())
	fmt.Fprintf(e.stdout, "kernels:          %s\n", s.kernels)
	fmt.Fprintf(e.stdout, "products:         %s\n", s.products)
	fmt.Fprintf(e.stdout, "data:             %s\n", s.dataLine)
	fmt.Fprintf(e.stdout, "hidden units:     %s\n", s.hiddenLine)
	fmt.Fprintf(e.stdout, "measured rates:   products %.0f GFLOP/s (this step's three shapes), sigmoid+sample %.0f Melem/s, Gaussian sample %.0f Melem/s, noisy ReLU %.0f Melem/s (%d x %d)\n",
		s.rates.GemmGFLOPS, s.rates.SampleMelems, s.rates.GaussianMelems, s.rates.ReLUMelems, min(f.batch, f.rows), f.hidden)
}

// timeEpochs trains m on x and returns the seconds of each epoch, printing
// them as text unless --json.
func (f *rbmBenchFlags) timeEpochs(ctx context.Context, e *env, m *rbm.RBM, x *mat32.Dense, cfg rbm.Config) ([]float64, error) {
	var secs []float64
	_, err := m.Fit(ctx, x, cfg, rbm.Hooks{Epoch: func(s rbm.EpochStats) error {
		secs = append(secs, s.Duration.Seconds())
		if !f.json {
			fmt.Fprintf(e.stdout, "epoch %d: %.3f s\n", s.Epoch, s.Duration.Seconds())
		}
		return nil
	}})
	return secs, err
}

// report prints the result of the CD-1 benchmark, as text or JSON.
func (f *rbmBenchFlags) report(e *env, x *mat32.Dense, s rbmBenchSetup, secs []float64) error {
	best, median := bestAndMedian(secs)
	gflop := 10 * float64(x.Rows) * float64(x.Cols) * float64(f.hidden) / 1e9
	if f.json {
		return writeJSON(e.stdout, e.stderr, map[string]any{"seconds_per_epoch": secs, "best": best, "median": median,
			"gflop_per_epoch": gflop, "backend": mat32.Backend(), "gemm_strategy": mat32.GemmStrategy(), "backend_note": mat32.BackendNote(),
			"kernels": mat32.KernelPath(), "kernel_note": mat32.KernelNote(), "cpu_features": mat32.CPUFeatures(), "workers": mat32.Workers(),
			"data_density": s.density, "sparse_products": s.sparse, "sparse_hidden_products": s.sparseDown,
			"gemm_gflops": s.rates.GemmGFLOPS, "sample_melem_per_s": s.rates.SampleMelems,
			"gaussian_melem_per_s": s.rates.GaussianMelems, "relu_melem_per_s": s.rates.ReLUMelems})
	}
	fmt.Fprintf(e.stdout, "best %.3f s/epoch, median %.3f s (%.0f GFLOP per epoch in products, %.0f GFLOP/s at best)\n",
		best, median, gflop, gflop/best)
	return nil
}

// bestAndMedian returns the shortest and the median of the epoch times
// (the upper median for an even count).
func bestAndMedian(secs []float64) (best, median float64) {
	sorted := slices.Clone(secs)
	slices.Sort(sorted)
	return sorted[0], sorted[len(sorted)/2]
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
	best, median := bestAndMedian(secs)
	if jsonOut {
		return writeJSON(e.stdout, e.stderr, map[string]any{"arch": arch, "seconds_per_epoch": secs, "best": best, "median": median,
			"rows": rows, "batch": batch, "parameters": params, "backend": mat32.Backend(), "cpu_features": mat32.CPUFeatures(), "workers": mat32.Workers(),
			"kernels": mat32.KernelPath(), "convolutions": convs})
	}
	for _, c := range convs {
		fmt.Fprintf(e.stdout, "convolution:      %s\n", c)
	}
	for i, s := range secs {
		fmt.Fprintf(e.stdout, "epoch %d: %.3f s\n", i+1, s)
	}
	fmt.Fprintf(e.stdout, "best %.3f s/epoch, median %.3f s (%d parameters)\n", best, median, params)
	return nil
}
