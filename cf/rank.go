package cf

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Ranking is an order of the items a user has not rated, for Recommend,
// RecommendFor and EvaluateTopN.
type Ranking int

const (
	// RankDefault is RankRelevant for a model with an implicit-feedback
	// part (Model.Implicit) and RankRating for one without.
	RankDefault Ranking = iota
	// RankRating orders by predicted (expected) rating.
	RankRating
	// RankChosen orders by the implicit model's probability that the user
	// rates the item, whatever the rating.
	RankChosen
	// RankRelevant orders by the probability that the user rates the item
	// and rates it at least the relevance level: p(rated) from the
	// implicit model times P(rating >= relevant) from the rating model.
	RankRelevant
)

var rankingNames = []string{"default", "rating", "chosen", "relevant"}

// String returns the ranking's name, as ParseRanking reads it.
func (r Ranking) String() string {
	if r >= 0 && int(r) < len(rankingNames) {
		return rankingNames[r]
	}
	return fmt.Sprintf("Ranking(%d)", int(r))
}

// ParseRanking reads a ranking's name: default, rating, chosen or relevant.
func ParseRanking(s string) (Ranking, error) {
	for i, n := range rankingNames {
		if s == n {
			return Ranking(i), nil
		}
	}
	return 0, fmt.Errorf("unknown ranking %q (want %s)", s, strings.Join(rankingNames, ", "))
}

// resolve turns RankDefault into the ranking it stands for, and checks
// that the model can rank so.
func (m *Model) resolve(by Ranking) (Ranking, error) {
	switch by {
	case RankDefault:
		if m.Implicit != nil {
			return RankRelevant, nil
		}
		return RankRating, nil
	case RankRating:
		return by, nil
	case RankChosen, RankRelevant:
		if m.Implicit == nil {
			return 0, fmt.Errorf("ranking %q needs the implicit-feedback model, and this model has none (trained without it or before it existed); rank by rating", by)
		}
		return by, nil
	}
	return 0, fmt.Errorf("unknown ranking %d", int(by))
}

// Ranking returns the ranking that by stands for with this model
// (RankDefault resolved), or by itself when the model cannot rank so.
func (m *Model) Ranking(by Ranking) Ranking {
	r, err := m.resolve(by)
	if err != nil {
		return by
	}
	return r
}

// DefaultRelevant is the lowest rating RankRelevant counts as relevant
// unless told otherwise: 80% of the top level (4 of 5 stars; a like for
// a like/dislike model).
func (m *Model) DefaultRelevant() float64 { return 0.8 * m.Levels[len(m.Levels)-1] }

// Recommendation is an item, its predicted rating and the score it was
// ranked by (the predicted rating itself when ranking by rating).
type Recommendation struct {
	Item      string  `json:"item"`
	Predicted float64 `json:"predicted"`
	Score     float64 `json:"score"`
}

// Recommend returns the top items that user has not rated in training,
// in the default ranking (RankDefault).
func (m *Model) Recommend(user string, top int) ([]Recommendation, error) {
	return m.RecommendBy(user, top, RankDefault, 0)
}

// RecommendBy returns the top items that user has not rated in training,
// in ranking by; relevant is RankRelevant's level (0: DefaultRelevant).
func (m *Model) RecommendBy(user string, top int, by Ranking, relevant float64) ([]Recommendation, error) {
	if top <= 0 {
		return nil, fmt.Errorf("top must be positive, got %d", top)
	}
	by, err := m.resolve(by)
	if err != nil {
		return nil, err
	}
	if relevant == 0 {
		relevant = m.DefaultRelevant()
	}
	recs, err := m.scoreUnrated(user, nil, by, relevant)
	if err != nil {
		return nil, err
	}
	sortRecs(recs)
	return recs[:min(top, len(recs))], nil
}

func sortRecs(recs []Recommendation) {
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Score > recs[j].Score })
}

