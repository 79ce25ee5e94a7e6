package dbn

import (
	"context"
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// top is the top RBM of a DBN with a label group, with the conditionals
// of its joint visible layer [penultimate; labels]: p(h|v) as usual,
// p(penultimate|h) independent Bernoullis, p(labels|h) a softmax over the
// group.
type top struct {
	m   *rbm.RBM
	pen int // penultimate units: the first pen visible units
	c   int // label units: the last c visible units
}

func (d *DBN) top() top {
	m := d.Layers[len(d.Layers)-1]
	return top{m: m, pen: m.Visible() - d.Labels, c: d.Labels}
}

// up sets hp to p(h=1|v) for the joint visible states v and, when hs is
// not nil, samples hs from it.
func (t top) up(v, hp, hs *mat32.Dense, rng *mat32.RNG) {
	mat32.MulSigmoid(v, t.m.W, false, t.m.HidBias, hp, hs, rng)
}

// means sets vp to the joint visible means given h: sigmoids for the
// penultimate units, a softmax for the label group.
func (t top) means(h, vp *mat32.Dense) {
	mat32.Gemm(false, true, 1, h, t.m.W, 0, vp)
	b := t.m.VisBias
	for r := range vp.Rows {
		row := vp.Row(r)
		for i := range t.pen {
			row[i] = mat32.Sigmoid(row[i] + b[i])
		}
		softmax(row[t.pen:], b[t.pen:])
	}
}

// sample sets vs to a sample of the joint visible means vp: independent
// Bernoullis for the penultimate units and one label per row drawn from
// the softmax. With clamp true the label block of vs is left as it is.
func (t top) sample(vs, vp *mat32.Dense, rng *mat32.RNG, clamp bool) {
	var keep []float32
	if clamp {
		keep = make([]float32, vs.Rows*t.c)
		for r := range vs.Rows {
			copy(keep[r*t.c:], vs.Row(r)[t.pen:])
		}
	}
	mat32.Bernoulli(vs, vp, rng)
	for r := range vs.Rows {
		lab := vs.Row(r)[t.pen:]
		if clamp {
			copy(lab, keep[r*t.c:(r+1)*t.c])
			continue
		}
		sampleOneHot(lab, vp.Row(r)[t.pen:], rng.Float32())
	}
}

// softmax sets x to softmax(x + b), computed in float64.
func softmax(x, b []float32) {
	mx := math.Inf(-1)
	for i := range x {
		mx = max(mx, float64(x[i])+float64(b[i]))
	}
	s := 0.0
	for i := range x {
		s += math.Exp(float64(x[i]) + float64(b[i]) - mx)
	}
	for i := range x {
		x[i] = float32(math.Exp(float64(x[i])+float64(b[i])-mx) / s)
	}
}

// sampleOneHot sets dst to the one-hot vector of the category that u
// (uniform in [0, 1)) picks from the probabilities p.
func sampleOneHot(dst, p []float32, u float32) {
	k, acc := len(p)-1, float32(0)
	for i, pi := range p {
		acc += pi
		if u < acc {
			k = i
			break
		}
	}
	setOneHot(dst, k)
}

// setOneHot sets dst to the one-hot vector of category k.
func setOneHot(dst []float32, k int) {
	for i := range dst {
		dst[i] = 0
	}
	dst[k] = 1
}

// joinLabels returns the rows of x followed by the one-hot codes of the
// labels (c classes): the top RBM's training data.
func joinLabels(x *mat32.Dense, labels []int, c int) (*mat32.Dense, error) {
	if len(labels) != x.Rows {
		return nil, fmt.Errorf("%w: %d labels for %d samples", ErrLabel, len(labels), x.Rows)
	}
	out := mat32.New(x.Rows, x.Cols+c)
	for r, y := range labels {
		if y < 0 || y >= c {
			return nil, fmt.Errorf("%w: label %d of sample %d is outside [0, %d)", ErrLabel, y, r, c)
		}
		row := out.Row(r)
		copy(row, x.Row(r))
		row[x.Cols+y] = 1
	}
	return out, nil
}

// classifyChunk bounds the rows scored at once.
const classifyChunk = 1000

// FreeEnergies returns, for every row of v (data at level 0), the free
// energy of the top RBM with the penultimate level at its means given v
// and each label clamped in turn: row r, column y is F([x_r; e_y]). They
// are computed exactly (the hidden units summed out analytically), not by
// sampling.
func (d *DBN) FreeEnergies(v *mat32.Dense) ([][]float64, error) {
	if d.Labels == 0 {
		return nil, ErrNoLabels
	}
	x, err := d.Transform(v, len(d.Layers)-1)
	if err != nil {
		return nil, err
	}
	t := d.top()
	m := t.m
	out := make([][]float64, x.Rows)
	bias := make([][]float32, t.c)
	for y := range bias {
		bias[y] = make([]float32, m.Hidden())
		for j, w := range m.W.Row(t.pen + y) {
			bias[y][j] = m.HidBias[j] + w
		}
	}
	sp := make([]float64, min(classifyChunk, x.Rows))
	xw := mat32.New(min(classifyChunk, x.Rows), m.Hidden())
	for r0 := 0; r0 < x.Rows; r0 += classifyChunk {
		r1 := min(r0+classifyChunk, x.Rows)
		xc, pc := x.Slice(r0, r1), xw.Slice(0, r1-r0)
		mat32.Gemm(false, false, 1, xc, m.W.Slice(0, t.pen), 0, pc)
		for r := r0; r < r1; r++ {
			out[r] = make([]float64, t.c)
			vb := 0.0
			for i, xi := range x.Row(r) {
				vb += float64(xi) * float64(m.VisBias[i])
			}
			for y := range out[r] {
				out[r][y] = -vb - float64(m.VisBias[t.pen+y])
			}
		}
		for y := range t.c {
			mat32.SoftplusRowSums(pc, bias[y], 1, sp[:r1-r0])
			for r := r0; r < r1; r++ {
				out[r][y] -= sp[r-r0]
			}
		}
	}
	return out, nil
}

// Classify returns the label of every row of v by the generative rule:
// the label whose clamped free energy (FreeEnergies) is lowest.
func (d *DBN) Classify(v *mat32.Dense) ([]int, error) {
	fe, err := d.FreeEnergies(v)
	if err != nil {
		return nil, err
	}
	pred := make([]int, len(fe))
	for r, f := range fe {
		for y := range f {
			if f[y] < f[pred[r]] {
				pred[r] = y
			}
		}
	}
	return pred, nil
}

// Dream draws n samples from the DBN: n Gibbs chains in the top RBM,
// started from random penultimate states (each unit on with probability
// 1/2), run for steps full steps with the label clamped to label (or, for
// label < 0, sampled with the rest), then a single pass down from the
// penultimate means of the last step to data-level means (Down with means
// throughout). The same seed gives the same samples. It stops between
// steps when ctx is cancelled, returning ctx's error; progress, when not
// nil, is called with the steps done so far.
func (d *DBN) Dream(ctx context.Context, label, n, steps int, seed uint64, progress func(done, total int)) (*mat32.Dense, error) {
	return d.DreamFrom(ctx, label, nil, n, steps, seed, progress)
}

// DreamFrom is Dream with the chains started, when start is not nil, at a
// sample of the penultimate means given the rows of start (data at level
// 0, one row per chain; n is then start.Rows) instead of at random.
func (d *DBN) DreamFrom(ctx context.Context, label int, start *mat32.Dense, n, steps int, seed uint64, progress func(done, total int)) (*mat32.Dense, error) {
	if d.Labels == 0 && label >= 0 {
		return nil, ErrNoLabels
	}
	if label >= d.Labels && d.Labels > 0 {
		return nil, fmt.Errorf("%w: label %d is outside [0, %d)", ErrLabel, label, d.Labels)
	}
	if start != nil {
		n = start.Rows
	}
	if n < 1 || steps < 1 {
		return nil, fmt.Errorf("dream: need at least one sample and one step, got %d and %d", n, steps)
	}
	rng := mat32.NewRNG(seed, 0)
	L := len(d.Layers)
	var pen *mat32.Dense
	if start != nil {
		var err error
		if pen, err = d.Transform(start, L-1); err != nil {
			return nil, err
		}
		if L == 1 {
			pen = start.Clone() // Transform to level 0 returns start itself
		}
		if L > 1 || d.Layers[0].VisUnits == rbm.Bernoulli {
			mat32.Bernoulli(pen, pen, rng)
		}
	}
	var top *mat32.Dense
	var err error
	if d.Labels == 0 {
		top, err = d.dreamPlain(ctx, pen, n, steps, rng, progress)
	} else {
		top, err = d.dreamLabelled(ctx, label, pen, n, steps, rng, progress)
	}
	if err != nil || L == 1 {
		return top, err
	}
	return d.Down(top, L-1, nil)
}

// dreamPlain runs the Gibbs chains of a top RBM without labels from pen
// (random when nil) and returns the visible means of the last step.
func (d *DBN) dreamPlain(ctx context.Context, pen *mat32.Dense, n, steps int, rng *mat32.RNG, progress func(done, total int)) (*mat32.Dense, error) {
	m := d.Layers[len(d.Layers)-1]
	v := pen
	if v == nil {
		v = m.InitChains(n, nil, rng)
	}
	var vp *mat32.Dense
	for done := 0; done < steps; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := min(steps-done, 20)
		vp = m.Gibbs(v, k, rng)
		done += k
		if progress != nil {
			progress(done, steps)
		}
	}
	return vp, nil
}

