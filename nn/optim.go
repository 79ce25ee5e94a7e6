package nn

import (
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Optimizer updates parameters from their gradients. The optimisers
// follow PyTorch's definitions (torch.optim, without weight decay, which
// the trainer adds as the L2 penalty): g is a parameter's gradient, lr the
// learning rate, and the state starts at zero.
type Optimizer interface {
	// Step updates every parameter's Value from its Grad. The parameters
	// must be the same, in the same order, at every step.
	Step(params []Param, lr float64)
}

// updater runs an element-wise update over each parameter, split by rows
// over the cores, without allocating once fn is bound.
type updater struct {
	i     int
	cols  int
	fn    func(i, lo, hi int) // updates values [lo, hi) of parameter i
	rowFn func(r0, r1 int)
}

func (u *updater) each(params []Param, fn func(i, lo, hi int)) {
	if u.rowFn == nil {
		u.rowFn = u.rows
	}
	u.fn = fn
	for i, p := range params {
		u.i, u.cols = i, p.Value.Cols
		parallel(p.Value.Rows, p.Value.Cols, u.rowFn)
	}
	u.fn = nil
}

func (u *updater) rows(r0, r1 int) { u.fn(u.i, r0*u.cols, r1*u.cols) }

// state returns one zeroed slice per parameter, the size of its values,
// made on the first call; it panics if the parameters change.
func state(s [][]float32, params []Param) [][]float32 {
	if s == nil {
		s = make([][]float32, len(params))
		for i, p := range params {
			s[i] = make([]float32, len(p.Value.Data))
		}
	}
	if len(s) != len(params) {
		panic(fmt.Sprintf("nn: optimiser state for %d parameters, given %d", len(s), len(params)))
	}
	for i, p := range params {
		if len(s[i]) != len(p.Value.Data) {
			panic(fmt.Sprintf("nn: optimiser state of parameter %d has %d values, the parameter %d", i, len(s[i]), len(p.Value.Data)))
		}
	}
	return s
}

// SGD is stochastic gradient descent, with momentum mu when Momentum > 0:
// b = mu*b + g, then p -= lr*b, or with Nesterov momentum p -= lr*(g +
// mu*b). Without momentum, p -= lr*g.
type SGD struct {
	Momentum float64 // mu, in [0, 1)
	Nesterov bool

	buf    [][]float32
	params []Param
	lr, mu float32
	u      updater
	fn     func(i, lo, hi int)
}

// Step applies one update.
func (o *SGD) Step(params []Param, lr float64) {
	if o.Momentum > 0 {
		o.buf = state(o.buf, params)
	}
	if o.fn == nil {
		o.fn = o.update
	}
	o.params, o.lr, o.mu = params, float32(lr), float32(o.Momentum)
	o.u.each(params, o.fn)
	o.params = nil
}

func (o *SGD) update(i, lo, hi int) {
	w, g := o.params[i].Value.Data[lo:hi], o.params[i].Grad.Data[lo:hi]
	if o.mu == 0 {
		for k, gk := range g {
			w[k] -= o.lr * gk
		}
		return
	}
	b := o.buf[i][lo:hi]
	for k, gk := range g {
		b[k] = o.mu*b[k] + gk
		if o.Nesterov {
			w[k] -= o.lr * (gk + o.mu*b[k])
		} else {
			w[k] -= o.lr * b[k]
		}
	}
}

// AdaGrad accumulates squared gradients, s += g^2, and steps
// p -= lr*g/(sqrt(s)+eps).
type AdaGrad struct {
	Eps float64 // PyTorch's default: 1e-10

	sum     [][]float32
	params  []Param
	lr, eps float32
	u       updater
	fn      func(i, lo, hi int)
}

// NewAdaGrad returns AdaGrad with PyTorch's default epsilon.
func NewAdaGrad() *AdaGrad { return &AdaGrad{Eps: 1e-10} }

// Step applies one update.
func (o *AdaGrad) Step(params []Param, lr float64) {
	o.sum = state(o.sum, params)
	if o.fn == nil {
		o.fn = o.update
	}
	o.params, o.lr, o.eps = params, float32(lr), float32(o.Eps)
	o.u.each(params, o.fn)
	o.params = nil
}

func (o *AdaGrad) update(i, lo, hi int) {
	w, g, s := o.params[i].Value.Data[lo:hi], o.params[i].Grad.Data[lo:hi], o.sum[i][lo:hi]
	for k, gk := range g {
		s[k] += gk * gk
		w[k] -= o.lr * gk / (sqrt32(s[k]) + o.eps)
	}
}

// RMSprop keeps a running mean of squared gradients, v = alpha*v +
// (1-alpha)*g^2, and steps p -= lr*g/(sqrt(v)+eps).
type RMSprop struct {
	Alpha, Eps float64 // PyTorch's defaults: 0.99, 1e-8

	sq             [][]float32
	params         []Param
	lr, alpha, eps float32
	u              updater
	fn             func(i, lo, hi int)
}

// NewRMSprop returns RMSprop with PyTorch's defaults.
func NewRMSprop() *RMSprop { return &RMSprop{Alpha: 0.99, Eps: 1e-8} }

// Step applies one update.
func (o *RMSprop) Step(params []Param, lr float64) {
	o.sq = state(o.sq, params)
	if o.fn == nil {
		o.fn = o.update
	}
	o.params, o.lr, o.alpha, o.eps = params, float32(lr), float32(o.Alpha), float32(o.Eps)
	o.u.each(params, o.fn)
	o.params = nil
}

func (o *RMSprop) update(i, lo, hi int) {
	w, g, v := o.params[i].Value.Data[lo:hi], o.params[i].Grad.Data[lo:hi], o.sq[i][lo:hi]
	for k, gk := range g {
		v[k] = o.alpha*v[k] + (1-o.alpha)*gk*gk
		w[k] -= o.lr * gk / (sqrt32(v[k]) + o.eps)
	}
}

// Adam keeps running means of the gradient and its square, m = b1*m +
// (1-b1)*g and v = b2*v + (1-b2)*g^2, and at step t steps
// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
type Adam struct {
	Beta1, Beta2, Eps float64 // PyTorch's defaults: 0.9, 0.999, 1e-8
	// Steps is t, the number of steps taken.
	Steps int

	m, v                  [][]float32
	params                []Param
	step, b1, b2, c2, eps float32
	u                     updater
	fn                    func(i, lo, hi int)
}

// NewAdam returns Adam with PyTorch's defaults.
func NewAdam() *Adam { return &Adam{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8} }

// Step applies one update.
func (o *Adam) Step(params []Param, lr float64) {
	o.m, o.v = state(o.m, params), state(o.v, params)
	if o.fn == nil {
		o.fn = o.update
	}
	o.Steps++
	t := float64(o.Steps)
	o.params, o.b1, o.b2, o.eps = params, float32(o.Beta1), float32(o.Beta2), float32(o.Eps)
	o.step = float32(lr / (1 - math.Pow(o.Beta1, t)))
	o.c2 = float32(1 / math.Sqrt(1-math.Pow(o.Beta2, t)))
	o.u.each(params, o.fn)
	o.params = nil
}

func (o *Adam) update(i, lo, hi int) {
	w, g := o.params[i].Value.Data[lo:hi], o.params[i].Grad.Data[lo:hi]
	mat32.AdamStep(w, g, o.m[i][lo:hi], o.v[i][lo:hi], o.b1, o.b2, o.step, o.c2, o.eps)
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// regularizer applies the penalties and the max-norm constraint to the
// weight parameters of a network.
type regularizer struct {
	l1, l2, maxNorm float32

	weights []Param     // the parameters with Weight set
	norms   [][]float64 // per weight parameter, the squared norm of each column
	u       updater
	penFn   func(i, lo, hi int)
	cur     int
	colFn   func(c0, c1 int)
}

func newRegularizer(params []Param, l1, l2, maxNorm float64) *regularizer {
	r := &regularizer{l1: float32(l1), l2: float32(l2), maxNorm: float32(maxNorm)}
	for _, p := range params {
		if p.Weight {
			r.weights = append(r.weights, p)
			r.norms = append(r.norms, make([]float64, p.Value.Cols))
		}
	}
	r.penFn, r.colFn = r.penalize, r.clipColumns
	return r
}

// addPenalties adds l1*sign(w) + l2*w to the gradient of every weight: the
// gradient of the penalty l1*sum|w| + l2/2*sum w^2.
func (r *regularizer) addPenalties() {
	if r.l1 != 0 || r.l2 != 0 {
		r.u.each(r.weights, r.penFn)
	}
}

func (r *regularizer) penalize(i, lo, hi int) {
	w, g := r.weights[i].Value.Data[lo:hi], r.weights[i].Grad.Data[lo:hi]
	for k, wk := range w {
		s := float32(0)
		if wk > 0 {
			s = 1
		} else if wk < 0 {
			s = -1
		}
		g[k] += r.l1*s + r.l2*wk
	}
}

// constrain rescales every column of every weight matrix whose Euclidean
// norm exceeds maxNorm to that norm: each unit's incoming weights.
func (r *regularizer) constrain() {
	if r.maxNorm <= 0 {
		return
	}
	for i, p := range r.weights {
		r.cur = i
		parallel(p.Value.Cols, p.Value.Rows, r.colFn)
	}
}

func (r *regularizer) clipColumns(c0, c1 int) {
	w, norms := r.weights[r.cur].Value, r.norms[r.cur][c0:c1]
	clear(norms)
	for i := range w.Rows {
		for j, x := range w.Row(i)[c0:c1] {
			norms[j] += float64(x) * float64(x)
		}
	}
	c := float64(r.maxNorm)
	for j, sq := range norms {
		if n := math.Sqrt(sq); n > c {
			norms[j] = c / n
		} else {
			norms[j] = 1
		}
	}
	for i := range w.Rows {
		row := w.Row(i)[c0:c1]
		for j, f := range norms {
			if f != 1 {
				row[j] = float32(float64(row[j]) * f)
			}
		}
	}
}

// ParseOptimizer returns the optimiser named name (sgd, adam, rmsprop or
// adagrad) with PyTorch's default settings; momentum and nesterov apply to
// sgd.
func ParseOptimizer(name string, momentum float64, nesterov bool) (Optimizer, error) {
	switch name {
	case "sgd":
		return &SGD{Momentum: momentum, Nesterov: nesterov}, nil
	case "adam":
		return NewAdam(), nil
	case "rmsprop":
		return NewRMSprop(), nil
	case "adagrad":
		return NewAdaGrad(), nil
	}
	return nil, fmt.Errorf("unknown optimizer %q (want sgd, adam, rmsprop or adagrad)", name)
}

// Stateful is implemented by the optimisers that keep state between steps
// (all of this package's): State returns that state, so that a checkpoint
// can save it and a resumed run restore it, the same as if training had
// not stopped.
type Stateful interface {
	// State returns the optimiser's state slices by name, one per
	// parameter of params (made, zeroed, on first use), and its step
	// counter (nil if it has none). Callers may write them before the
	// next Step.
	State(params []Param) (slots map[string][][]float32, steps *int)
}

// State returns the momentum buffers ("momentum"; none without momentum).
func (o *SGD) State(params []Param) (map[string][][]float32, *int) {
	if o.Momentum == 0 {
		return map[string][][]float32{}, nil
	}
	o.buf = state(o.buf, params)
	return map[string][][]float32{"momentum": o.buf}, nil
}

// State returns the sums of squared gradients ("sum").
func (o *AdaGrad) State(params []Param) (map[string][][]float32, *int) {
	o.sum = state(o.sum, params)
	return map[string][][]float32{"sum": o.sum}, nil
}

// State returns the running means of squared gradients ("square").
func (o *RMSprop) State(params []Param) (map[string][][]float32, *int) {
	o.sq = state(o.sq, params)
	return map[string][][]float32{"square": o.sq}, nil
}

// State returns the running means of the gradient ("m") and its square
// ("v"), and the step counter.
func (o *Adam) State(params []Param) (map[string][][]float32, *int) {
	o.m, o.v = state(o.m, params), state(o.v, params)
	return map[string][][]float32{"m": o.m, "v": o.v}, &o.Steps
}
