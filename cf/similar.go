package cf

import (
	"fmt"
	"math"
)

// Neighbour is an item and its similarity to another, in [-1, 1].
type Neighbour struct {
	Item       string  `json:"item"`
	Similarity float64 `json:"similarity"`
}

// prepareSimilar computes what Similar reads: for a user-based model the
// inverse norms of the items' weight vectors, for an item-based one the
// items' unit-length centred hidden means.
func (r *Recommender) prepareSimilar() {
	m := r.m
	F := m.Hidden
	if !m.ItemBased {
		D := m.K() * F
		r.invNorm = make([]float32, len(m.Items))
		for it := range m.Items {
			r.invNorm[it] = invNorm(m.W[it*D:][:D], nil)
		}
		return
	}
	C := len(m.UserItems)
	mean := make([]float64, F)
	for c := 0; c < C; c++ {
		for f, x := range r.hidden[c*F:][:F] {
			mean[f] += float64(x)
		}
	}
	r.simVec = make([]float32, C*F)
	for c := 0; c < C; c++ {
		v := r.simVec[c*F:][:F]
		for f, x := range r.hidden[c*F:][:F] {
			v[f] = x - float32(mean[f]/float64(C))
		}
		s := invNorm(v, nil)
		for f := range v {
			v[f] *= s
		}
	}
}

// invNorm returns 1/|v - centre| (centre nil: 0), or 0 for a zero vector.
func invNorm(v, centre []float32) float32 {
	s := 0.0
	for i, x := range v {
		if centre != nil {
			x -= centre[i]
		}
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return 0
	}
	return float32(1 / math.Sqrt(s))
}

// Similar returns the top items most similar to item, best first (ties by
// model order). The measure is the cosine similarity of the items' vectors:
// in a user-based model an item's weights to the hidden units at every
// rating level (levels x hidden, flattened); in an item-based model, where
// items are training cases and have no weights of their own, its hidden
// means p(h|V) given its training ratings, centred on the mean over items.
// The error wraps ErrUnknownItem when the model does not know item.
func (r *Recommender) Similar(item string, top int) ([]Neighbour, error) {
	q, ok := r.itemIdx(item)
	if !ok {
		return nil, fmt.Errorf("%w %q: the model has no parameters of it", ErrUnknownItem, item)
	}
	if top <= 0 {
		return nil, nil
	}
	m := r.m
	sim := r.cosine(q)
	best := make(recHeap, 0, top+1)
	for it := range m.numItems() {
		if it != q {
			best.offer(scored{it: it, score: sim(it)}, top)
		}
	}
	out := make([]Neighbour, len(best))
	for i := len(out) - 1; i >= 0; i-- {
		s := best.popWorst()
		out[i] = Neighbour{Item: m.itemID(s.it), Similarity: s.score}
	}
	return out, nil
}

// cosine returns the similarity of every real item to item q.
func (r *Recommender) cosine(q int) func(it int) float64 {
	m := r.m
	if m.ItemBased {
		F := m.Hidden
		qv := r.simVec[q*F:][:F]
		return func(it int) float64 { return dot(qv, r.simVec[it*F:][:F]) }
	}
	D := m.K() * m.Hidden
	qv, qn := m.W[q*D:][:D], float64(r.invNorm[q])
	return func(it int) float64 {
		return dot(qv, m.W[it*D:][:D]) * qn * float64(r.invNorm[it])
	}
}

func dot(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return float64(s0 + s1 + s2 + s3)
}

// preparePrior sets the mean visible weights and biases of an item-based
// model: where a new user's fitted weights start and are shrunk towards.
func (r *Recommender) preparePrior() {
	m := r.m
	K, F, V := m.K(), m.Hidden, len(m.Items)
	w, b := make([]float64, K*F), make([]float64, K)
	for v := 0; v < V; v++ {
		for i, x := range m.W[v*K*F:][:K*F] {
			w[i] += float64(x)
		}
		for k, x := range m.VisBias[v*K:][:K] {
			b[k] += float64(x)
		}
	}
	r.priorW, r.priorB = make([]float32, K*F), make([]float32, K)
	for i := range w {
		r.priorW[i] = float32(w[i] / float64(V))
	}
	for k := range b {
		r.priorB[k] = float32(b[k] / float64(V))
	}
}

// Settings of fitVisible: the weight of the prior and the number of
// gradient steps.
const (
	foldInPrior = 1.0
	foldInSteps = 60
)

// fitVisible fits the weights and biases of a new visible unit (a user new
// to an item-based model) to its ratings: the maximum a posteriori softmax
// regression of each rating's level on the rated item's p(h|V), with a
// Gaussian prior of weight foldInPrior centred on the mean visible unit, by
// gradient descent with a step of 1/L, L bounding the curvature. The items'
// hidden means stay as training left them.
func (r *Recommender) fitVisible(rated []itemLevel) (w, b []float32) {
	m := r.m
	K, F := m.K(), m.Hidden
	w, b = make([]float32, K*F), make([]float32, K)
	copy(w, r.priorW)
	copy(b, r.priorB)
	L := foldInPrior
	for _, il := range rated {
		n := 1.0
		for _, x := range r.hidden[int(il.it)*F:][:F] {
			n += float64(x * x)
		}
		L += 0.5 * n
	}
	step := float32(1 / L)
	gw, gb := make([]float32, K*F), make([]float32, K)
	logits := make([]float64, K)
	for range foldInSteps {
		for i := range gw {
			gw[i] = foldInPrior * (w[i] - r.priorW[i])
		}
		for k := range gb {
			gb[k] = foldInPrior * (b[k] - r.priorB[k])
		}
		for _, il := range rated {
			h := r.hidden[int(il.it)*F:][:F]
			logitsOf(w, b, h, K, F, logits)
			softmaxInPlace(logits)
			for k, p := range logits {
				g := float32(p)
				if k == int(il.level) {
					g--
				}
				gb[k] += g
				row := gw[k*F:][:F]
				for f, x := range h {
					row[f] += g * x
				}
			}
		}
		for i := range w {
			w[i] -= step * gw[i]
		}
		for k := range b {
			b[k] -= step * gb[k]
		}
	}
	return w, b
}

// softmaxInPlace replaces logits with their softmax.
func softmaxInPlace(x []float64) {
	mx := math.Inf(-1)
	for _, s := range x {
		mx = math.Max(mx, s)
	}
	sum := 0.0
	for k, s := range x {
		x[k] = math.Exp(s - mx)
		sum += x[k]
	}
	for k := range x {
		x[k] /= sum
	}
}
