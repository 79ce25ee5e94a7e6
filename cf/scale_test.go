package cf

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Training keeps no dense per-worker gradient: beyond the model (weights
// and velocities) it allocates in proportion to the ratings. Here the
// visible units (users, item-based) are many and each has few ratings; a
// dense M*K*F gradient per worker would at least double the allocation.
func TestTrainMemoryProportional(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	train := &Ratings{}
	const users, items = 20000, 40
	for u := range users {
		for _, it := range r.Perm(items)[:2] {
			train.List = append(train.List, Rating{User: strconv.Itoa(u), Item: strconv.Itoa(it), Value: float64(1 + r.IntN(5))})
		}
	}
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.ItemBased = 100, 1, true
	// The plain rating RBM's memory: the implicit-feedback RBM reads a
	// dense users x items matrix (capped by ImplicitConfig.MaxCells), and
	// the conditional RBM adds D and its velocity (2*M*F floats) and a
	// gradient buffer per minibatch (F per rated visible of the minibatch):
	// here 116 MB in all instead of 83.
	cfg.Implicit.Hidden = 0
	cfg.Conditional = false
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := Train(context.Background(), train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	weights := uint64(len(m.W) * 4) // 20000 users * 5 levels * 100 hidden * 4 bytes: 40 MB
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*weights+weights/2 {
		t.Fatalf("training allocated %d MB for %d MB of weights", got>>20, weights>>20)
	} else {
		t.Logf("training allocated %.1f MB for %.1f MB of weights", float64(got)/(1<<20), float64(weights)/(1<<20))
	}
}

// Once warm, a minibatch allocates nothing: extra epochs cost only a few
// allocations each (the epoch's shuffle), not one per minibatch.
func TestMinibatchesDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	train := Synthetic(SynthConfig{Users: 400, Items: 200, Ratings: 20000, Seed: 5})
	mallocs := func(epochs int) uint64 {
		cfg := DefaultConfig()
		cfg.Hidden, cfg.Epochs, cfg.Steps = 10, epochs, []int{3}
		// No collection during the run: one empties the sync.Pools that
		// hold pooled work, whose refills would count here.
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := Train(context.Background(), train, cfg, nil); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	two, six := mallocs(2), mallocs(6)
	perEpoch := (float64(six) - float64(two)) / 4
	if batches := 400 / 10; perEpoch > float64(batches)/4 {
		t.Fatalf("%.1f allocations per epoch of %d minibatches", perEpoch, batches)
	}
}

// BenchmarkSigmoid compares cf's sigmoid with mat32.Sigmoid.
func BenchmarkSigmoid(b *testing.B) {
	xs := make([]float32, 1024)
	for i := range xs {
		xs[i] = float32(i-512) / 64
	}
	for _, c := range []struct {
		name string
		f    func(float32) float32
	}{{"cf", sigmoid}, {"mat32", mat32.Sigmoid}} {
		b.Run(c.name, func(b *testing.B) {
			s := float32(0)
			for b.Loop() {
				for _, x := range xs {
					s += c.f(x)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/sigmoid")
		})
	}
}

// TestSigmoidAccuracy backs the choice of cf's own sigmoid: it is at least
// as accurate as mat32.Sigmoid against a float64 reference.
func TestSigmoidAccuracy(t *testing.T) {
	worst := func(f func(float32) float32) float64 {
		w := 0.0
		for i := -20000; i <= 20000; i++ {
			x := float32(i) / 1000
			ref := 1 / (1 + math.Exp(-float64(x)))
			w = max(w, math.Abs(float64(f(x))-ref)/ref)
		}
		return w
	}
	own, m32 := worst(sigmoid), worst(mat32.Sigmoid)
	t.Logf("largest relative error on [-20, 20]: cf %.3g, mat32 %.3g", own, m32)
	if own > m32 {
		t.Fatalf("cf's sigmoid (%.3g) is less accurate than mat32's (%.3g)", own, m32)
	}
}

// BenchmarkCDUser times CD-1 for the cases of a MovieLens-shaped model
// (10 levels, 100 hidden units), per rating.
func BenchmarkCDUser(b *testing.B) {
	for _, itemBased := range []bool{false, true} {
		b.Run(fmt.Sprintf("item-based=%v", itemBased), func(b *testing.B) {
			train := Synthetic(SynthConfig{Users: 3000, Items: 1500, Ratings: 300000, Seed: 1})
			m, err := newModel(train, 100, itemBased, false, 0)
			if err != nil {
				b.Fatal(err)
			}
			K, F := m.K(), m.Hidden
			r := rand.New(rand.NewPCG(1, 1))
			m.W = make([]float32, len(m.Items)*K*F)
			for i := range m.W {
				m.W[i] = float32(0.01 * r.NormFloat64())
			}
			m.VisBias, m.HidBias = make([]float32, len(m.Items)*K), make([]float32, F)
			t := newTrainer(m, DefaultConfig())
			w := t.work[0]
			h0, hp := make([]float32, F), make([]float32, F)
			var probs []float32
			ratings := 0
			for b.Loop() {
				for u := range m.UserItems {
					n := len(m.UserItems[u])
					if cap(probs) < n*K {
						probs = make([]float32, n*K)
					}
					w.src.Seed(1, uint64(u))
					m.cdUser(w, u, 1, w.r, h0, hp, probs[:n*K])
					ratings += n
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ratings), "ns/rating")
		})
	}
}

// TestScale trains one epoch on synthetic ratings of the size CF_SCALE
// gives ("ratings,users,items,user|item", e.g. 25000000,162000,62000,item)
// and prints a SCALE line: generation, setup and epoch seconds, the CPU
// seconds of the process during training and its peak resident memory.
// scripts/cf_scale.sh runs it for each size and orientation in a process
// of its own. Without CF_SCALE it is skipped.
func TestScale(t *testing.T) {
	spec := os.Getenv("CF_SCALE")
	if spec == "" {
		t.Skip("set CF_SCALE=ratings,users,items,user|item (see scripts/cf_scale.sh)")
	}
	f := strings.Split(spec, ",")
	if len(f) != 4 || (f[3] != "user" && f[3] != "item") {
		t.Fatalf("CF_SCALE=%q: want ratings,users,items,user|item", spec)
	}
	var n [3]int
	for i := range n {
		v, err := strconv.Atoi(f[i])
		if err != nil {
			t.Fatalf("CF_SCALE=%q: %v", spec, err)
		}
		n[i] = v
	}
	start := time.Now()
	train := Synthetic(SynthConfig{Ratings: n[0], Users: n[1], Items: n[2], Seed: 1})
	gen := time.Since(start)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.ItemBased = 1, f[3] == "item"
	cpu0, start := cpuSeconds(), time.Now()
	var epoch EpochStats
	m, err := Train(context.Background(), train, cfg, func(_ *Model, st EpochStats) error {
		epoch = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total, cpu := time.Since(start), cpuSeconds()-cpu0
	fmt.Printf("SCALE ratings=%d users=%d items=%d based=%s visible=%d gen_s=%.1f setup_s=%.1f epoch_s=%.1f cpu_s=%.1f rss_mb=%d train_rmse=%.4f gomaxprocs=%d\n",
		n[0], n[1], n[2], f[3], len(m.Items), gen.Seconds(), (total - epoch.Duration).Seconds(), epoch.Duration.Seconds(), cpu, peakRSS()>>20, epoch.TrainRMSE, runtime.GOMAXPROCS(0))
}

// cpuSeconds is the user and system time of the process.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// peakRSS is the process's peak resident memory in bytes (VmHWM), or 0
// where /proc does not tell.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// The training error of large data is measured on whole cases drawn at
// random: at least the limit's ratings, each case once, in order, the
// same for a seed; with fewer ratings than the limit, on all of them.
func TestRMSESample(t *testing.T) {
	train := Synthetic(SynthConfig{Users: 2000, Items: 300, Ratings: 40000, Seed: 3})
	m, err := newModel(train, 4, false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := rmseSample(m.UserItems, 1, 40000); got != nil {
		t.Fatalf("40,000 ratings with a limit of 40,000: sampled %d cases", len(got))
	}
	a, b := rmseSample(m.UserItems, 1, 10000), rmseSample(m.UserItems, 1, 10000)
	if !slices.Equal(a, b) {
		t.Fatal("two samples for one seed")
	}
	if c := rmseSample(m.UserItems, 2, 10000); slices.Equal(a, c) {
		t.Fatal("the same sample for two seeds")
	}
	n := 0
	for i, u := range a {
		if i > 0 && u <= a[i-1] {
			t.Fatalf("cases not increasing: %d after %d", u, a[i-1])
		}
		n += len(m.UserItems[u])
	}
	if last := len(m.UserItems[a[len(a)-1]]); n < 10000 || len(a) == len(m.UserItems) {
		t.Fatalf("%d ratings in %d of %d cases (last %d)", n, len(a), len(m.UserItems), last)
	}
}
