package cf

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// ErrUnknownItem is wrapped by the errors of Profile.Predict and
// Recommender.Similar for an item the model has no parameters of.
var ErrUnknownItem = errors.New("unknown item")

// Recommender answers a service's queries about one model: recommendations
// and predictions for users known to the model or described by ratings
// given since training, and similar items. Everything a query reads is
// computed by NewRecommender (the model's indices, every case's p(h|V),
// the popularity order, the item vectors of Similar); afterwards nothing is
// written, so a Recommender and the Profiles it returns may be used from
// many goroutines at once. The model must not be changed while it is used.
type Recommender struct {
	m       *Model
	by      Ranking // resolved default ranking
	rel     float64 // RankRelevant's level
	hidden  []float32
	byUser  [][]itemLevel // real user -> the real items rated in training, with levels
	popular []int
	counts  []int
	// Similar's item vectors: user-based, the rows of W (levels x hidden
	// flattened) and their inverse norms; item-based, the items' p(h|V)
	// centred on their mean and scaled to unit length (simVec).
	invNorm []float32
	simVec  []float32
	// The mean visible weights and biases: the starting point and prior of
	// a new user's weights in an item-based model.
	priorW, priorB []float32
	// top holds every known user's first cacheTop recommendations, when
	// the model is small enough (see cacheBudget); nil otherwise.
	top [][]Recommendation
}

// Every known user's first cacheTop recommendations are computed by
// NewRecommender when that costs at most cacheBudget multiply-adds (users x
// items x levels x hidden units: MovieLens 100K, about 8e8, takes about a
// second on two cores).
const (
	cacheTop    = 100
	cacheBudget = 2e10
)

// itemLevel is one training rating of a real user: the real item and the
// level index.
type itemLevel struct {
	it    int32
	level uint8
}

// NewRecommender prepares m for serving; it costs about one pass of p(h|V)
// over the training ratings.
func NewRecommender(m *Model) (*Recommender, error) {
	by, err := m.resolve(RankDefault)
	if err != nil {
		return nil, err
	}
	m.ensureIndex()
	m.userItems() // build now, not on a read path
	r := &Recommender{m: m, by: by, rel: m.DefaultRelevant()}
	F := m.Hidden
	r.hidden = make([]float32, len(m.UserItems)*F)
	for c := range m.UserItems {
		m.hiddenMean(c, r.hidden[c*F:][:F])
	}
	r.byUser = make([][]itemLevel, m.realUsers())
	for c, items := range m.UserItems {
		for i, v := range items {
			if m.ItemBased {
				r.byUser[v] = append(r.byUser[v], itemLevel{int32(c), m.UserLevels[c][i]})
			} else {
				r.byUser[c] = append(r.byUser[c], itemLevel{v, m.UserLevels[c][i]})
			}
		}
	}
	r.popular, r.counts = m.popularity()
	r.prepareSimilar()
	if m.ItemBased {
		r.preparePrior()
	}
	r.cacheTops()
	return r, nil
}

// cacheTops computes every known user's first cacheTop recommendations,
// when the model is small enough, in parallel.
func (r *Recommender) cacheTops() {
	m := r.m
	U := m.realUsers()
	if float64(U)*float64(m.numItems())*float64(m.K()*m.Hidden) > cacheBudget {
		return
	}
	top := make([][]Recommendation, U)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for u := int(next.Add(1)) - 1; u < U; u = int(next.Add(1)) - 1 {
				top[u] = r.knownProfile(u).scan(cacheTop)
			}
		})
	}
	wg.Wait()
	r.top = top
}

// CachedUsers returns how many users' recommendations NewRecommender
// computed in advance (0 when the model is too large for that).
func (r *Recommender) CachedUsers() int { return len(r.top) }

// Model returns the model r serves.
func (r *Recommender) Model() *Model { return r.m }

// Ranking returns the ranking recommendations are ordered by.
func (r *Recommender) Ranking() Ranking { return r.by }

