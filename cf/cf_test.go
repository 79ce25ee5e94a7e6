package cf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadRatingsFormats(t *testing.T) {
	for name, body := range map[string]string{
		"u.data":      "1\t10\t5\t881250949\n2\t10\t3\t881250950\n",
		"ratings.dat": "1::10::5::978300760\n2::10::3::978300761\n",
		"ratings.csv": "userId,movieId,rating,timestamp\n1,10,5.0,964982703\n2,10,3,964982224\n",
		"plain.csv":   "1,10,5\n2,10,3\n",
	} {
		r, err := ReadRatings(write(t, name, body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(r.List) != 2 || r.List[0] != (Rating{"1", "10", 5}) || r.List[1].Value != 3 {
			t.Fatalf("%s: %+v", name, r.List)
		}
	}
	r, err := ReadRatings(write(t, "half.csv", "u,i,r\nann,m1,0.5\nbob,m1,4.5\nann,m1,3.5\n"))
	if err != nil || len(r.List) != 2 || r.Duplicates != 1 || r.List[0].Value != 3.5 {
		t.Fatalf("duplicates: %+v %v", r, err)
	}
	if lv := r.Levels(); len(lv) != 2 || lv[0] != 3.5 || lv[1] != 4.5 {
		t.Fatalf("levels %v", lv)
	}
	for name, c := range map[string]struct{ body, want string }{
		"short.data": {"1\t2\t3\n4\t5\n", "line 2: want user, item and rating"},
		"word.data":  {"1\t2\t3\n1\t3\tgood\n", `line 2: rating "good" is not a number`},
		"nan.csv":    {"1,2,NaN\n", "line 1: rating"},
		"empty.csv":  {"", "no ratings"},
	} {
		p := write(t, name, c.body)
		_, err := ReadRatings(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want %q with the path", name, err, c.want)
		}
	}
	if _, err := ReadRatings(filepath.Join(t.TempDir(), "absent")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestReadTitles(t *testing.T) {
	item := write(t, "u.item", "1|Toy Story (1995)|01-Jan-1995||http://x\n2|Caf\xe9 (1999)|01-Jan-1999||\n")
	if m, err := ReadTitles(item); err != nil || m["1"] != "Toy Story (1995)" || m["2"] != "Café (1999)" {
		t.Fatalf("u.item: %q %v", m, err)
	}
	dat := write(t, "movies.dat", "1::Toy Story (1995)::Animation\n")
	if m, err := ReadTitles(dat); err != nil || m["1"] != "Toy Story (1995)" {
		t.Fatalf("movies.dat: %q %v", m, err)
	}
	csv := write(t, "movies.csv", "movieId,title,genres\n1,Toy Story (1995),Animation\n11,\"American President, The (1995)\",Comedy\n")
	if m, err := ReadTitles(csv); err != nil || m["1"] != "Toy Story (1995)" || m["11"] != "American President, The (1995)" || len(m) != 2 {
		t.Fatalf("movies.csv: %q %v", m, err)
	}
}

// synthetic makes ratings of two kinds of users: kind 0 loves items 0-19
// and dislikes 20-39, kind 1 the reverse; each user rates 24 random items.
func synthetic(users int, seed uint64) *Ratings {
	r := rand.New(rand.NewPCG(seed, 1))
	out := &Ratings{Source: "synthetic"}
	for u := 0; u < users; u++ {
		kind := u % 2
		for _, it := range r.Perm(40)[:24] {
			v := 1 + r.IntN(2)
			if (it < 20) == (kind == 0) {
				v = 4 + r.IntN(2)
			}
			out.List = append(out.List, Rating{User: fmt.Sprint("u", u), Item: fmt.Sprint("i", it), Value: float64(v)})
		}
	}
	return out
}

func TestTrainLearnsStructure(t *testing.T) {
	all := synthetic(400, 3)
	train, test := all.Split(0.2, 4)
	for _, itemBased := range []bool{false, true} {
		m := trainSmall(t, train, itemBased)
		met := m.Evaluate(test)
		// The baseline (mean + offsets) cannot tell the two kinds apart.
		base := 0.0
		for _, r := range test.List {
			d := m.baseline(m.userIndexOf(r), m.itemIndexOf(r)) - r.Value
			base += d * d
		}
		base = math.Sqrt(base / float64(len(test.List)))
		if !(met.RMSE < 0.6*base) || met.N != len(test.List) {
			t.Fatalf("item-based=%v: RMSE %.3f, baseline %.3f", itemBased, met.RMSE, base)
		}
		t.Logf("item-based=%v: RMSE %.3f, baseline %.3f", itemBased, met.RMSE, base)
		// Recommendations for a kind-0 user are items 0-19.
		recs, err := m.Recommend("u0", 5)
		if err != nil || len(recs) != 5 {
			t.Fatal(err)
		}
		for _, rc := range recs {
			var it int
			fmt.Sscanf(rc.Item, "i%d", &it)
			if it >= 20 {
				t.Fatalf("item-based=%v: recommended %s to a user who dislikes it", itemBased, rc.Item)
			}
		}
		if _, err := m.Recommend("nobody", 5); err == nil || !strings.Contains(err.Error(), "unknown user") {
			t.Fatalf("unknown user: %v", err)
		}
		if _, err := m.Recommend("u0", 0); err == nil {
			t.Fatal("top 0 accepted")
		}
	}
}

// userIndexOf and itemIndexOf give the baseline's indices of a rating.
func (m *Model) userIndexOf(r Rating) int {
	if m.ItemBased {
		r.User, r.Item = r.Item, r.User
	}
	if u, ok := m.userIndex[r.User]; ok {
		return u
	}
	return -1
}

func (m *Model) itemIndexOf(r Rating) int {
	if m.ItemBased {
		r.User, r.Item = r.Item, r.User
	}
	if i, ok := m.itemIndex[r.Item]; ok {
		return i
	}
	return -1
}

func TestFallbackAndDeterminism(t *testing.T) {
	train := synthetic(60, 5)
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs = 8, 3
	a, _ := Train(context.Background(), train, cfg, nil)
	b, _ := Train(context.Background(), train, cfg, nil)
	for i := range a.W {
		if a.W[i] != b.W[i] {
			t.Fatal("same seed, different models")
		}
	}
	test := &Ratings{List: []Rating{{"u1", "i3", 4}, {"stranger", "i3", 4}, {"u1", "unseen", 2}, {"who", "what", 3}}}
	met := a.Evaluate(test)
	if met.N != 4 || met.Fallback != 3 {
		t.Fatalf("metrics %+v, want 3 fallbacks of 4", met)
	}
	// A level never seen in training (0.5 on a 1-5 scale) is compared as a
	// number: the prediction is at least 1, so the error is at least 0.5.
	odd := a.Evaluate(&Ratings{List: []Rating{{"u1", "i3", 0.5}}})
	if odd.N != 1 || odd.Fallback != 0 || !(odd.MAE >= 0.5) {
		t.Fatalf("unseen level: %+v", odd)
	}
	// An unknown user and item get the global mean.
	if p := a.baseline(-1, -1); math.Abs(p-a.Mean) > 1e-12 {
		t.Fatalf("baseline %v, mean %v", p, a.Mean)
	}
	cfg.Epochs = 0
	if _, err := Train(context.Background(), train, cfg, nil); err == nil {
		t.Fatal("0 epochs accepted")
	}
}

func TestMovieLens100K(t *testing.T) {
	if testing.Short() {
		t.Skip("long; runs in the full suite (make test)")
	}
	dir := filepath.Join("..", "..", "shared", "data", "ml-100k")
	if _, err := os.Stat(filepath.Join(dir, "u1.base")); err != nil {
		t.Skipf("MovieLens 100K not found at %s: skipping the real-data check", dir)
	}
	train, err := ReadRatings(filepath.Join(dir, "u1.base"))
	if err != nil {
		t.Fatal(err)
	}
	test, err := ReadRatings(filepath.Join(dir, "u1.test"))
	if err != nil {
		t.Fatal(err)
	}
	if len(train.List) != 80000 || len(test.List) != 20000 {
		t.Fatalf("u1: %d and %d ratings", len(train.List), len(test.List))
	}
	cfg := DefaultConfig()
	// The plain RBM: the conditional one (the default) starts slower and
	// reaches 0.9563 after 12 epochs here, 0.9169 after the default 35.
	cfg.Epochs, cfg.ItemBased, cfg.Conditional, cfg.Implicit.Hidden = 12, true, false, 0
	m, err := Train(context.Background(), train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if met := m.Evaluate(test); met.RMSE > 0.95 {
		t.Fatalf("item-based RBM, 12 epochs on u1: RMSE %.4f", met.RMSE)
	} else {
		t.Logf("item-based RBM, 12 epochs on u1: RMSE %.4f, MAE %.4f", met.RMSE, met.MAE)
	}
}

func TestTopN(t *testing.T) {
	all := synthetic(300, 8)
	train, test := all.Split(0.2, 9)
	for _, itemBased := range []bool{false, true} {
		m := trainSmall(t, train, itemBased)
		top := m.EvaluateTopN(test, 5, 4)
		// Liked items are half of the catalogue; a model that ranks them
		// first finds them far more often than chance.
		if top.Users == 0 || !(top.Precision > 0.2) || top.NDCG <= 0 || top.NDCG > 1 || top.Recall > 1 {
			t.Fatalf("item-based=%v: %+v", itemBased, top)
		}
		t.Logf("item-based=%v: %+v", itemBased, top)
	}
	// A hand-made case: one user, relevant items a and c, ranking known.
	m := &Model{Levels: []float64{1, 5}, Items: []string{"a", "b", "c"}, Users: []string{"u"}, Hidden: 1,
		W: make([]float32, 6), VisBias: []float32{0, 3, 0, 1, 0, 2}, HidBias: []float32{0},
		UserItems: [][]int32{{}}, UserLevels: [][]uint8{{}}, UserOffset: []float32{0}, ItemOffset: make([]float32, 3)}
	got := m.EvaluateTopN(&Ratings{List: []Rating{{"u", "a", 5}, {"u", "c", 4}, {"u", "b", 1}}}, 2, 4)
	// Ranking a, c, b: both relevant items in the top 2.
	if got.Users != 1 || got.Precision != 1 || got.Recall != 1 || math.Abs(got.NDCG-1) > 1e-12 {
		t.Fatalf("hand-made ranking: %+v", got)
	}
}

func TestBinaryLikes(t *testing.T) {
	all := synthetic(300, 10)
	train, test := all.Split(0.2, 11)
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.Binary = 20, 20, true
	m, err := Train(context.Background(), train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Levels) != 2 || m.Levels[0] != 0 || m.Levels[1] != 1 || m.LikeThreshold != 3 {
		t.Fatalf("levels %v, threshold %v", m.Levels, m.LikeThreshold)
	}
	met := m.Evaluate(test)
	// Likes are exactly the high ratings here; P(like) should be near 0 or 1.
	if !(met.RMSE < 0.3) {
		t.Fatalf("like/dislike RMSE %.3f", met.RMSE)
	}
	recs, _ := m.Recommend("u1", 3)
	for _, r := range recs {
		if r.Predicted < 0 || r.Predicted > 1 {
			t.Fatalf("P(like) = %v", r.Predicted)
		}
	}
	one := &Ratings{List: []Rating{{"a", "x", 4}, {"b", "x", 5}}}
	cfg.Epochs = 1
	if _, err := Train(context.Background(), one, cfg, nil); err == nil || !strings.Contains(err.Error(), "single level") {
		t.Fatalf("all likes: %v", err)
	}
}

// trainSmall trains a 20-hidden-unit model for 20 epochs.
func trainSmall(t *testing.T, train *Ratings, itemBased bool) *Model {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.ItemBased = 20, 20, itemBased
	m, err := Train(context.Background(), train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A model built field by field, as modelfile.LoadCF builds one (no id
// index), serves predictions from many goroutines at once: run with -race.
func TestConcurrentPredictions(t *testing.T) {
	all := synthetic(120, 12)
	train, test := all.Split(0.2, 13)
	for _, itemBased := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Hidden, cfg.Epochs, cfg.ItemBased = 10, 2, itemBased
		tr, err := Train(context.Background(), train, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantMet, wantTop := tr.Evaluate(test), tr.EvaluateTopN(test, 5, 4)
		wantRecs, err := tr.Recommend("u1", 5)
		if err != nil {
			t.Fatal(err)
		}
		m := &Model{ItemBased: tr.ItemBased, Binary: tr.Binary, LikeThreshold: tr.LikeThreshold, Levels: tr.Levels,
			Items: tr.Items, Users: tr.Users, Hidden: tr.Hidden, W: tr.W, VisBias: tr.VisBias, HidBias: tr.HidBias,
			Mean: tr.Mean, UserOffset: tr.UserOffset, ItemOffset: tr.ItemOffset, UserItems: tr.UserItems, UserLevels: tr.UserLevels,
			D: tr.D, Implied: tr.Implied, Implicit: tr.Implicit}
		var wg sync.WaitGroup
		errs := make(chan string, 12)
		for g := range 12 {
			wg.Go(func() {
				switch g % 3 {
				case 0:
					if got := m.Evaluate(test); got != wantMet {
						errs <- fmt.Sprintf("Evaluate %+v, want %+v", got, wantMet)
					}
				case 1:
					if got, err := m.Recommend("u1", 5); err != nil || !slices.Equal(got, wantRecs) {
						errs <- fmt.Sprintf("Recommend %v %v, want %v", got, err, wantRecs)
					}
				case 2:
					if got := m.EvaluateTopN(test, 5, 4); got != wantTop {
						errs <- fmt.Sprintf("EvaluateTopN %+v, want %+v", got, wantTop)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("item-based=%v: %s", itemBased, e)
		}
	}
}

func TestDivergenceIsReported(t *testing.T) {
	train := synthetic(60, 5)
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs = 8, 3
	// A weight turned infinite after epoch 1 spreads during epoch 2.
	_, err := Train(context.Background(), train, cfg, func(m *Model, st EpochStats) error {
		if st.Epoch == 1 {
			m.W[0] = float32(math.Inf(1))
		}
		return nil
	})
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "epoch 2") || !strings.Contains(err.Error(), "lower the learning rate (--lr, now 0.02)") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("planted Inf: %v", err)
	}
	// A learning rate far too high overflows in the first epoch.
	cfg.LearningRate = 1e30
	if _, err := Train(context.Background(), train, cfg, nil); !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "epoch 1") {
		t.Fatalf("learning rate 1e30: %v", err)
	}
	// Infinite weights are caught even when the error is finite.
	inf := float32(math.Inf(-1))
	for _, m := range []*Model{{W: []float32{1, inf}}, {VisBias: []float32{inf}}, {HidBias: []float32{float32(math.NaN())}}} {
		if what := diverged(m, 0.9); !strings.Contains(what, "not finite") {
			t.Errorf("diverged(%+v) = %q", m, what)
		}
	}
	if what := diverged(&Model{W: []float32{1, 2}}, math.Inf(1)); what != "train RMSE +Inf" {
		t.Errorf("Inf RMSE: %q", what)
	}
}

func TestTrainRejectsNaNRatings(t *testing.T) {
	r := &Ratings{List: []Rating{{"a", "x", 4}, {"b", "x", math.NaN()}}}
	if _, err := Train(context.Background(), r, DefaultConfig(), nil); err == nil || !strings.Contains(err.Error(), "rating 2") {
		t.Fatalf("NaN rating: %v", err)
	}
}

// TestTrainLevelsErrorNamesFile checks that ratings with too many levels,
// or a single one, fail with an error naming their file.
func TestTrainLevelsErrorNamesFile(t *testing.T) {
	many := &Ratings{Source: "many.data"}
	for i := range 300 {
		many.List = append(many.List, Rating{fmt.Sprint("u", i), "x", float64(i)})
	}
	one := &Ratings{Source: "one.data", List: []Rating{{"a", "x", 4}, {"b", "x", 4}}}
	cfg := DefaultConfig()
	cfg.Epochs = 1
	for _, r := range []*Ratings{many, one} {
		if _, err := Train(context.Background(), r, cfg, nil); err == nil || !strings.HasPrefix(err.Error(), r.Source+": ") {
			t.Errorf("%s: error %v, want one naming the file", r.Source, err)
		}
	}
}

// TestTrainIndependentOfWorkers trains the same model with 1, 2 and 3
// workers (GOMAXPROCS): every parameter must be the same bit for bit, for
// the default (conditional, item-based) model and a user-based one with
// big cases (segments).
func TestTrainIndependentOfWorkers(t *testing.T) {
	small := DefaultConfig()
	small.Hidden, small.Epochs = 8, 3
	big := DefaultConfig()
	big.Hidden, big.Epochs, big.Steps, big.ItemBased, big.Implicit.Hidden = 8, 2, []int{3}, false, 0
	for _, c := range []struct {
		name  string
		train *Ratings
		cfg   Config
	}{{"default", synthetic(60, 5), small}, {"big cases", bigCaseRatings(), big}} {
		var ref *Model
		for _, procs := range []int{1, 2, 3} {
			prev := runtime.GOMAXPROCS(procs)
			m, err := Train(context.Background(), c.train, c.cfg, nil)
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = m
				continue
			}
			for name, p := range map[string][2][]float32{"W": {ref.W, m.W}, "D": {ref.D, m.D}, "VisBias": {ref.VisBias, m.VisBias}, "HidBias": {ref.HidBias, m.HidBias}} {
				if !slices.Equal(p[0], p[1]) {
					t.Errorf("%s: %s with %d workers differs from 1 worker's", c.name, name, procs)
				}
			}
		}
	}
}
