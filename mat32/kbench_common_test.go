package mat32

import "math/rand/v2"

// kernelBench is one element-wise kernel at the sizes of a CD-1 step at
// 784-500, batch 100 (or of an AIS step, or a pseudo-likelihood row sweep).
type kernelBench struct {
	name  string
	elems int // elements per call
	run   func()
}

// kernelBenches returns the kernel benchmarks, using only the exported API.
func kernelBenches() []kernelBench {
	r := rand.New(rand.NewPCG(1, 1))
	x, s := randDense(r, 100, 500), New(100, 500)
	bias := randDense(r, 1, 500).Data
	rng := NewRNG(1, 1)
	p := New(100, 784)
	for i := range p.Data {
		p.Data[i] = r.Float32()
	}
	vs := New(100, 784)
	a, c := randDense(r, 100, 784), randDense(r, 100, 784)
	cs := make([]float32, 784)
	w, v := randDense(r, 784, 500), randDense(r, 784, 500)
	wn := w.Clone()
	Scale(wn, -1)
	vis := make([]float32, 784)
	for i := range vis {
		vis[i] = float32(i % 2)
	}
	out, d := make([]float64, 784), make([]float64, 100)
	// Real-valued units: Gaussian visible units (784) and noisy rectified
	// hidden units (500), and a Gaussian layer of 500.
	std784, std500 := make([]float32, 784), make([]float32, 500)
	for j := range std784 {
		std784[j] = 0.5 + r.Float32()
	}
	for j := range std500 {
		std500[j] = 0.5 + r.Float32()
	}
	mean784, g784 := randDense(r, 100, 784), New(100, 784)
	mean500, g500 := randDense(r, 100, 500), New(100, 500)
	// ReLUBiasSample overwrites p with max(0, p + bias): the values drift
	// by the bias each call but stay finite, and the kernels' cost does not
	// depend on them.
	rp784, rs784, rb784 := randDense(r, 100, 784), New(100, 784), randDense(r, 1, 784).Data
	rp500, rs500 := randDense(r, 100, 500), New(100, 500)
	lx := randDense(r, 100, 500)
	// Adam over the weights of a 784-500 layer: small gradients keep the
	// weights and running means finite over any number of calls.
	aw, ag, am, av := randDense(r, 784, 500), randDense(r, 784, 500), New(784, 500), New(784, 500)
	Scale(ag, 1e-3)
	return []kernelBench{
		// The sigmoid of its own output stays in (0.5, 0.75): no need to
		// restore x between calls.
		{"SigmoidBias", 100 * 500, func() { SigmoidBias(x, bias) }},
		{"SigmoidBiasSample", 100 * 500, func() { SigmoidBiasSample(x, s, bias, rng) }},
		{"Bernoulli", 100 * 784, func() { Bernoulli(vs, p, rng) }},
		{"DiffStats", 100 * 784, func() { DiffStats(a, c, cs, 1e-3) }},
		{"MomentumStep", 784 * 500, func() { MomentumStep(w.Data, v.Data, 1e-6) }},
		{"AdamStep", 784 * 500, func() { AdamStep(aw.Data, ag.Data, am.Data, av.Data, 0.9, 0.999, 1e-3, 1.0005, 1e-8) }},
		{"Scale", 100 * 500, func() { Scale(s, -1) }},
		{"SoftplusRowSums", 100 * 500, func() { SoftplusRowSums(x, bias, 0.7, d) }},
		{"AISHidden", 100 * 500, func() { AISHidden(x, bias, 0.5, 0.499, s, rng, d) }},
		{"FlipSoftplusSums", 784 * 500, func() { FlipSoftplusSums(w, wn, vis, bias, out) }},
		{"GaussianSample/100x784", 100 * 784, func() { GaussianSample(g784, mean784, std784, rng) }},
		{"GaussianSample/100x500", 100 * 500, func() { GaussianSample(g500, mean500, std500, rng) }},
		{"ReLUBiasSample/100x784", 100 * 784, func() { ReLUBiasSample(rp784, rs784, rb784, rng) }},
		{"ReLUBiasSample/100x500", 100 * 500, func() { ReLUBiasSample(rp500, rs500, bias, rng) }},
		{"ReLUBias/100x500", 100 * 500, func() { ReLUBiasSample(rp500, nil, bias, nil) }},
		// Its own output plus a bias each call: drifts, stays finite.
		{"LinearBias/100x500", 100 * 500, func() { LinearBias(lx, bias) }},
		// Network activations over a 100 x 500 layer, one goroutine (nn
		// spreads the rows over the workers).
		{"Activate/relu", 100 * 500, func() { Activate(ActReLU, 0, a.Data[:50000], s.Data) }},
		{"Activate/sigmoid", 100 * 500, func() { Activate(ActSigmoid, 0, a.Data[:50000], s.Data) }},
		{"ActivateGrad/relu", 100 * 500, func() { ActivateGrad(ActReLU, 0, a.Data[:50000], nil, c.Data[:50000], s.Data) }},
		{"ActivateGrad/sigmoid", 100 * 500, func() { ActivateGrad(ActSigmoid, 0, nil, p.Data[:50000], c.Data[:50000], s.Data) }},
	}
}