// Scale returns the lowest and highest rating level of the model. For a
// like/dislike model they are 0 and 1, while the ratings it folds in are
// on their own scale and only compared with LikeThreshold.
func (r *Recommender) Scale() (lo, hi float64) {
	return r.m.Levels[0], r.m.Levels[len(r.m.Levels)-1]
}

// KnowsItem reports whether the model has parameters of item.
func (r *Recommender) KnowsItem(item string) bool {
	_, ok := r.itemIdx(item)
	return ok
}

// itemIdx returns the real item index of an item id.
func (r *Recommender) itemIdx(item string) (int, bool) {
	if r.m.ItemBased {
		it, ok := r.m.userIndex[item]
		return it, ok
	}
	it, ok := r.m.itemIndex[item]
	return it, ok
}

// userIdx returns the real user index of a user id.
func (r *Recommender) userIdx(user string) (int, bool) {
	if r.m.ItemBased {
		u, ok := r.m.itemIndex[user]
		return u, ok
	}
	u, ok := r.m.userIndex[user]
	return u, ok
}

// Popular returns the top items by number of training ratings, as
// Model.Popular does.
func (r *Recommender) Popular(top int) []Recommendation {
	recs := make([]Recommendation, max(0, min(top, len(r.popular))))
	for i := range recs {
		it := r.popular[i]
		recs[i] = Recommendation{Item: r.m.itemID(it), Predicted: r.m.itemBaseline(it), Score: float64(r.counts[it])}
	}
	return recs
}

// Profile is one user as a Recommender sees them: the model's training
// ratings of theirs, if any, together with ratings given since. It is not
// changed after Recommender.Profile returns it.
type Profile struct {
	r       *Recommender
	u       int     // real user index, -1 for a user new to the model
	rated   []bool  // real items rated, in training or since
	ids     []int32 // the same, as indices
	h       []float32
	w, b    []float32 // item-based: the user's visible weights and biases
	offset  float64   // the user's baseline offset
	cached  []Recommendation
	unknown int
}

// Unknown returns how many of the ratings given to Recommender.Profile are
// of items the model does not know (they are ignored).
func (p *Profile) Unknown() int { return p.unknown }

// New reports whether the user is new to the model: described only by the
// ratings given to Recommender.Profile.
func (p *Profile) New() bool { return p.u < 0 }

// Profile returns user's profile. extra (item -> rating, may be nil) holds
// ratings given since training; they replace training ratings of the same
// items. Ratings are mapped to the nearest level (after the like threshold
// for a like/dislike model); items the model does not know are counted
// (Profile.Unknown) and ignored.
//
// In a user-based model the user's p(h|V) is computed from all their
// ratings, as for a training case (the fold-in of RecommendFor). In an
// item-based model a user is a visible unit: a known user keeps the weights
// training gave them, and their new ratings change which items are left to
// recommend and, through the implicit-feedback model, the ranking; a new
// user's weights are fitted to their ratings by softmax regression on the
// items' p(h|V) (see fitVisible). The error wraps ErrUnknownUser when the
// model knows neither the user nor any item of extra.
func (r *Recommender) Profile(user string, extra map[string]float64) (*Profile, error) {
	m := r.m
	u, known := r.userIdx(user)
	if known && len(extra) == 0 {
		return r.knownProfile(u), nil
	}
	if !known {
		u = -1
	}
	p := &Profile{r: r, u: u, rated: make([]bool, m.numItems())}
	levels := map[int]int{} // real item -> level index
	if known {
		for _, il := range r.byUser[u] {
			levels[int(il.it)] = int(il.level)
		}
	}
	for item, v := range extra {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("rating of item %q is %v, not a number", item, v)
		}
		it, ok := r.itemIdx(item)
		if !ok {
			p.unknown++
			continue
		}
		levels[it] = m.nearestLevel(v)
	}
	if !known && len(levels) == 0 {
		return nil, fmt.Errorf("%w %q: the model has no ratings of theirs", ErrUnknownUser, user)
	}
	rated := make([]itemLevel, 0, len(levels))
	for it, k := range levels {
		rated = append(rated, itemLevel{int32(it), uint8(k)})
	}
	// Sum in item order, so that the result does not depend on the map's.
	sort.Slice(rated, func(a, b int) bool { return rated[a].it < rated[b].it })
	p.ids = make([]int32, len(rated))
	for i, il := range rated {
		p.rated[il.it] = true
		p.ids[i] = il.it
	}
	switch {
	case !m.ItemBased:
		p.h = m.foldIn(u, rated)
		p.offset = m.userOffset(rated)
	case known:
		p.offset = float64(m.ItemOffset[u]) // users are the visibles
	default:
		p.w, p.b = r.fitVisible(rated)
		p.offset = m.userOffset(rated)
	}
	return p, nil
}

