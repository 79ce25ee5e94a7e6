package cf

import (
	"fmt"
	"math"
	"sort"
)

// hiddenMean sets h to p(h=1|V) for user u's training ratings.
func (m *Model) hiddenMean(u int, h []float32) {
	K, F := m.K(), m.Hidden
	copy(h, m.HidBias)
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
	K, F := m.K(), m.Hidden
	var logits [256]float64
	mx := math.Inf(-1)
	for k := 0; k < K; k++ {
		s := float64(m.VisBias[it*K+k])
		row := m.W[(it*K+k)*F:][:F]
		for f, hv := range h {
			s += float64(hv * row[f])
		}
		logits[k] = s
		mx = math.Max(mx, s)
	}
	sum, e := 0.0, 0.0
	for k := 0; k < K; k++ {
		p := math.Exp(logits[k] - mx)
		sum += p
		e += p * m.Levels[k]
	}
	return m.clip(e / sum)
}

func (m *Model) clip(x float64) float64 {
	return math.Min(math.Max(x, m.Levels[0]), m.Levels[len(m.Levels)-1])
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

// Evaluate predicts every rating of test and compares.
func (m *Model) Evaluate(test *Ratings) Metrics {
	m.ensureIndex()
	if m.Binary {
		test = test.Likes(m.LikeThreshold)
	}
	if m.ItemBased {
		test = test.Transposed()
	}
	byUser := map[int][]Rating{}
	var met Metrics
	var se, ae float64
	add := func(pred, actual float64) {
		d := pred - actual
		se += d * d
		ae += math.Abs(d)
		met.N++
	}
	for _, r := range test.List {
		u, uok := m.userIndex[r.User]
		it, iok := m.itemIndex[r.Item]
		if !uok || !iok {
			if !uok {
				u = -1
			}
			if !iok {
				it = -1
			}
			add(m.baseline(u, it), r.Value)
			met.Fallback++
			continue
		}
		byUser[u] = append(byUser[u], r)
	}
	h := make([]float32, m.Hidden)
	for u, rs := range byUser {
		m.hiddenMean(u, h)
		for _, r := range rs {
			add(m.expected(m.itemIndex[r.Item], h), r.Value)
		}
	}
	if met.N > 0 {
		met.RMSE, met.MAE = math.Sqrt(se/float64(met.N)), ae/float64(met.N)
	}
	return met
}

// trainRMSE is the RMSE of the predictions of the training ratings.
func (m *Model) trainRMSE() float64 {
	h := make([]float32, m.Hidden)
	se, n := 0.0, 0
	for u := range m.UserItems {
		m.hiddenMean(u, h)
		for i, it := range m.UserItems[u] {
			d := m.expected(int(it), h) - m.Levels[m.UserLevels[u][i]]
			se += d * d
			n++
		}
	}
	return math.Sqrt(se / float64(max(n, 1)))
}

func (m *Model) ensureIndex() {
	if m.userIndex == nil {
		m.index()
	}
}

// Recommendation is an item and its predicted rating.
type Recommendation struct {
	Item      string  `json:"item"`
	Predicted float64 `json:"predicted"`
}

// Recommend returns the top items (highest predicted rating) that user has
// not rated in training.
func (m *Model) Recommend(user string, top int) ([]Recommendation, error) {
	if top <= 0 {
		return nil, fmt.Errorf("top must be positive, got %d", top)
	}
	recs, err := m.scoreUnrated(user, nil)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Predicted > recs[j].Predicted })
	return recs[:min(top, len(recs))], nil
}

// scoreUnrated predicts user's rating of every item the user has not rated
// in training. For an item-based model, caseHidden (when not nil) holds
// p(h|V) of every case, computed once for many users.
func (m *Model) scoreUnrated(user string, caseHidden [][]float32) ([]Recommendation, error) {
	m.ensureIndex()
	h := make([]float32, m.Hidden)
	var recs []Recommendation
	if m.ItemBased {
		// The user is a visible unit; each item is a case.
		v, ok := m.itemIndex[user]
		if !ok {
			return nil, fmt.Errorf("unknown user %q: the model has no ratings of theirs", user)
		}
		for c := range m.UserItems {
			if contains(m.UserItems[c], int32(v)) {
				continue
			}
			hc := h
			if caseHidden != nil {
				hc = caseHidden[c]
			} else {
				m.hiddenMean(c, h)
			}
			recs = append(recs, Recommendation{Item: m.Users[c], Predicted: m.expected(v, hc)})
		}
		return recs, nil
	}
	u, ok := m.userIndex[user]
	if !ok {
		return nil, fmt.Errorf("unknown user %q: the model has no ratings of theirs", user)
	}
	m.hiddenMean(u, h)
	for it := range m.Items {
		if !contains(m.UserItems[u], int32(it)) {
			recs = append(recs, Recommendation{Item: m.Items[it], Predicted: m.expected(it, h)})
		}
	}
	return recs, nil
}

// TopN are ranking metrics at a cut-off N, averaged over the test users
// with at least one relevant held-out rating.
type TopN struct {
	N                       int
	Precision, Recall, NDCG float64
	Users                   int
}

// EvaluateTopN ranks, for every test user the model knows, the items the
// user has not rated in training, and scores the first n against the test
// ratings of at least relevant (binary relevance).
func (m *Model) EvaluateTopN(test *Ratings, n int, relevant float64) TopN {
	m.ensureIndex()
	rel := map[string]map[string]bool{}
	for _, r := range test.List {
		if r.Value >= relevant {
			if rel[r.User] == nil {
				rel[r.User] = map[string]bool{}
			}
			rel[r.User][r.Item] = true
		}
	}
	var caseHidden [][]float32
	if m.ItemBased {
		caseHidden = make([][]float32, len(m.UserItems))
		for c := range caseHidden {
			caseHidden[c] = make([]float32, m.Hidden)
			m.hiddenMean(c, caseHidden[c])
		}
	}
	res := TopN{N: n}
	for user, items := range rel {
		recs, err := m.scoreUnrated(user, caseHidden)
		if err != nil {
			continue // unknown user: nothing to rank
		}
		sort.SliceStable(recs, func(i, j int) bool { return recs[i].Predicted > recs[j].Predicted })
		hits, dcg, idcg := 0, 0.0, 0.0
		for i := 0; i < min(n, len(recs)); i++ {
			if items[recs[i].Item] {
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

func contains(s []int32, x int32) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
