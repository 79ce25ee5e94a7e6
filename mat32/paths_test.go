package mat32

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// allPaths are the kernel paths, slowest first.
var allPaths = []kernelPath{pathGo, pathScalar, pathAVX2, pathAVX512}

// forPaths runs f as a subtest with each kernel path that can run here
// forced, and logs the ones that cannot.
func forPaths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, p := range allPaths {
		t.Run(p.String(), func(t *testing.T) {
			restore, err := setPath(p)
			if err != nil {
				t.Skipf("%v (CPU: %s)", err, CPUFeatures())
			}
			defer restore()
			f(t)
		})
	}
}

// Known answers of Random123's kat_vectors for Philox-4x32-10.
func TestPhiloxKnownAnswers(t *testing.T) {
	for _, c := range []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0}, [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{^uint32(0), ^uint32(0), ^uint32(0), ^uint32(0)}, [2]uint32{^uint32(0), ^uint32(0)}, [4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0}, [4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	} {
		if got := philox4x32(c.key, c.ctr); got != c.want {
			t.Errorf("philox4x32(%x, %x) = %x, want %x", c.key, c.ctr, got, c.want)
		}
	}
	// The stream: number n is word n%4 of the block of counter n/4.
	key := uint64(0x299f31d0a4093822)
	if got, want := hash(key, 4*0x05a308d3243f6a88+2), philox4x32([2]uint32{0xa4093822, 0x299f31d0}, [4]uint32{0x243f6a88, 0x05a308d3, 0, 0})[2]; got != want {
		t.Errorf("hash = %x, want %x", got, want)
	}
}

// Every path generates the same stream as the Go reference, from any
// starting counter (including across a carry into the counter's high word)
// and for any length.
func TestPhiloxPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	starts := []uint64{0, 1, 2, 3, 5, 1<<34 - 37, 1<<34 - 1, 1<<34 + 3, 1<<40 + 13, 1<<62 - 700}
	for i := 0; i < 6; i++ {
		starts = append(starts, r.Uint64())
	}
	lengths := []int{0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 511, 512, 513, 1029}
	forPaths(t, func(t *testing.T) {
		p := currentPath()
		for _, c0 := range starts {
			key := r.Uint64()
			for _, n := range lengths {
				got := make([]uint32, n)
				philoxFill(p, key, c0, got)
				for i, w := range got {
					if want := hash(key, c0+uint64(i)); w != want {
						t.Fatalf("key %x, numbers from %d, length %d: number %d = %x, want %x", key, c0, n, i, w, want)
					}
				}
			}
		}
	})
}

// The uniforms are uniform (chi-square over 1024 bins) and consecutive
// numbers are independent (chi-square over 64x64 pairs, and the lag-1
// correlation), for a stream and for a stream read at a stride, as kernels
// read rows.
func TestUniformsAreUniformAndUncorrelated(t *testing.T) {
	const n = 1 << 21
	u := make([]float32, n)
	NewRNG(123, 7).Uniform(u)
	// Chi-square with k-1 degrees of freedom: mean k-1, standard deviation
	// sqrt(2(k-1)); 6 standard deviations is a false alarm in 1e9 runs.
	check := func(name string, counts []float64, expect float64) {
		t.Helper()
		chi := 0.0
		for _, c := range counts {
			chi += (c - expect) * (c - expect) / expect
		}
		df := float64(len(counts) - 1)
		if z := (chi - df) / math.Sqrt(2*df); math.Abs(z) > 6 {
			t.Errorf("%s: chi-square %.0f with %.0f degrees of freedom (z = %.1f)", name, chi, df, z)
		} else {
			t.Logf("%s: chi-square %.0f with %.0f degrees of freedom (z = %.2f)", name, chi, df, z)
		}
	}
	bins := make([]float64, 1024)
	for _, v := range u {
		if v < 0 || v >= 1 {
			t.Fatalf("uniform %g outside [0, 1)", v)
		}
		bins[int(v*1024)]++
	}
	check("1024 bins", bins, n/1024.0)
	pairs := make([]float64, 64*64)
	var sxy, sx, sxx float64
	for i := 0; i+1 < n; i += 2 {
		pairs[int(u[i]*64)*64+int(u[i+1]*64)]++
	}
	for i := 0; i+1 < n; i++ {
		x, y := float64(u[i])-0.5, float64(u[i+1])-0.5
		sxy += x * y
		sx += x
		sxx += x * x
	}
	check("64x64 consecutive pairs", pairs, n/2/4096.0)
	if corr := sxy / sxx; math.Abs(corr) > 6/math.Sqrt(n) {
		t.Errorf("lag-1 correlation %g", corr)
	}
	// Numbers 784 apart (one MNIST row), and the low bits of the 24.
	pairs = make([]float64, 64*64)
	for i := 0; i+784 < n; i += 2 {
		pairs[int(u[i]*64)*64+int(u[i+784]*64)]++
	}
	total := 0.0
	for _, c := range pairs {
		total += c
	}
	check("64x64 pairs 784 apart", pairs, total/4096)
	low := make([]float64, 256)
	for _, v := range u {
		low[int(v*(1<<24))&255]++
	}
	check("lowest 8 of the 24 bits", low, n/256.0)
	// Streams of neighbouring seeds and stream numbers are unrelated.
	a, b, c := make([]float32, 1<<16), make([]float32, 1<<16), make([]float32, 1<<16)
	NewRNG(1, 1).Uniform(a)
	NewRNG(1, 2).Uniform(b)
	NewRNG(2, 1).Uniform(c)
	for _, o := range [][]float32{b, c} {
		pairs := make([]float64, 32*32)
		for i := range a {
			pairs[int(a[i]*32)*32+int(o[i]*32)]++
		}
		check("32x32 pairs of neighbouring streams", pairs, float64(len(a))/1024)
	}
}