// knownProfile returns the profile of known user u with no new ratings.
func (r *Recommender) knownProfile(u int) *Profile {
	m := r.m
	p := &Profile{r: r, u: u, rated: make([]bool, m.numItems()), ids: make([]int32, len(r.byUser[u]))}
	for i, il := range r.byUser[u] {
		p.rated[il.it] = true
		p.ids[i] = il.it
	}
	if m.ItemBased {
		p.offset = float64(m.ItemOffset[u]) // users are the visibles
	} else {
		p.h, p.offset = r.hidden[u*m.Hidden:][:m.Hidden], float64(m.UserOffset[u])
	}
	if r.top != nil {
		p.cached = r.top[u]
	}
	return p
}

// foldIn returns p(h|V) of a user-based case with the given ratings (and,
// for a known user u, the implied visibles of training).
func (m *Model) foldIn(u int, rated []itemLevel) []float32 {
	K, F := m.K(), m.Hidden
	h := make([]float32, F)
	copy(h, m.HidBias)
	for _, il := range rated {
		addTo(h, m.W[(int(il.it)*K+int(il.level))*F:][:F])
		if m.D != nil {
			addTo(h, m.D[int(il.it)*F:][:F])
		}
	}
	if m.D != nil && u >= 0 && m.Implied != nil {
		for _, it := range m.Implied[u] {
			addTo(h, m.D[int(it)*F:][:F])
		}
	}
	for f, x := range h {
		h[f] = sigmoid(x)
	}
	return h
}

// userOffset is the baseline offset of a user with the given ratings,
// regularised as training regularises them.
func (m *Model) userOffset(rated []itemLevel) float64 {
	sum := 0.0
	for _, il := range rated {
		sum += m.Levels[il.level] - m.Mean - float64(m.realItemOffset(int(il.it)))
	}
	return float64(float32(sum / float64(len(rated)+10)))
}

// realItemOffset is real item it's baseline offset.
func (m *Model) realItemOffset(it int) float32 {
	if m.ItemBased {
		return m.UserOffset[it]
	}
	return m.ItemOffset[it]
}

// predict returns the predicted rating of real item it, and its
// probability of a relevant rating.
func (p *Profile) predict(it int) (pred, atLeast float64) {
	m := p.r.m
	K, F := m.K(), m.Hidden
	var caseOff, visOff float64
	switch {
	case !m.ItemBased:
		pred, atLeast = m.predictLevels(it, p.h, p.r.rel)
		caseOff, visOff = p.offset, float64(m.ItemOffset[it])
	case p.u >= 0:
		pred, atLeast = m.predictLevels(p.u, p.r.hidden[it*F:][:F], p.r.rel)
		caseOff, visOff = float64(m.UserOffset[it]), p.offset
	default:
		var buf [256]float64
		logitsOf(p.w, p.b, p.r.hidden[it*F:][:F], K, F, buf[:K])
		pred, atLeast = m.levelProbs(buf[:K], p.r.rel)
		caseOff, visOff = float64(m.UserOffset[it]), p.offset
	}
	if m.BaselineBlend != 0 {
		pred = (1-m.BaselineBlend)*pred + m.BaselineBlend*m.clip(m.Mean+caseOff+visOff)
	}
	return pred, atLeast
}

