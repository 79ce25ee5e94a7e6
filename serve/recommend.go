package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/harmonium-ml/harmonium/cf"
)

// userState holds the ratings stored in the database by user and, for
// every cf model, the profiles of the users who have stored ratings. Only
// committed (the database's writer, and New) changes it; a new profile
// replaces the old one whole, so readers never see one half built.
type userState struct {
	models []*Model // the cf models

	mu       sync.RWMutex
	ratings  map[string]map[string]float64
	profiles map[*Model]map[string]*cf.Profile
}

func newUserState(models []*Model) *userState {
	u := &userState{ratings: map[string]map[string]float64{}, profiles: map[*Model]map[string]*cf.Profile{}}
	for _, m := range models {
		if m.Kind == KindCF {
			u.models = append(u.models, m)
			u.profiles[m] = map[string]*cf.Profile{}
		}
	}
	return u
}

// profile returns the profile of a user with stored ratings, or nil.
func (u *userState) profile(m *Model, user string) *cf.Profile {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.profiles[m][user]
}

// committed folds committed ratings into the users they are of: their
// stored ratings and, for every cf model, their profile (nil when the
// model knows neither the user nor any item they rated).
func (u *userState) committed(list []cf.Rating) {
	changed := map[string]map[string]float64{}
	var order []string
	u.mu.RLock()
	for _, r := range list {
		c, ok := changed[r.User]
		if !ok {
			c = map[string]float64{}
			for item, v := range u.ratings[r.User] {
				c[item] = v
			}
			changed[r.User] = c
			order = append(order, r.User)
		}
		c[r.Item] = r.Value
	}
	u.mu.RUnlock()
	type built struct {
		user string
		ps   []*cf.Profile
	}
	out := make([]built, len(order))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(len(order), 8) {
		wg.Go(func() {
			for i := range next {
				user := order[i]
				out[i] = built{user, make([]*cf.Profile, len(u.models))}
				for j, m := range u.models {
					out[i].ps[j], _ = m.CF.Profile(user, changed[user])
				}
			}
		})
	}
	for i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, b := range out {
		u.ratings[b.user] = changed[b.user]
		for j, m := range u.models {
			if b.ps[j] != nil {
				u.profiles[m][b.user] = b.ps[j]
			} else {
				delete(u.profiles[m], b.user)
			}
		}
	}
}

// cfModel returns the cf model a request names (?model=NAME) or the first
// one loaded.
func (s *Server) cfModel(r *http.Request) (*Model, error) {
	name := r.URL.Query().Get("model")
	if name == "" {
		if s.defaultCF == nil {
			return nil, fmt.Errorf("%w: no collaborative-filtering model is loaded", ErrUnknownModel)
		}
		return s.defaultCF, nil
	}
	m, err := s.model(name)
	if err != nil {
		return nil, err
	}
	if m.Kind != KindCF {
		return nil, badRequest("model %q is a %s model, not a collaborative-filtering one", name, m.Kind)
	}
	return m, nil
}

// model looks a model up by name; names are never used as paths.
func (s *Server) model(name string) (*Model, error) {
	if !ValidName(name) {
		return nil, badRequest("invalid model name %q", name)
	}
	m, ok := s.models[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (GET /v1/models lists them)", ErrUnknownModel, name)
	}
	return m, nil
}

// topParam reads ?n= (default 10, at most DefaultTopMax).
func topParam(r *http.Request) (int, error) {
	q := r.URL.Query().Get("n")
	if q == "" {
		return 10, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > DefaultTopMax {
		return 0, badRequest("n must be a whole number from 1 to %d, got %q", DefaultTopMax, q)
	}
	return n, nil
}

// recItem is one recommended item in a response.
type recItem struct {
	Item      string  `json:"item"`
	Title     string  `json:"title,omitempty"`
	Predicted float64 `json:"predicted"`
	Score     float64 `json:"score"`
}

// recommend answers GET /v1/recommend/{user}.
func (s *Server) recommend(w http.ResponseWriter, r *http.Request) error {
	m, err := s.cfModel(r)
	if err != nil {
		return err
	}
	n, err := topParam(r)
	if err != nil {
		return err
	}
	user := r.PathValue("user")
	p, err := s.profileOf(m, user)
	popular := errors.Is(err, cf.ErrUnknownUser)
	var recs []cf.Recommendation
	switch {
	case popular:
		recs = m.CF.Popular(n)
	case err != nil:
		return err
	default:
		recs = p.Recommend(n)
	}
	items := make([]recItem, len(recs))
	for i, rec := range recs {
		items[i] = recItem{rec.Item, s.opt.Titles[rec.Item], rec.Predicted, rec.Score}
	}
	ranking := m.CF.Ranking().String()
	if popular {
		ranking = "popular"
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": user, "model": m.Name, "ranking": ranking, "popular": popular,
		"new_user": p != nil && p.New(), "items": items})
	return nil
}

// profileOf returns user's profile in model m: the one built from their
// stored ratings, or that of a user known to the model.
func (s *Server) profileOf(m *Model, user string) (*cf.Profile, error) {
	if p := s.users.profile(m, user); p != nil {
		return p, nil
	}
	return m.CF.Profile(user, nil)
}