// predictLevels returns the expected rating of visible unit vis given
// hidden means h (clipped to the scale, as expected gives it) and the
// probability of a level of at least relevant.
func (m *Model) predictLevels(vis int, h []float32, relevant float64) (exp, atLeast float64) {
	K := m.K()
	var buf [256]float64
	logits := buf[:K]
	m.logits64(vis, h, logits)
	return m.levelProbs(logits, relevant)
}

// score is the ranking score of an item from its predicted rating, its
// probability of a relevant rating and its probability of being chosen.
func score(by Ranking, predicted, atLeast, chosen float64) float64 {
	switch by {
	case RankChosen:
		return chosen
	case RankRelevant:
		return chosen * atLeast
	}
	return predicted
}

// scoreUnrated scores every item user has not rated in training. For an
// item-based model, caseHidden (when not nil) holds p(h|V) of every case,
// computed once for many users. by is resolved.
func (m *Model) scoreUnrated(user string, caseHidden [][]float32, by Ranking, relevant float64) ([]Recommendation, error) {
	m.ensureIndex()
	h := make([]float32, m.Hidden)
	var chosen []float64
	implicit := func(u int) {
		if by != RankRating {
			chosen = make([]float64, m.numItems())
			m.Implicit.chosen(m.userItems()[u], chosen)
		}
	}
	var recs []Recommendation
	add := func(it, cs, vis int, hc []float32) {
		pred, atLeast := m.predictLevels(vis, hc, relevant)
		pred = m.blend(pred, cs, vis)
		recs = append(recs, m.recommendation(it, by, pred, atLeast, chosen))
	}
	if m.ItemBased {
		// The user is a visible unit; each item is a case.
		v, ok := m.itemIndex[user]
		if !ok {
			return nil, fmt.Errorf("%w %q: the model has no ratings of theirs", ErrUnknownUser, user)
		}
		implicit(v)
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
			add(c, c, v, hc)
		}
		return recs, nil
	}
	u, ok := m.userIndex[user]
	if !ok {
		return nil, fmt.Errorf("%w %q: the model has no ratings of theirs", ErrUnknownUser, user)
	}
	implicit(u)
	m.hiddenMean(u, h)
	rated := make([]bool, len(m.Items))
	for _, it := range m.UserItems[u] {
		rated[it] = true
	}
	for it := range m.Items {
		if !rated[it] {
			add(it, u, it, h)
		}
	}
	return recs, nil
}

// recommendation returns real item it with its predicted rating and its
// score in ranking by, from its probability of a relevant rating and, when
// chosen is not nil, its probability of being chosen, chosen[it].
func (m *Model) recommendation(it int, by Ranking, pred, atLeast float64, chosen []float64) Recommendation {
	c := 0.0
	if chosen != nil {
		c = chosen[it]
	}
	return Recommendation{Item: m.itemID(it), Predicted: pred, Score: score(by, pred, atLeast, c)}
}

// EvaluateTopN ranks, for every test user the model knows, the items the
// user has not rated in training in the default ranking, and scores the
// first n against the test ratings of at least relevant (binary
// relevance).
func (m *Model) EvaluateTopN(test *Ratings, n int, relevant float64) TopN {
	t, _ := m.EvaluateTopNBy(test, n, relevant, RankDefault)
	return t
}

// EvaluateTopNBy is EvaluateTopN in ranking by; RankRelevant counts
// ratings of at least relevant, as the metrics do. It fails only when the
// model cannot rank so.
func (m *Model) EvaluateTopNBy(test *Ratings, n int, relevant float64, by Ranking) (TopN, error) {
	by, err := m.resolve(by)
	if err != nil {
		return TopN{}, err
	}
	m.ensureIndex()
	var caseHidden [][]float32
	if m.ItemBased {
		caseHidden = make([][]float32, len(m.UserItems))
		for c := range caseHidden {
			caseHidden[c] = make([]float32, m.Hidden)
			m.hiddenMean(c, caseHidden[c])
		}
	}
	return topN(test, n, relevant, func(user string) ([]string, bool) {
		recs, err := m.scoreUnrated(user, caseHidden, by, relevant)
		if err != nil {
			return nil, false // unknown user: nothing to rank
		}
		sortRecs(recs)
		ids := make([]string, min(n, len(recs)))
		for i := range ids {
			ids[i] = recs[i].Item
		}
		return ids, true
	}), nil
}