// dreamLabelled runs the Gibbs chains of the top RBM with its label group
// from pen (random when nil), the label clamped (or sampled for label <
// 0), and returns the penultimate means of the last step.
func (d *DBN) dreamLabelled(ctx context.Context, label int, pen *mat32.Dense, n, steps int, rng *mat32.RNG, progress func(done, total int)) (*mat32.Dense, error) {
	t := d.top()
	v := mat32.New(n, t.m.Visible())
	if pen == nil {
		half := mat32.New(n, t.m.Visible())
		for i := range half.Data {
			half.Data[i] = 0.5
		}
		mat32.Bernoulli(v, half, rng)
	}
	for r := range n {
		if pen != nil {
			copy(v.Row(r), pen.Row(r))
		}
		k := label
		if k < 0 {
			k = min(int(rng.Float32()*float32(t.c)), t.c-1)
		}
		setOneHot(v.Row(r)[t.pen:], k)
	}
	hp, hs := mat32.New(n, t.m.Hidden()), mat32.New(n, t.m.Hidden())
	vp := mat32.New(n, t.m.Visible())
	for s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t.up(v, hp, hs, rng)
		t.means(hs, vp)
		t.sample(v, vp, rng, label >= 0)
		if progress != nil && ((s+1)%20 == 0 || s+1 == steps) {
			progress(s+1, steps)
		}
	}
	out := mat32.New(n, t.pen)
	for r := range n {
		copy(out.Row(r), vp.Row(r)[:t.pen])
	}
	return out, nil
}
