package mat32

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Work is split between the calling goroutine and long-lived helper
// goroutines, one per extra core, that wait on channels. The work itself is
// a pooled job value, so that splitting a product or a kernel allocates
// nothing in the training loop.
//
// A helper that has finished a part polls for the next one for up to
// spinFor before it sleeps, and the caller polls for its helpers as long
// before it sleeps: the parts of a training step follow one another within
// microseconds, while waking a sleeping thread takes microseconds on an
// idle machine and up to milliseconds on a busy one. (Measured on 2 shared
// cores: the sigmoid-and-sample kernel over 100 x 500 ran 1.6-1.9 times as
// fast, a CD-1 epoch 10-30% faster. Helpers that spin without limit were
// measured slower: they take cycles from the other core's work.)
const spinFor = 100 * time.Microsecond

// splitter is work divided into parts: run(p, parts) does part p.
type splitter interface{ run(part, parts int) }

// splitSync tracks the parts of a split that helpers are doing; a job keeps
// one and reuses it between splits.
type splitSync struct {
	wg      sync.WaitGroup
	pending atomic.Int32
	next    atomic.Int32 // the next part to claim
}

type call struct {
	s     splitter
	parts int
	sy    *splitSync
}

// claim runs the parts of a split that are still unclaimed, one at a
// time, until none is left. Every worker of a split claims parts, so a
// worker that the machine's other work slows down does fewer of them.
func (c call) claim() {
	for {
		p := int(c.sy.next.Add(1) - 1)
		if p >= c.parts {
			return
		}
		c.s.run(p, c.parts)
	}
}

var (
	helpersOnce sync.Once
	helpers     []chan call
)

func startHelpers() {
	helpersOnce.Do(func() {
		helpers = make([]chan call, runtime.GOMAXPROCS(0)-1)
		for i := range helpers {
			ch := make(chan call, 1)
			helpers[i] = ch
			go func() {
				for {
					c, ok := poll(ch)
					if !ok {
						c = <-ch
					}
					c.claim()
					c.sy.pending.Add(-1)
					c.sy.wg.Done()
				}
			}()
		}
	})
}

// poll waits up to spinFor for a call on ch without sleeping.
func poll(ch chan call) (call, bool) {
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case c := <-ch:
			return c, true
		default:
		}
		if i%64 == 0 {
			if time.Since(start) > spinFor {
				return call{}, false
			}
			runtime.Gosched()
		}
	}
}

// helpersBusy is set while a split has the helpers. A split started while
// another has them (from one of its parts, as when a ParallelRows function
// calls AdamStep, or from another goroutine) runs all its parts on the
// calling goroutine: the helpers may be running, or waiting for, the parts
// of the first split, and waiting for them would deadlock.
var helpersBusy atomic.Bool

// split runs s in parts on the calling goroutine and the helpers, each
// claiming the parts left, and returns when every part has finished. sy
// must be idle; it is reused between calls.
func split(parts int, s splitter, sy *splitSync) {
	if !helpersBusy.CompareAndSwap(false, true) {
		for p := 0; p < parts; p++ {
			s.run(p, parts)
		}
		return
	}
	defer helpersBusy.Store(false)
	startHelpers()
	sy.next.Store(0)
	c := call{s, parts, sy}
	for h := range min(len(helpers), parts-1) {
		sy.wg.Add(1)
		sy.pending.Add(1)
		helpers[h] <- c
	}
	c.claim()
	if sy.pending.Load() != 0 {
		start := time.Now()
		for i := 1; sy.pending.Load() != 0; i++ {
			if i%64 == 0 {
				if time.Since(start) > spinFor {
					break
				}
				runtime.Gosched()
			}
		}
	}
	sy.wg.Wait()
}

// funcJob adapts a row-range function to a splitter.
type funcJob struct {
	rows int
	f    func(r0, r1 int)
	sy   splitSync
}

func (j *funcJob) run(p, parts int) { j.f(j.rows*p/parts, j.rows*(p+1)/parts) }
