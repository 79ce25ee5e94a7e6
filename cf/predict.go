package cf

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// ErrUnknownUser is wrapped by the error Recommend returns for a user the
// model has no training ratings of.
var ErrUnknownUser = errors.New("unknown user")

// hiddenMean sets h to p(h=1|V) for user u's training ratings.
func (m *Model) hiddenMean(u int, h []float32) {
	K, F := m.K(), m.Hidden
	m.caseBias(h, u)
	for i, it := range m.UserItems[u] {
		row := m.W[(int(it)*K+int(m.UserLevels[u][i]))*F:][:F]
		for f, w := range row {
			h[f] += w
		}
	}
	for f, x := range h {
		h[f] = sigmoid(x)
	}
}

// expected returns the expected rating of item it given hidden means h:
// the mean of the levels under the item's softmax, clipped to the scale.
func (m *Model) expected(it int, h []float32) float64 {
	K := m.K()
	var buf [256]float64
	logits := buf[:K]
	m.logits64(it, h, logits)
	mx := math.Inf(-1)
	for _, s := range logits {
		mx = math.Max(mx, s)
	}
	sum, e := 0.0, 0.0
	for k, s := range logits {
		p := math.Exp(s - mx)
		sum += p
		e += p * m.Levels[k]
	}
	return m.clip(e / sum)
}

// logits64 sets out[k] to the visible bias of (it, k) plus the sum over f
// of h[f]*W[it, k, f], each summed in f order in float64; four levels at a
// time, so that the additions of one do not wait for the previous one's.
func (m *Model) logits64(it int, h []float32, out []float64) {
	K, F := m.K(), m.Hidden
	h = h[:F]
	base := it * K
	k := 0
	for ; k+4 <= K; k += 4 {
		r0 := m.W[(base+k)*F:][:F]
		r1 := m.W[(base+k+1)*F:][:F]
		r2 := m.W[(base+k+2)*F:][:F]
		r3 := m.W[(base+k+3)*F:][:F]
		s0, s1, s2, s3 := float64(m.VisBias[base+k]), float64(m.VisBias[base+k+1]), float64(m.VisBias[base+k+2]), float64(m.VisBias[base+k+3])
		for f, hv := range h {
			s0 += float64(hv * r0[f])
			s1 += float64(hv * r1[f])
			s2 += float64(hv * r2[f])
			s3 += float64(hv * r3[f])
		}
		out[k], out[k+1], out[k+2], out[k+3] = s0, s1, s2, s3
	}
	for ; k+2 <= K; k += 2 {
		r0 := m.W[(base+k)*F:][:F]
		r1 := m.W[(base+k+1)*F:][:F]
		s0, s1 := float64(m.VisBias[base+k]), float64(m.VisBias[base+k+1])
		for f, hv := range h {
			s0 += float64(hv * r0[f])
			s1 += float64(hv * r1[f])
		}
		out[k], out[k+1] = s0, s1
	}
	for ; k < K; k++ {
		r0 := m.W[(base+k)*F:][:F]
		s0 := float64(m.VisBias[base+k])
		for f, hv := range h {
			s0 += float64(hv * r0[f])
		}
		out[k] = s0
	}
}

func (m *Model) clip(x float64) float64 {
	return math.Min(math.Max(x, m.Levels[0]), m.Levels[len(m.Levels)-1])
}

// blend returns the prediction of the rating of visible it by case u from
// the RBM's expected rating: that, or with BaselineBlend the weighted mean
// of it and the baseline (u may be -1, a folded-in user).
func (m *Model) blend(rbm float64, u, it int) float64 {
	if m.BaselineBlend == 0 {
		return rbm
	}
	return (1-m.BaselineBlend)*rbm + m.BaselineBlend*m.baseline(u, it)
}

// baseline returns Mean plus the offsets of the user and item (either may
// be -1, unknown).
func (m *Model) baseline(u, it int) float64 {
	x := m.Mean
	if u >= 0 {
		x += float64(m.UserOffset[u])
	}
	if it >= 0 {
		x += float64(m.ItemOffset[it])
	}
	return m.clip(x)
}

// Metrics are the errors of predictions against held-out ratings.
type Metrics struct {
	RMSE, MAE float64
	N         int // ratings predicted
	Fallback  int // of them, predicted by the baseline (unknown user or item)
}