// kernelCase is an input for the kernel comparisons.
type kernelCase struct{ rows, cols, ld int }

var kernelCases = []kernelCase{{1, 1, 1}, {3, 7, 7}, {5, 15, 16}, {4, 16, 16}, {7, 17, 20}, {37, 53, 53}, {2, 500, 784}, {3, 513, 513}, {2, 1037, 1040}}

// kernelInput returns n values: normal times 20, with the awkward values
// mixed in.
func kernelInput(r *rand.Rand, n int) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), 85, -85, 85.5, -85.5, 88, -88, 88.5, -88.5, 100, -100, 1e-40, -1e-40, 1e-30, -1e-30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	x := make([]float32, n)
	for i := range x {
		if r.IntN(8) == 0 {
			x[i] = special[r.IntN(len(special))]
		} else {
			x[i] = float32(r.NormFloat64() * 20)
		}
	}
	return x
}

// same reports whether a and b are equal bit for bit, or both NaN.
func same(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

func same64(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b)
}

func sameSlices(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if !same(got[i], want[i]) {
			t.Fatalf("%s: element %d = %g (%#x), Go reference %g (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// Every kernel on every path equals the Go reference bit for bit, on all
// shapes (tails of every length, rows longer than a chunk of random
// numbers, strided rows) and all alignments of the random counters.
func TestKernelPathsMatchGoReference(t *testing.T) {
	forPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(41, 42))
		for _, c := range kernelCases {
			n := (c.rows-1)*c.ld + c.cols
			x := kernelInput(r, n)
			bias := kernelInput(r, c.cols)
			name := fmt.Sprintf("%dx%d ld %d", c.rows, c.cols, c.ld)
			for _, base := range []uint64{0, 1, 2, 3, 1<<34 - 7, r.Uint64()} {
				key := r.Uint64()

				got, want := append([]float32(nil), x...), append([]float32(nil), x...)
				sigmoidBias(got, bias, c.rows, c.ld)
				sigmoidBiasGo(want, bias, c.rows, c.ld)
				sameSlices(t, name+" sigmoidBias", got, want)

				got, want = append([]float32(nil), x...), append([]float32(nil), x...)
				gs, ws := make([]float32, n), make([]float32, n)
				sigmoidBiasSample(got, gs, bias, c.rows, c.ld, key, base)
				sigmoidBiasSampleGo(want, ws, bias, c.rows, c.ld, key, base)
				sameSlices(t, name+" sigmoidBiasSample probabilities", got, want)
				sameSlices(t, name+" sigmoidBiasSample samples", gs, ws)

				prob := make([]float32, n)
				for i := range prob {
					prob[i] = r.Float32()
				}
				prob[0] = float32(math.NaN())
				gs, ws = make([]float32, n), make([]float32, n)
				bernoulli(gs, prob, key, base)
				bernoulliGo(ws, prob, key, base)
				sameSlices(t, name+" bernoulli", gs, ws)
				// In place, as Bernoulli allows.
				in := append([]float32(nil), prob...)
				bernoulli(in, in, key, base)
				sameSlices(t, name+" bernoulli in place", in, ws)
			}

			for _, negb := range []bool{false, true} {
				a, b1 := kernelInput(r, n), kernelInput(r, n)
				b2 := append([]float32(nil), b1...)
				cs1, cs2 := kernelInput(r, c.cols), make([]float32, c.cols)
				copy(cs2, cs1)
				sq1, sq2 := make([]float32, c.cols), make([]float32, c.cols)
				t1 := diffStats(a, b1, c.rows, c.cols, c.ld, cs1, 0.37, sq1, negb)
				t2 := diffStatsGo(a, b2, c.rows, c.cols, c.ld, cs2, 0.37, sq2, negb)
				what := fmt.Sprintf("%s diffStats (negate %v)", name, negb)
				if !same64(t1, t2) {
					t.Fatalf("%s total %v, Go reference %v", what, t1, t2)
				}
				sameSlices(t, what+" column sums", cs1, cs2)
				sameSlices(t, what+" squares", sq1, sq2)
				sameSlices(t, what+" b", b1, b2)
			}

			if c.ld == c.cols {

				w1, v1 := kernelInput(r, n), kernelInput(r, n)
				for i := 0; i < n; i += 3 {
					v1[i] = float32(r.NormFloat64() * 1e-30)
				}
				w2, v2 := append([]float32(nil), w1...), append([]float32(nil), v1...)
				momentumStep(w1, v1, 0.01)
				momentumStepGo(w2, v2, 0.01)
				sameSlices(t, name+" momentumStep weights", w1, w2)
				sameSlices(t, name+" momentumStep velocities", v1, v2)

				s1, s2 := append([]float32(nil), x...), append([]float32(nil), x...)
				scale(s1, -0.3)
				scaleGo(s2, -0.3)
				sameSlices(t, name+" scale", s1, s2)

				for _, bk := range []float32{0, 0.5, 1} {
					key, base := r.Uint64(), uint64(r.IntN(1000))
					d1, d2 := make([]float64, c.rows), make([]float64, c.rows)
					d1[0], d2[0] = 3, 3
					h1, h2 := make([]float32, n), make([]float32, n)
					aisHidden(x, bias, c.rows, bk, bk-0.001, h1, key, base, d1)
					aisHiddenGo(x, bias, c.rows, bk, bk-0.001, h2, key, base, d2)
					for i := range d1 {
						if !same64(d1[i], d2[i]) {
							t.Fatalf("%s aisHidden(%g) delta %d = %v, Go reference %v", name, bk, i, d1[i], d2[i])
						}
					}
					sameSlices(t, name+" aisHidden samples", h1, h2)
				}

				v := make([]float32, c.rows)
				for i := range v {
					v[i] = float32(r.IntN(2))
				}
				wn := make([]float32, n)
				for i := range wn {
					wn[i] = -x[i]
				}
				o1, o2 := make([]float64, c.rows), make([]float64, c.rows)
				flipRowSum(x, wn, v, c.rows, c.cols, bias, o1)
				flipRowSumGo(x, wn, v, c.rows, c.cols, bias, o2)
				for i := range o1 {
					if !same64(o1[i], o2[i]) {
						t.Fatalf("%s flipRowSum row %d = %v, Go reference %v", name, i, o1[i], o2[i])
					}
				}
			}
			for _, beta := range []float32{1, 0.3} {
				o1, o2 := make([]float64, c.rows), make([]float64, c.rows)
				softplusRowSum(x, bias, c.rows, c.ld, beta, o1)
				softplusRowSumGo(x, bias, c.rows, c.ld, beta, o2)
				for i := range o1 {
					if !same64(o1[i], o2[i]) {
						t.Fatalf("%s softplusRowSum(%g) row %d = %v, Go reference %v", name, beta, i, o1[i], o2[i])
					}
				}
			}
		}
	})
}