// RecommendFor folds in a user the model has not seen, given as item ->
// rating, and returns the top items not among the ratings in the default
// ranking; see RecommendForBy.
func (m *Model) RecommendFor(ratings map[string]float64, top int) (recs []Recommendation, unknown int, err error) {
	return m.RecommendForBy(ratings, top, RankDefault, 0)
}

// RecommendForBy folds in a user the model has not seen, given as item ->
// rating: p(h|V) (and the user's baseline offset) from the ratings of items the model knows (each mapped to
// the nearest rating level, after the like threshold for a like/dislike
// model) and, for the implicit model, the indicators of those items; then
// the top items not among the ratings in ranking by (relevant as for
// RecommendBy). It also returns how many of the rated items the model
// does not know (they are ignored). It needs a user-based model: in an
// item-based one a user is a visible unit, and a new one has no weights.
func (m *Model) RecommendForBy(ratings map[string]float64, top int, by Ranking, relevant float64) (recs []Recommendation, unknown int, err error) {
	if top <= 0 {
		return nil, 0, fmt.Errorf("top must be positive, got %d", top)
	}
	if m.ItemBased {
		return nil, 0, errors.New("fold-in needs a user-based model: in this item-based one a new user would be a new visible unit, which has no weights (retrain, or use a user-based model)")
	}
	if len(ratings) == 0 {
		return nil, 0, errors.New("no ratings given")
	}
	if by, err = m.resolve(by); err != nil {
		return nil, 0, err
	}
	if relevant == 0 {
		relevant = m.DefaultRelevant()
	}
	m.ensureIndex()
	known, unknown, err := m.knownRatings(ratings)
	if err != nil {
		return nil, 0, err
	}
	if len(known) == 0 {
		return nil, unknown, fmt.Errorf("none of the %d rated items is known to the model", len(ratings))
	}
	recs = m.scoreFoldedIn(known, by, relevant)
	sortRecs(recs)
	return recs[:min(top, len(recs))], unknown, nil
}

// knownRatings returns the ratings (item -> rating) of items the model
// knows, as item and nearest level, in item order, and how many items it
// does not know.
func (m *Model) knownRatings(ratings map[string]float64) (known []itemLevel, unknown int, err error) {
	for item, v := range ratings {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, fmt.Errorf("rating of item %q is %v, not a number", item, v)
		}
		it, ok := m.itemIndex[item]
		if !ok {
			unknown++
			continue
		}
		known = append(known, itemLevel{int32(it), uint8(m.nearestLevel(v))})
	}
	// Sum in item order, so that the result does not depend on the map's.
	sort.Slice(known, func(a, b int) bool { return known[a].it < known[b].it })
	return known, unknown, nil
}

// scoreFoldedIn scores every item not among known for a new user folded
// into a user-based model from their known ratings. by is resolved.
func (m *Model) scoreFoldedIn(known []itemLevel, by Ranking, relevant float64) []Recommendation {
	h := m.foldIn(-1, known)
	rated := make([]bool, len(m.Items))
	ids := make([]int32, 0, len(known))
	for _, r := range known {
		rated[r.it] = true
		ids = append(ids, r.it)
	}
	var chosen []float64
	if by != RankRating {
		chosen = make([]float64, len(m.Items))
		m.Implicit.chosen(ids, chosen)
	}
	// The user's offset, fitted as training fits them (for BaselineBlend).
	userBase := m.userOffset(known)
	var recs []Recommendation
	for it := range m.Items {
		if !rated[it] {
			pred, atLeast := m.predictLevels(it, h, relevant)
			if m.BaselineBlend != 0 {
				pred = (1-m.BaselineBlend)*pred + m.BaselineBlend*m.clip(m.Mean+userBase+float64(m.ItemOffset[it]))
			}
			recs = append(recs, m.recommendation(it, by, pred, atLeast, chosen))
		}
	}
	return recs
}