// Evaluate predicts every rating of test and compares. Evaluate, Recommend
// and EvaluateTopN may be called from several goroutines at once.
func (m *Model) Evaluate(test *Ratings) Metrics {
	m.ensureIndex()
	var met Metrics
	var se, ae float64
	add := func(pred, actual float64) {
		d := pred - actual
		se += d * d
		ae += math.Abs(d)
		met.N++
	}
	// The known cases' ratings, grouped by case in order of first
	// appearance (so that the sums are always made in the same order).
	type pred struct {
		it    int
		value float64
	}
	byUser := map[int][]pred{}
	var users []int
	for _, r := range test.List {
		user, item, v := r.User, r.Item, r.Value
		if m.ItemBased {
			user, item = item, user
		}
		if m.Binary {
			v = 0
			if r.Value >= m.LikeThreshold {
				v = 1
			}
		}
		u, uok := m.userIndex[user]
		it, iok := m.itemIndex[item]
		if !uok || !iok {
			if !uok {
				u = -1
			}
			if !iok {
				it = -1
			}
			add(m.baseline(u, it), v)
			met.Fallback++
			continue
		}
		if _, ok := byUser[u]; !ok {
			users = append(users, u)
		}
		byUser[u] = append(byUser[u], pred{it, v})
	}
	h := make([]float32, m.Hidden)
	for _, u := range users {
		m.hiddenMean(u, h)
		for _, p := range byUser[u] {
			add(m.blend(m.expected(p.it, h), u, p.it), p.value)
		}
	}
	if met.N > 0 {
		met.RMSE, met.MAE = math.Sqrt(se/float64(met.N)), ae/float64(met.N)
	}
	return met
}

// trainRMSE is the RMSE of the predictions of the training ratings. It
// computes every case's hidden means, then goes through the ratings item by
// item, summing each item's squared errors, then the items' in order.
func (t *trainer) trainRMSE() float64 {
	t.run(jobHidden, t.rmseCount(), 64)
	t.run(jobRMSE, len(t.m.Items), 16)
	se := 0.0
	for _, x := range t.itemSE {
		se += x
	}
	return math.Sqrt(se / float64(max(len(t.visCase), 1)))
}

// hiddenCase sets case u's hidden means in t.hidden, as hiddenMean does,
// reading rows ahead (see prefetch).
func (t *trainer) hiddenCase(w *scratch, i int) {
	F, u := t.m.Hidden, t.rmseCase(i)
	h := t.hidden[u*F:][:F]
	w.sink += t.m.hiddenInput(h, nil, u)
	for f, x := range h {
		h[f] = sigmoid(x)
	}
}

// TrainRMSESample is about how many training ratings the training error
// of each epoch (EpochStats.TrainRMSE) is measured on: with more, it is
// measured on the ratings of a fixed random sample of the cases (users, or
// items when item-based) holding at least that many, so that the
// measurement costs a small part of an epoch on large data.
const TrainRMSESample = 1_000_000

// rmseSample returns the cases whose ratings the training error is
// measured on, in increasing order, or nil for all of them.
func rmseSample(cases [][]int32, seed uint64, limit int) []int32 {
	n := 0
	for _, c := range cases {
		n += len(c)
	}
	if n <= limit {
		return nil
	}
	var out []int32
	n = 0
	for _, u := range rand.New(rand.NewPCG(seed, 0x5A3E)).Perm(len(cases)) {
		if n >= limit {
			break
		}
		out = append(out, int32(u))
		n += len(cases[u])
	}
	slices.Sort(out)
	return out
}

// rmseCount is how many cases the training error is measured on.
func (t *trainer) rmseCount() int {
	if t.rmseCases == nil {
		return len(t.m.UserItems)
	}
	return len(t.rmseCases)
}

// rmseCase is the i-th case the training error is measured on.
func (t *trainer) rmseCase(i int) int {
	if t.rmseCases == nil {
		return i
	}
	return int(t.rmseCases[i])
}

// rmseItem sets t.itemSE[it] to the squared error of item it's ratings.
func (t *trainer) rmseItem(w *scratch, it int) {
	m, F := t.m, t.m.Hidden
	se := 0.0
	var pf float32
	for r := t.visOff[it]; r < t.visOff[it+1]; r++ {
		if r+4 < t.visOff[it+1] {
			pf += prefetch(t.hidden[int(t.visCase[r+4])*F:][:F])
		}
		d := m.expected(it, t.hidden[int(t.visCase[r])*F:][:F]) - m.Levels[t.visLevel[r]]
		se += d * d
	}
	t.itemSE[it] = se
	w.sink += pf
}

// ensureIndex builds the id indices of a model that was not trained here
// (one loaded from a file) on first use; concurrent callers wait for it.
func (m *Model) ensureIndex() {
	m.indexOnce.Do(func() {
		if m.userIndex == nil || m.itemIndex == nil {
			m.index()
		}
	})
}

// TopN are ranking metrics at a cut-off N, averaged over the test users
// with at least one relevant held-out rating.
type TopN struct {
	N                       int
	Precision, Recall, NDCG float64
	Users                   int
}

// EvaluatePopularTopN scores the most-popular ranking as EvaluateTopN
// scores the model's: the same users (test users the model knows, with at
// least one relevant held-out rating), the same candidates (the items the
// user has not rated in training) and the same relevance rule, but the
// candidates ranked by their number of training ratings, ties by item id.
func (m *Model) EvaluatePopularTopN(test *Ratings, n int, relevant float64) TopN {
	m.ensureIndex()
	order := m.popularOrder()
	return topN(test, n, relevant, func(user string) ([]string, bool) {
		rated, ok := m.ratedBy(user)
		if !ok {
			return nil, false
		}
		var ids []string
		for _, it := range order {
			if len(ids) == n {
				break
			}
			if !rated(it) {
				ids = append(ids, m.itemID(it))
			}
		}
		return ids, true
	})
}

