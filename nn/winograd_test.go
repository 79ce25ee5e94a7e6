package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// The transforms of F(m, r) compute the correlation of every input of
// a = m+r-1 values with every kernel of r: A' [(G g) * (B' d)] = y with
// y[i] = sum over j of d[i+j] g[j]. The 2-D algorithm is the 1-D one
// applied along both axes, so this checks it too.
func TestWinoMatricesCorrelate(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, c := range [][2]int{{2, 3}, {4, 3}, {2, 5}, {3, 3}, {4, 5}, {6, 3}, {2, 7}} {
		m, k := c[0], c[1]
		a := m + k - 1
		at, g, bt := winoMatrices(m, k)
		for trial := range 20 {
			d, w := make([]float64, a), make([]float64, k)
			for i := range d {
				d[i] = r.NormFloat64()
			}
			for i := range w {
				w[i] = r.NormFloat64()
			}
			prod := make([]float64, a)
			for x := range a {
				var gw, bd float64
				for j := range k {
					gw += g[x*k+j] * w[j]
				}
				for j := range a {
					bd += bt[x*a+j] * d[j]
				}
				prod[x] = gw * bd
			}
			for i := range m {
				var got, want float64
				for x := range a {
					got += at[i*a+x] * prod[x]
				}
				for j := range k {
					want += d[i+j] * w[j]
				}
				if math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
					t.Fatalf("F(%d, %d) trial %d: output %d = %v, want %v", m, k, trial, i, got, want)
				}
			}
		}
	}
}

// The input transforms used (a = 6) have small integer entries, so that
// they lose nothing to rounding in float32 on small integers.
func TestWinoInputTransformIsIntegral(t *testing.T) {
	for _, k := range []int{3, 5} {
		m := winoTile(k)
		_, _, bt := winoMatrices(m, k)
		for i, v := range bt {
			if v != math.Trunc(v) || math.Abs(v) > 8 {
				t.Errorf("F(%d, %d): B' entry %d = %v", m, k, i, v)
			}
		}
		if a := m + k - 1; a != 6 {
			t.Errorf("F(%d, %d): tiles of %d, want 6", m, k, a)
		}
	}
}

// Arch.MemoryBytes covers what a network holds after a training step,
// including a Winograd convolution's transformed weights, their chunks'
// gradients and the workers' scratch: on this network (wide channels,
// small images, a small batch) they are most of it, so the estimate fails
// without them.
func TestMemoryBytesCoversWinograd(t *testing.T) {
	const batch = 20
	arch := Arch{Input: Shape{128, 7, 7}, Layers: []LayerSpec{
		{Kind: KindConv2D, Filters: 128, Kernel: 3, Stride: 1, Pad: 1, Init: "he"}, {Kind: KindFlatten}, {Kind: KindDense, Units: 10}}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	net, err := Build(arch)
	if err != nil {
		t.Fatal(err)
	}
	net.Init(1)
	conv := net.Layers()[0].(*Conv2DLayer)
	if conv.wino == nil {
		t.Fatal("the 128 -> 128 3x3 convolution does not use Winograd")
	}
	d := Data{X: randMat(rand.New(rand.NewPCG(1, 1)), batch, arch.Input.Size(), 0, 1), Targets: Targets{Labels: make([]int, batch)}}
	tr, _ := firstStep(t, net, d, Config{Epochs: 1, BatchSize: batch, LearningRate: 1e-3})
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tr)
	used := float64(after.HeapAlloc) - float64(before.HeapAlloc) - 4*float64(len(d.X.Data))
	est, err := arch.MemoryBytes(batch)
	if err != nil {
		t.Fatal(err)
	}
	if used > est {
		t.Errorf("a step holds %.1f MB, MemoryBytes says %.1f MB", used/1e6, est/1e6)
	}
	t.Logf("held %.1f MB, estimated %.1f MB (Winograd's part %.1f MB)", used/1e6, est/1e6, 4*winoValues(conv.g, mat32.Workers()+1)/1e6)
}
