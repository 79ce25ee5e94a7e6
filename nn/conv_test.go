package nn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// convReference computes, in float64 from the definition, the output of
// Conv2D layer l for x and the gradients of sum(y*dy) with respect to x,
// the weights and the biases.
func convReference(l *Conv2DLayer, x, dy *mat32.Dense) (y, dx, gW, gB []float64) {
	g := l.g
	k, F := g.k, g.out.C
	y = make([]float64, x.Rows*g.out.Size())
	dx = make([]float64, len(x.Data))
	gW = make([]float64, len(l.W.Data))
	gB = make([]float64, F)
	for n := range x.Rows {
		for f := range F {
			for oh := range g.out.H {
				for ow := range g.out.W {
					o := n*g.out.Size() + (f*g.out.H+oh)*g.out.W + ow
					s, d := float64(l.B[f]), float64(dy.Data[o])
					gB[f] += d
					for c := range g.in.C {
						for i := range k {
							for j := range k {
								ih, iw := oh*g.s-g.pad+i, ow*g.s-g.pad+j
								if ih < 0 || ih >= g.in.H || iw < 0 || iw >= g.in.W {
									continue
								}
								wi := ((c*k+i)*k+j)*F + f
								xi := n*g.in.Size() + (c*g.in.H+ih)*g.in.W + iw
								s += float64(l.W.Data[wi]) * float64(x.Data[xi])
								gW[wi] += d * float64(x.Data[xi])
								dx[xi] += d * float64(l.W.Data[wi])
							}
						}
					}
					y[o] = s
				}
			}
		}
	}
	return y, dx, gW, gB
}

// closeTo checks got against want, each value to 1e-4 of itself and 1e-5
// of the largest: a value that is a sum of many larger terms (a weight
// gradient) keeps only the error of those terms, which Winograd's
// transforms make a few times that of a plain sum.
func closeTo(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	var scale float64
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	for i, w := range want {
		if math.Abs(float64(got[i])-w) > 1e-4*(1+math.Abs(w))+1e-5*scale {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], w)
		}
	}
}

// TestConvMatchesReference checks Conv2D's output and gradients against
// the definition on many geometries (the fast paths for stride 1 with
// "same" padding, other strides and paddings) and minibatch sizes (fewer
// and more samples than convChunks).
func TestConvMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	cases := []struct {
		in                Shape
		f, k, s, pad, bat int
	}{
		{Shape{1, 28, 28}, 4, 5, 1, 2, 3},
		{Shape{3, 7, 7}, 5, 3, 1, 1, 30},
		{Shape{2, 6, 9}, 3, 5, 1, 2, 13},
		{Shape{2, 5, 5}, 1, 3, 1, 1, 1},
		{Shape{3, 4, 4}, 4, 1, 1, 0, 5},
		{Shape{2, 1, 5}, 2, 3, 1, 1, 2},
		{Shape{3, 4, 5}, 2, 2, 1, 0, 7},
		{Shape{2, 8, 7}, 3, 5, 1, 1, 4},
		{Shape{2, 5, 6}, 3, 3, 2, 1, 14},
		{Shape{2, 6, 5}, 2, 4, 3, 2, 3},
		{Shape{1, 9, 9}, 2, 3, 2, 0, 2},
		// Winograd: F(2x2, 5x5) and F(4x4, 3x3), outputs that the tiles
		// cover exactly or overhang, more channels than a kernel block.
		{Shape{16, 14, 14}, 16, 5, 1, 2, 13},
		{Shape{32, 7, 9}, 64, 3, 1, 1, 5},
		{Shape{64, 6, 5}, 40, 3, 1, 0, 3},
		{Shape{12, 5, 7}, 9, 5, 1, 1, 4},
		{Shape{8, 3, 3}, 8, 5, 1, 2, 2},
		{Shape{70, 4, 4}, 80, 3, 1, 1, 2},
	}
	for range 10 {
		k := 1 + r.IntN(5)
		cases = append(cases, struct {
			in                Shape
			f, k, s, pad, bat int
		}{Shape{1 + r.IntN(3), k + r.IntN(6), k + r.IntN(6)}, 1 + r.IntN(4), k, 1 + r.IntN(3), r.IntN(k/2 + 1), 1 + r.IntN(20)})
	}
	for _, c := range cases {
		for _, force := range []bool{false, true} {
			if force && (c.s != 1 || winoTile(c.k) == 0) {
				continue
			}
			t.Run(fmt.Sprintf("%v_f%d_k%d_s%d_p%d_n%d_wino%v", c.in, c.f, c.k, c.s, c.pad, c.bat, force), func(t *testing.T) {
				l := Conv2D(c.in, c.f, c.k, c.s, c.pad, Given)
				out := l.g.out.H * l.g.out.W
				if wantWino := c.s == 1 && winoPays(c.k, c.in.C, c.f, out); (l.wino != nil) != wantWino {
					t.Fatalf("Winograd used: %v, want %v", l.wino != nil, wantWino)
				}
				if force {
					l.setWino(makeWino(l.g))
				}
				checkConv(t, r, l, c.bat)
			})
		}
	}
}