// topN averages precision, recall and NDCG at n over the test users with
// at least one rating of at least relevant that rank returns a ranking
// (its first n items at most) for.
func topN(test *Ratings, n int, relevant float64, rank func(user string) ([]string, bool)) TopN {
	rel := map[string]map[string]bool{}
	for _, r := range test.List {
		if r.Value >= relevant {
			if rel[r.User] == nil {
				rel[r.User] = map[string]bool{}
			}
			rel[r.User][r.Item] = true
		}
	}
	res := TopN{N: n}
	users := make([]string, 0, len(rel))
	for user := range rel {
		users = append(users, user)
	}
	sort.Strings(users) // sum in the same order every time
	for _, user := range users {
		items := rel[user]
		ranked, ok := rank(user)
		if !ok {
			continue
		}
		hits, dcg, idcg := 0, 0.0, 0.0
		for i := 0; i < min(n, len(ranked)); i++ {
			if items[ranked[i]] {
				hits++
				dcg += 1 / math.Log2(float64(i+2))
			}
		}
		for i := 0; i < min(n, len(items)); i++ {
			idcg += 1 / math.Log2(float64(i+2))
		}
		res.Precision += float64(hits) / float64(n)
		res.Recall += float64(hits) / float64(len(items))
		res.NDCG += dcg / idcg
		res.Users++
	}
	if res.Users > 0 {
		res.Precision /= float64(res.Users)
		res.Recall /= float64(res.Users)
		res.NDCG /= float64(res.Users)
	}
	return res
}

// numItems is the number of (real) items: cases of an item-based model,
// visible units of a user-based one. itemID is the id of item it.
func (m *Model) numItems() int {
	if m.ItemBased {
		return len(m.Users)
	}
	return len(m.Items)
}

func (m *Model) itemID(it int) string {
	if m.ItemBased {
		return m.Users[it]
	}
	return m.Items[it]
}

// itemBaseline is Mean plus item it's offset, clipped to the scale.
func (m *Model) itemBaseline(it int) float64 {
	if m.ItemBased {
		return m.baseline(it, -1) // items are the cases
	}
	return m.baseline(-1, it)
}

// popularOrder returns the items' indices by decreasing number of training
// ratings, ties by increasing id.
func (m *Model) popularOrder() []int {
	order, _ := m.popularity()
	return order
}

// popularity returns popularOrder and each item's number of training
// ratings.
func (m *Model) popularity() ([]int, []int) {
	count := make([]int, m.numItems())
	if m.ItemBased {
		for c, items := range m.UserItems {
			count[c] = len(items)
		}
	} else {
		for _, items := range m.UserItems {
			for _, it := range items {
				count[it]++
			}
		}
	}
	order := make([]int, len(count))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if count[x] != count[y] {
			return count[x] > count[y]
		}
		if ix, iy := m.itemID(x), m.itemID(y); ix != iy {
			return ix < iy
		}
		return x < y
	})
	return order, count
}

// ratedBy returns whether user rated item it in training, or false if the
// model does not know the user.
func (m *Model) ratedBy(user string) (func(it int) bool, bool) {
	if m.ItemBased {
		v, ok := m.itemIndex[user]
		if !ok {
			return nil, false
		}
		return func(c int) bool { return contains(m.UserItems[c], int32(v)) }, true
	}
	u, ok := m.userIndex[user]
	if !ok {
		return nil, false
	}
	rated := make([]bool, len(m.Items))
	for _, it := range m.UserItems[u] {
		rated[it] = true
	}
	return func(it int) bool { return rated[it] }, true
}

// Popular returns the top items by number of training ratings (ties by
// id), each with its baseline prediction (Mean plus the item's offset)
// and, as its score, that number: what to recommend to a user the model
// does not know.
func (m *Model) Popular(top int) ([]Recommendation, error) {
	if top <= 0 {
		return nil, fmt.Errorf("top must be positive, got %d", top)
	}
	m.ensureIndex()
	order, count := m.popularity()
	recs := make([]Recommendation, min(top, len(order)))
	for i := range recs {
		recs[i] = Recommendation{Item: m.itemID(order[i]), Predicted: m.itemBaseline(order[i]), Score: float64(count[order[i]])}
	}
	return recs, nil
}

// nearestLevel returns the index of the level closest to rating v (the
// lower on a tie); for a like/dislike model v is first made 1 or 0.
func (m *Model) nearestLevel(v float64) int {
	if m.Binary {
		if v >= m.LikeThreshold {
			v = 1
		} else {
			v = 0
		}
	}
	best := 0
	for k, l := range m.Levels {
		if math.Abs(l-v) < math.Abs(m.Levels[best]-v) {
			best = k
		}
	}
	return best
}

func contains(s []int32, x int32) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