// The exported kernels, split between workers, give the same results on
// every path.
func TestPathsGiveSameSamples(t *testing.T) {
	run := func() (*Dense, *Dense, []float64) {
		r := rand.New(rand.NewPCG(51, 52))
		p, s := randDense(r, 300, 500), New(300, 500)
		bias := randDense(r, 1, 500).Data
		rng := NewRNG(5, 9)
		SigmoidBiasSample(p, s, bias, rng)
		d := make([]float64, 300)
		AISHidden(randDense(r, 300, 500), bias, 0.7, 0.69, s, rng, d)
		return p, s, d
	}
	var p0, s0 *Dense
	var d0 []float64
	forPaths(t, func(t *testing.T) {
		p, s, d := run()
		if p0 == nil {
			p0, s0, d0 = p, s, d
			return
		}
		sameSlices(t, "probabilities", p.Data, p0.Data)
		sameSlices(t, "samples", s.Data, s0.Data)
		for i := range d {
			if d[i] != d0[i] {
				t.Fatalf("AIS delta %d = %v, first path %v", i, d[i], d0[i])
			}
		}
	})
}

func TestChoosePath(t *testing.T) {
	all := func(kernelPath) bool { return true }
	avx2Only := func(p kernelPath) bool { return p <= pathAVX2 }
	noCgo := func(p kernelPath) bool { return p == pathGo }
	for _, c := range []struct {
		env       string
		supported func(kernelPath) bool
		want      kernelPath
		note      bool
	}{
		{"", all, pathAVX512, false},
		{"auto", avx2Only, pathAVX2, false},
		{"AVX2", all, pathAVX2, false},
		{"scalar", all, pathScalar, false},
		{"go", all, pathGo, false},
		{"avx512", avx2Only, pathAVX2, true},
		{"avx2", noCgo, pathGo, true},
		{"sse", avx2Only, pathAVX2, true},
		{"", noCgo, pathGo, false},
	} {
		p, note := choosePath(c.env, c.supported)
		if p != c.want || (note != "") != c.note {
			t.Errorf("HARMONIUM_KERNELS=%q: %s, note %q; want %s, note %v", c.env, p, note, c.want, c.note)
		}
		if !c.supported(p) {
			t.Errorf("HARMONIUM_KERNELS=%q chose %s, which is not supported", c.env, p)
		}
	}
	// Here: the default is the best path the CPU has.
	p, _ := choosePath("", pathSupported)
	if !pathSupported(p) || (p < pathAVX512 && pathSupported(p+1)) {
		t.Errorf("default path %s; CPU: %s", p, CPUFeatures())
	}
	if _, err := setPath(kernelPath(99)); err == nil {
		t.Error("setPath accepted an unknown path")
	}
	t.Logf("kernel path %s; CPU features: %s", KernelPath(), CPUFeatures())
}

