package cf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// SynthConfig describes synthetic ratings shaped like MovieLens. Zero
// fields other than Users, Items and Ratings take the defaults noted.
//
// MovieLens 25M is Users 162,000, Items 62,000, Ratings 25,000,000 (the
// real set: 162,541 users, 62,423 movies of which 59,047 are rated).
type SynthConfig struct {
	Users, Items, Ratings int

	// ItemExponent is the exponent s of item popularity: the item of
	// popularity rank r (1-based) is drawn with weight
	// (r+q)^-s * exp(-5r/Items), a Zipf-Mandelbrot law with an exponential
	// cut-off that thins the tail as in MovieLens. Default 1.
	ItemExponent float64
	// TopShare fixes q: the most popular item's weight is what would give
	// it TopShare*Users ratings if users could rate an item more than once.
	// As they cannot, it gets fewer: with the default 1.15 about half the
	// users rate it in the MovieLens 25M shape (80,000 ratings; MovieLens
	// 25M: 81,491, and about half the users in 100K, 1M and 20M too).
	TopShare float64
	// MinPerUser is the fewest ratings of a user (MovieLens: 20). Default
	// 20, or Ratings/Users when that is smaller. Above it, users' counts
	// are log-normal (sigma 1.4), so the median user rates about half the
	// mean and a few rate thousands, as in MovieLens.
	MinPerUser int
	// Factors is the number of latent factors behind the ratings. Default 8.
	Factors int
	Seed    uint64
}

// synthShares are the shares (percent) of the half-star levels 0.5, 1, ...,
// 5 in MovieLens 25M.
var synthShares = [10]float64{1.57, 3.12, 1.60, 6.54, 4.96, 19.56, 12.59, 26.59, 8.50, 14.47}

func (c SynthConfig) withDefaults() SynthConfig {
	if c.ItemExponent == 0 {
		c.ItemExponent = 1
	}
	if c.TopShare == 0 {
		c.TopShare = 1.15
	}
	if c.MinPerUser == 0 {
		c.MinPerUser = 20
	}
	if c.Users > 0 {
		c.MinPerUser = min(c.MinPerUser, c.Ratings/c.Users)
	}
	if c.Factors == 0 {
		c.Factors = 8
	}
	return c
}

// Synthetic returns cfg.Ratings ratings by cfg.Users users of up to
// cfg.Items items (an item never drawn has no ratings), with MovieLens-like
// shape: a few items rated by tens of thousands of users and a long tail,
// heavy-tailed user counts with a minimum, and half-star ratings 0.5 to 5
// in MovieLens 25M's proportions. A rating is the quantile of a user bias,
// an item bias, a product of latent factors and noise, so there is
// structure to learn.
//
// User and item ids are numbers from 1 ("1", "2", ...), as in MovieLens;
// each user's ratings are listed together, in increasing item order. The
// ids are shared strings, so a rating costs 40 bytes (25M ratings: 1 GB).
// The result depends only on cfg (not on GOMAXPROCS). Synthetic panics when
// Users, Items or Ratings is not positive or Ratings exceeds Users*Items.
func Synthetic(cfg SynthConfig) *Ratings {
	cfg = cfg.withDefaults()
	U, N, R, D := cfg.Users, cfg.Items, cfg.Ratings, cfg.Factors
	if U <= 0 || N <= 0 || R <= 0 || int64(R) > int64(U)*int64(N) || cfg.ItemExponent < 0 || cfg.TopShare < 0 || cfg.MinPerUser < 0 || D < 0 {
		panic(fmt.Sprintf("cf.Synthetic: bad config %+v (want positive users, items and ratings, ratings at most users*items)", cfg))
	}
	g := newSynthGen(cfg)
	out := &Ratings{List: make([]Rating, R), Source: fmt.Sprintf("synthetic (%d users, %d items, %d ratings, seed %d)", U, N, R, cfg.Seed)}
	var next atomic.Int64
	const chunk = 256
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Go(func() {
			sc := g.newScratch()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= U {
					return
				}
				for u := lo; u < min(lo+chunk, U); u++ {
					g.rateUser(sc, u, out.List[g.offsets[u]:g.offsets[u+1]])
				}
			}
		})
	}
	wg.Wait()
	return out
}