// Predict returns the user's predicted rating of item; the error wraps
// ErrUnknownItem when the model does not know the item.
func (p *Profile) Predict(item string) (float64, error) {
	it, ok := p.r.itemIdx(item)
	if !ok {
		return 0, fmt.Errorf("%w %q: the model has no parameters of it", ErrUnknownItem, item)
	}
	pred, _ := p.predict(it)
	return pred, nil
}

// Recommend returns the top items the user has not rated, in the
// Recommender's ranking; for a known user with no new ratings they are
// those of Model.Recommend.
func (p *Profile) Recommend(top int) []Recommendation {
	if top <= 0 {
		return nil
	}
	if p.cached != nil && (top <= len(p.cached) || len(p.cached) < cacheTop) {
		return slices.Clone(p.cached[:min(top, len(p.cached))])
	}
	return p.scan(top)
}

// scan scores every item the user has not rated and returns the top ones.
func (p *Profile) scan(top int) []Recommendation {
	m := p.r.m
	var chosen []float64
	if m.Implicit != nil && p.r.by != RankRating {
		chosen = make([]float64, m.numItems())
		m.Implicit.chosen(p.ids, chosen)
	}
	best := make(recHeap, 0, top+1)
	for it := range p.rated {
		if p.rated[it] {
			continue
		}
		pred, atLeast := p.predict(it)
		c := 0.0
		if chosen != nil {
			c = chosen[it]
		}
		best.offer(scored{it, pred, score(p.r.by, pred, atLeast, c)}, top)
	}
	recs := make([]Recommendation, len(best))
	for i := len(recs) - 1; i >= 0; i-- {
		s := best.popWorst()
		recs[i] = Recommendation{Item: p.r.m.itemID(s.it), Predicted: s.pred, Score: s.score}
	}
	return recs
}

// scored is an item with its prediction and ranking score.
type scored struct {
	it          int
	pred, score float64
}

// recHeap keeps the best items seen so far with the worst on top: lower
// score, or equal score and later item (a stable sort by decreasing score
// keeps item order among ties).
type recHeap []scored

func (h recHeap) Len() int { return len(h) }
func (h recHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score < h[j].score
	}
	return h[i].it > h[j].it
}
func (h recHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recHeap) Push(x any)   { *h = append(*h, x.(scored)) }
func (h *recHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// popWorst removes and returns the worst item kept.
func (h *recHeap) popWorst() scored { return heap.Pop(h).(scored) }

// offer adds s when fewer than top are kept or s beats the worst kept.
func (h *recHeap) offer(s scored, top int) {
	if len(*h) < top {
		heap.Push(h, s)
		return
	}
	w := (*h)[0]
	if s.score > w.score || (s.score == w.score && s.it < w.it) {
		(*h)[0] = s
		heap.Fix(h, 0)
	}
}

// logitsOf sets out[k] to b[k] plus the sum over f of h[f]*w[k*F+f], in
// float64, as logits64 does for a visible unit of the model.
func logitsOf(w, b, h []float32, K, F int, out []float64) {
	h = h[:F]
	for k := 0; k < K; k++ {
		row := w[k*F:][:F]
		s := float64(b[k])
		for f, hv := range h {
			s += float64(hv * row[f])
		}
		out[k] = s
	}
}

// levelProbs returns the expected rating (clipped to the scale) and the
// probability of a level of at least relevant under the softmax of logits.
func (m *Model) levelProbs(logits []float64, relevant float64) (exp, atLeast float64) {
	mx := math.Inf(-1)
	for _, s := range logits {
		mx = math.Max(mx, s)
	}
	sum := 0.0
	for k, s := range logits {
		e := math.Exp(s - mx)
		sum += e
		exp += e * m.Levels[k]
		if m.Levels[k] >= relevant {
			atLeast += e
		}
	}
	return m.clip(exp / sum), atLeast / sum
}