// predict answers GET /v1/predict/{user}/{item}.
func (s *Server) predict(w http.ResponseWriter, r *http.Request) error {
	m, err := s.cfModel(r)
	if err != nil {
		return err
	}
	user, item := r.PathValue("user"), r.PathValue("item")
	p, err := s.profileOf(m, user)
	if err != nil {
		return err
	}
	pred, err := p.Predict(item)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": user, "item": item, "title": s.opt.Titles[item], "model": m.Name, "predicted": pred})
	return nil
}

// similarMeasure describes Similar's measure in responses.
const similarMeasure = "cosine similarity of the items' vectors: user-based models, an item's weights at every level and hidden unit; item-based models, its p(h|V) centred on the mean over items"

// similar answers GET /v1/similar/{item}.
func (s *Server) similar(w http.ResponseWriter, r *http.Request) error {
	m, err := s.cfModel(r)
	if err != nil {
		return err
	}
	n, err := topParam(r)
	if err != nil {
		return err
	}
	item := r.PathValue("item")
	nb, err := m.CF.Similar(item, n)
	if err != nil {
		return err
	}
	type simItem struct {
		Item       string  `json:"item"`
		Title      string  `json:"title,omitempty"`
		Similarity float64 `json:"similarity"`
	}
	items := make([]simItem, len(nb))
	for i, x := range nb {
		items[i] = simItem{x.Item, s.opt.Titles[x.Item], x.Similarity}
	}
	writeJSON(w, http.StatusOK, map[string]any{"item": item, "title": s.opt.Titles[item], "model": m.Name, "measure": similarMeasure, "items": items})
	return nil
}

// ratingIn is one rating in the body of POST /v1/ratings.
type ratingIn struct {
	User   json.RawMessage `json:"user"`
	Item   json.RawMessage `json:"item"`
	Rating *float64        `json:"rating"`
}

// idOf reads an id given as a JSON string or number.
func idOf(raw json.RawMessage, what string, i int) (string, error) {
	var id string
	if err := json.Unmarshal(raw, &id); err != nil {
		var num json.Number
		if len(raw) == 0 || json.Unmarshal(raw, &num) != nil {
			return "", badRequest("rating %d: %q must be a string or a number", i+1, what)
		}
		id = num.String()
	}
	if id == "" || len(id) > 256 {
		return "", badRequest("rating %d: %q must be 1 to 256 bytes", i+1, what)
	}
	return id, nil
}

// postRatings answers POST /v1/ratings (behind withToken): the ratings
// are checked, stored durably and folded into their users' profiles
// before the answer.
func (s *Server) postRatings(w http.ResponseWriter, r *http.Request) error {
	var in []ratingIn
	if err := decodeJSON(w, r, s.opt.MaxBody, &in); err != nil {
		return err
	}
	if len(in) == 0 {
		return badRequest(`want a non-empty JSON array of {"user": ..., "item": ..., "rating": ...}`)
	}
	if len(in) > s.opt.MaxBatch {
		return fmt.Errorf("%w: %d ratings, at most %d per request", ErrTooLarge, len(in), s.opt.MaxBatch)
	}
	list, err := s.checkRatings(in)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := s.store.Add(r.Context(), list); err != nil {
		s.metrics.dbErrors.Inc()
		return err
	}
	s.metrics.dbWriteDur.Observe(time.Since(start).Seconds())
	s.metrics.dbCommits.Inc()
	s.metrics.dbRatings.Add(float64(len(list)))
	unknown := []string{}
	seen := map[string]bool{}
	if m := s.defaultCF; m != nil {
		for _, x := range list {
			if !seen[x.Item] && !m.CF.KnowsItem(x.Item) {
				unknown = append(unknown, x.Item)
			}
			seen[x.Item] = true
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"stored": len(list), "unknown_items": unknown})
	return nil
}

// checkRatings validates ratings: ids, and values that are numbers on
// the scale of every rating model loaded (like/dislike models take any
// number).
func (s *Server) checkRatings(in []ratingIn) ([]cf.Rating, error) {
	list := make([]cf.Rating, len(in))
	for i, x := range in {
		user, err := idOf(x.User, "user", i)
		if err != nil {
			return nil, err
		}
		item, err := idOf(x.Item, "item", i)
		if err != nil {
			return nil, err
		}
		if x.Rating == nil {
			return nil, badRequest("rating %d: \"rating\" must be a number", i+1)
		}
		if err := s.users.checkValue(*x.Rating); err != nil {
			return nil, badRequest("rating %d: %v", i+1, err)
		}
		list[i] = cf.Rating{User: user, Item: item, Value: *x.Rating}
	}
	return list, nil
}

// checkValue reports whether v is a number on the scale of every rating
// model loaded (like/dislike models take any number).
func (u *userState) checkValue(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%v is not a number", v)
	}
	for _, m := range u.models {
		if lo, hi := m.CF.Scale(); !m.CF.Model().Binary && (v < lo || v > hi) {
			return fmt.Errorf("%g is outside model %s's scale [%g, %g]", v, m.Name, lo, hi)
		}
	}
	return nil
}