// synthGen is what Synthetic draws every user's ratings from: the users'
// counts, the items' popularity and parameters, and the level thresholds.
type synthGen struct {
	cfg     SynthConfig
	counts  []int32   // ratings per user
	offsets []int     // user u's ratings are offsets[u] to offsets[u+1]-1
	weights []float64 // popularity by rank
	prob    []float64 // the alias table of weights
	alias   []int32
	byRank  []int     // rank -> item index
	fs      float64   // scale of the latent factors
	params  []float32 // per item index: bias, factors
	thr     [9]float64
	itemIDs []string
}

// newSynthGen draws the users' counts and the items of cfg.
func newSynthGen(cfg SynthConfig) *synthGen {
	U, N, D := cfg.Users, cfg.Items, cfg.Factors
	g := &synthGen{cfg: cfg, counts: synthUserCounts(cfg)}
	g.offsets = make([]int, U+1)
	for u, n := range g.counts {
		g.offsets[u+1] = g.offsets[u] + int(n)
	}

	// Items: popularity weight by rank, a random rank->id map, parameters.
	g.weights = synthItemWeights(cfg)
	g.prob, g.alias = newAlias(g.weights)
	ir := rand.New(rand.NewPCG(cfg.Seed, 1<<63))
	g.byRank = ir.Perm(N)
	g.fs = math.Pow(0.35/float64(max(D, 1)), 0.25)
	g.params = make([]float32, N*(D+1))
	for it := 0; it < N; it++ {
		p := g.params[it*(D+1):][:D+1]
		p[0] = float32(0.45 * ir.NormFloat64())
		for d := 1; d <= D; d++ {
			p[d] = float32(g.fs * ir.NormFloat64())
		}
	}
	g.thr = synthThresholds()
	g.itemIDs = make([]string, N)
	for i := range g.itemIDs {
		g.itemIDs[i] = strconv.Itoa(i + 1)
	}
	return g
}

// synthThresholds returns the thresholds of the levels on a standard
// normal score: level k when thr[k-1] <= z < thr[k], in the proportions
// of synthShares.
func synthThresholds() (thr [9]float64) {
	tot, cum := 0.0, 0.0
	for _, s := range synthShares {
		tot += s
	}
	for k := range thr {
		cum += synthShares[k]
		thr[k] = math.Sqrt2 * math.Erfinv(2*cum/tot-1)
	}
	return thr
}

// synthScratch is one worker's buffers.
type synthScratch struct {
	stamp []int32 // user+1 when the user has drawn the rank
	keys  []float64
	ranks []int32
	user  []float64 // the user's factors
}

// newScratch returns a worker's buffers.
func (g *synthGen) newScratch() *synthScratch {
	return &synthScratch{stamp: make([]int32, g.cfg.Items), user: make([]float64, g.cfg.Factors)}
}

// rateUser sets dst to user u's ratings, in increasing item order.
func (g *synthGen) rateUser(sc *synthScratch, u int, dst []Rating) {
	r := rand.New(rand.NewPCG(g.cfg.Seed, uint64(u)))
	bias := 0.45 * r.NormFloat64()
	for d := range sc.user {
		sc.user[d] = g.fs * r.NormFloat64()
	}
	items := g.drawItems(sc, u, r)
	uid := strconv.Itoa(u + 1)
	D := g.cfg.Factors
	for i, it := range items {
		p := g.params[int(it)*(D+1):][:D+1]
		z := bias + float64(p[0]) + 0.5*r.NormFloat64()
		for d, x := range sc.user {
			z += x * float64(p[d+1])
		}
		k := 0
		for k < len(g.thr) && z >= g.thr[k] {
			k++
		}
		dst[i] = Rating{User: uid, Item: g.itemIDs[it], Value: 0.5 * float64(k+1)}
	}
}

// drawItems returns the item indices user u rates, in increasing order
// (in sc.ranks).
func (g *synthGen) drawItems(sc *synthScratch, u int, r *rand.Rand) []int32 {
	n := int(g.counts[u])
	if n > g.cfg.Items/8 {
		g.drawHeavy(sc, n, r)
	} else {
		g.drawLight(sc, u, n, r)
	}
	ranks := sc.ranks
	for i, j := range ranks {
		ranks[i] = int32(g.byRank[j])
	}
	slices.Sort(ranks)
	return ranks
}