// checkConv checks conv layer l's output and gradients on a random
// minibatch of bat samples against convReference.
func checkConv(t *testing.T, r *rand.Rand, l *Conv2DLayer, bat int) {
	t.Helper()
	randomize(l, 4)
	x := randMat(r, bat, l.g.in.Size(), -1, 1)
	y := l.Forward(x, true)
	dy := randMat(r, y.Rows, y.Cols, -1, 1)
	wy, wdx, wgW, wgB := convReference(l, x, dy)
	closeTo(t, "output", y.Data, wy)
	dx := l.Backward(dy)
	closeTo(t, "input gradient", dx.Data, wdx)
	closeTo(t, "weight gradient", l.gW.Data, wgW)
	closeTo(t, "bias gradient", l.gB, wgB)
	// The parameter-only pass (which may lower the input where Backward
	// lowers the output gradient).
	clear(l.gW.Data)
	clear(l.gB)
	l.backwardParams(dy)
	closeTo(t, "weight gradient (parameters only)", l.gW.Data, wgW)
	closeTo(t, "bias gradient (parameters only)", l.gB, wgB)
}

// TestConvIndependentOfWorkers checks that a convolution's output and
// gradients are the same, bit for bit, on 1, 2 and 3 workers.
func TestConvIndependentOfWorkers(t *testing.T) {
	for _, c := range []struct {
		in           Shape
		f, k, s, pad int
	}{{Shape{4, 14, 14}, 8, 5, 1, 2}, {Shape{1, 12, 12}, 6, 3, 1, 1}, {Shape{3, 9, 8}, 4, 3, 2, 1},
		{Shape{16, 14, 14}, 16, 5, 1, 2}, {Shape{32, 9, 10}, 64, 3, 1, 1}} {
		run := func(procs int) [][]float32 {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			l := Conv2D(c.in, c.f, c.k, c.s, c.pad, Given)
			randomize(l, 6)
			x := randMat(rand.New(rand.NewPCG(6, 1)), 37, c.in.Size(), -1, 1)
			y := l.Forward(x, true)
			dy := randMat(rand.New(rand.NewPCG(6, 2)), y.Rows, y.Cols, -1, 1)
			dx := l.Backward(dy)
			res := [][]float32{slices.Clone(y.Data), slices.Clone(dx.Data), slices.Clone(l.gW.Data), slices.Clone(l.gB)}
			l.backwardParams(dy)
			return append(res, slices.Clone(l.gW.Data), slices.Clone(l.gB))
		}
		want := run(1)
		for _, procs := range []int{2, 3} {
			got := run(procs)
			for i, name := range []string{"output", "input gradient", "weight gradient", "bias gradient",
				"weight gradient (parameters only)", "bias gradient (parameters only)"} {
				if !slices.Equal(got[i], want[i]) {
					t.Errorf("%v: %s on %d workers differs from 1 worker", c.in, name, procs)
				}
			}
		}
	}
}

// TestConvNetIndependentOfWorkers trains a small convolutional
// autoencoder-like network for a few minibatches on 1, 2 and 3 workers
// and checks that it ends with the same weights, bit for bit.
func TestConvNetIndependentOfWorkers(t *testing.T) {
	train := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		net, err := Build(Arch{Input: Shape{1, 12, 12}, Layers: []LayerSpec{
			{Kind: KindConv2D, Filters: 4, Kernel: 3, Stride: 1, Pad: 1, Init: "he"}, {Kind: KindReLU},
			{Kind: KindMaxPool2D, Window: 2, Stride: 2},
			{Kind: KindConv2D, Filters: 6, Kernel: 5, Stride: 1, Pad: 2, Init: "he"}, {Kind: KindReLU},
			{Kind: KindUpsample2D, Window: 2},
			{Kind: KindConv2D, Filters: 1, Kernel: 3, Stride: 1, Pad: 1, Init: "xavier"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		net.Init(3)
		x := randMat(rand.New(rand.NewPCG(8, 8)), 90, 144, 0, 1)
		d := Data{X: x, Targets: Targets{Values: x}}
		cfg := Config{Epochs: 2, BatchSize: 30, LearningRate: 1e-2, Loss: BinaryCrossEntropy{}, Seed: 4}
		if _, err := net.Fit(context.Background(), d, Data{}, cfg, Hooks{}); err != nil {
			t.Fatal(err)
		}
		var w []float32
		for _, p := range net.Params() {
			w = append(w, p.Value.Data...)
		}
		return w
	}
	want := train(1)
	for _, procs := range []int{2, 3} {
		if !slices.Equal(train(procs), want) {
			t.Errorf("weights after training on %d workers differ from 1 worker", procs)
		}
	}
}