// TestHelperPrintPath prints the kernel path for TestEnvironmentChoosesPath.
func TestHelperPrintPath(t *testing.T) {
	if os.Getenv("HARMONIUM_TEST_HELPER") != "1" {
		t.Skip("helper for TestEnvironmentChoosesPath")
	}
	fmt.Printf("path=%s note=%s\n", KernelPath(), KernelNote())
}

// HARMONIUM_KERNELS, read at start-up, chooses the path, and a path the CPU
// lacks is refused with a note.
func TestEnvironmentChoosesPath(t *testing.T) {
	for _, p := range allPaths {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPrintPath$", "-test.v")
		cmd.Env = append(os.Environ(), "HARMONIUM_TEST_HELPER=1", "HARMONIUM_KERNELS="+p.String())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		want := p
		if !pathSupported(p) {
			want = bestPath(p, pathSupported)
		}
		if !strings.Contains(string(out), "path="+want.String()+" ") {
			t.Errorf("HARMONIUM_KERNELS=%s: %s; want path %s", p, out, want)
		}
		if pathSupported(p) == strings.Contains(string(out), "using") {
			t.Errorf("HARMONIUM_KERNELS=%s: note wrong in %s", p, out)
		}
	}
}

// goldenDigest hashes the results of the sampling kernels on fixed inputs.
func goldenDigest() uint64 {
	h := fnv.New64a()
	put := func(v uint64) { _ = binary.Write(h, binary.LittleEndian, v) }
	u := make([]float32, 1001)
	NewRNG(1, 2).Uniform(u)
	for _, v := range u {
		put(uint64(math.Float32bits(v)))
	}
	put(NewRNG(3, 4).Uint64())
	r := rand.New(rand.NewPCG(61, 62))
	x, bias := randDense(r, 37, 53), randDense(r, 1, 53).Data
	s := New(37, 53)
	rng := NewRNG(5, 6)
	SigmoidBiasSample(x, s, bias, rng)
	d := make([]float64, 37)
	AISHidden(randDense(r, 37, 53), bias, 0.6, 0.59, s, rng, d)
	Bernoulli(s, x, rng)
	for i := range x.Data {
		put(uint64(math.Float32bits(x.Data[i]))<<32 | uint64(math.Float32bits(s.Data[i])))
	}
	for _, v := range d {
		put(math.Float64bits(v))
	}
	return h.Sum64()
}

// The random streams and the sampling kernels give these exact results in
// every build (cgo or not) and on every path: the digest was computed once
// with the Go reference. A change of the digest changes every model trained
// with a given seed.
func TestGoldenDigest(t *testing.T) {
	const want = 0x73ad5ad0aa8e3e36
	forPaths(t, func(t *testing.T) {
		if got := goldenDigest(); got != want {
			t.Errorf("digest %#x, want %#x", got, uint64(want))
		}
	})
}