// drawHeavy sets sc.ranks to the n popularity ranks of a heavy user,
// weighted sampling without replacement by exponential keys
// (Efraimidis-Spirakis).
func (g *synthGen) drawHeavy(sc *synthScratch, n int, r *rand.Rand) {
	N := g.cfg.Items
	keys := slices.Grow(sc.keys[:0], N)[:N]
	ranks := slices.Grow(sc.ranks[:0], N)[:N]
	for j := range keys {
		keys[j] = r.ExpFloat64() / g.weights[j]
		ranks[j] = int32(j)
	}
	slices.SortFunc(ranks, func(a, b int32) int {
		if keys[a] < keys[b] {
			return -1
		}
		if keys[a] > keys[b] {
			return 1
		}
		return int(a - b)
	})
	sc.keys, sc.ranks = keys, ranks[:n]
}

// drawLight sets sc.ranks to the n popularity ranks of user u, drawn from
// the alias table until n are distinct.
func (g *synthGen) drawLight(sc *synthScratch, u, n int, r *rand.Rand) {
	N := g.cfg.Items
	ranks := sc.ranks[:0]
	for len(ranks) < n {
		j := r.IntN(N)
		if r.Float64() >= g.prob[j] {
			j = int(g.alias[j])
		}
		if sc.stamp[j] != int32(u+1) {
			sc.stamp[j] = int32(u + 1)
			ranks = append(ranks, int32(j))
		}
	}
	sc.ranks = ranks
}

// synthUserCounts returns each user's number of ratings: the minimum plus
// a log-normal share of the rest, at most Items, summing to Ratings.
func synthUserCounts(cfg SynthConfig) []int32 {
	U, N, R := cfg.Users, cfg.Items, cfg.Ratings
	r := rand.New(rand.NewPCG(cfg.Seed, 1<<63+1))
	x := make([]float64, U)
	sum := 0.0
	for u := range x {
		x[u] = math.Exp(1.4 * r.NormFloat64())
		sum += x[u]
	}
	counts := make([]int32, U)
	extra := R - cfg.MinPerUser*U
	left := extra
	for u := range counts {
		n := int(float64(extra) * x[u] / sum)
		counts[u] = int32(cfg.MinPerUser + n)
		left -= n
	}
	// Cap at Items, then hand out what rounding and the cap left, one
	// rating at a time in user order.
	for u := range counts {
		if int(counts[u]) > N {
			left += int(counts[u]) - N
			counts[u] = int32(N)
		}
	}
	for u := 0; left > 0; u = (u + 1) % U {
		if int(counts[u]) < N {
			counts[u]++
			left--
		}
	}
	return counts
}

// synthItemWeights returns the popularity weights by rank, (r+q)^-s *
// exp(-5r/N), with q chosen so that the expected ratings of the top item
// are TopShare of the users if drawn with replacement (as near as the range
// of q allows).
func synthItemWeights(cfg SynthConfig) []float64 {
	N, s := cfg.Items, cfg.ItemExponent
	w := make([]float64, N)
	fill := func(q float64) float64 {
		sum := 0.0
		for i := range w {
			r := float64(i + 1)
			w[i] = math.Pow(r+q, -s) * math.Exp(-5*r/float64(N))
			sum += w[i]
		}
		return float64(cfg.Ratings) * w[0] / sum // expected ratings of the top item
	}
	target := cfg.TopShare * float64(cfg.Users)
	lo, hi := math.Log(1e-3), math.Log(1e9) // bisect log q: larger q, flatter head
	for range 60 {
		mid := (lo + hi) / 2
		if fill(math.Exp(mid)) > target {
			lo = mid
		} else {
			hi = mid
		}
	}
	fill(math.Exp((lo + hi) / 2))
	return w
}

// newAlias builds Vose's alias table for drawing index i with probability
// proportional to w[i].
func newAlias(w []float64) (prob []float64, alias []int32) {
	n := len(w)
	prob, alias = make([]float64, n), make([]int32, n)
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	scaled := make([]float64, n)
	var small, large []int32
	for i, x := range w {
		scaled[i] = x * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		prob[s], alias[s] = scaled[s], l
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range large {
		prob[i], alias[i] = 1, i
	}
	for _, i := range small {
		prob[i], alias[i] = 1, i
	}
	return prob, alias
}
