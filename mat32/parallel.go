package mat32

import (
	"runtime"
	"sync"
)

// Work is split between the calling goroutine and long-lived helper
// goroutines, one per extra core, that wait on channels. The work itself is
// a pooled job value, so that splitting a product or a kernel allocates
// nothing in the training loop. (Helpers that spin instead of waiting were
// measured slower here: spinning takes cycles from the other core's product.)

// splitter is work divided into parts: run(p, parts) does part p.
type splitter interface{ run(part, parts int) }

type call struct {
	s           splitter
	part, parts int
	wg          *sync.WaitGroup
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
				for c := range ch {
					c.s.run(c.part, c.parts)
					c.wg.Done()
				}
			}()
		}
	})
}

// split runs s in parts, part 0 on the calling goroutine, and returns when
// every part has finished. wg must be idle; it is reused between calls.
func split(parts int, s splitter, wg *sync.WaitGroup) {
	startHelpers()
	for p := 1; p < parts; p++ {
		if p-1 < len(helpers) {
			wg.Add(1)
			helpers[p-1] <- call{s, p, parts, wg}
		}
	}
	s.run(0, parts)
	for p := len(helpers) + 1; p < parts; p++ {
		s.run(p, parts)
	}
	wg.Wait()
}

// funcJob adapts a row-range function to a splitter.
type funcJob struct {
	rows int
	f    func(r0, r1 int)
	wg   sync.WaitGroup
}

func (j *funcJob) run(p, parts int) { j.f(j.rows*p/parts, j.rows*(p+1)/parts) }
