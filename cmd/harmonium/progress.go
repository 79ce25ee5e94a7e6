package main

import (
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// bar draws a progress bar with ETA on a terminal; elsewhere (a pipe, a
// log file) it prints a plain progress line when plainEvery has passed
// since the last line.
type bar struct {
	e     *env
	label string
	quiet bool
	start time.Time
	last  time.Time
	drawn bool
}

// plainEvery is how often progress is reported away from a terminal.
var plainEvery = 10 * time.Second

func newBar(e *env, label string, quiet bool) *bar {
	return &bar{e: e, label: label, quiet: quiet, start: time.Now()}
}

// update shows progress done/total with a note, at most ten times a second.
func (b *bar) update(done, total int, note string) {
	if b.quiet || total <= 0 {
		return
	}
	now := time.Now()
	if !b.e.isTerminal {
		if b.last.IsZero() {
			b.last = now
		}
		if now.Sub(b.last) >= plainEvery && done < total {
			b.last = now
			frac := float64(done) / float64(total)
			fmt.Fprintf(b.e.stderr, "%s: %.0f%% done, ETA %s %s\n", b.label, 100*frac, eta(now.Sub(b.start), done, total), note)
		}
		return
	}
	if now.Sub(b.last) < 100*time.Millisecond && done < total {
		return
	}
	b.last = now
	frac := float64(done) / float64(total)
	const width = 30
	fill := int(frac * width)
	fmt.Fprintf(b.e.stderr, "\r%s [%s%s] %3.0f%% ETA %s %s\x1b[K", b.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*frac, eta(now.Sub(b.start), done, total), note)
	b.drawn = true
}

// bytes shows download progress.
func (b *bar) bytes(file string, done, total int64) {
	if total <= 0 {
		total = done + 1
	}
	b.update(int(done>>10), int(total>>10), file)
}

// done clears the bar. Away from a terminal it restarts the clock of the
// plain lines, so that they appear only when work runs plainEvery past the
// last line printed (for example a long epoch between per-epoch lines).
func (b *bar) done() {
	if !b.e.isTerminal {
		b.last = time.Now()
	}
	if b.drawn {
		fmt.Fprint(b.e.stderr, "\r\x1b[K")
		b.drawn = false
	}
}

// eta estimates the time left after done of total steps took elapsed:
// "--:--" before the first step is done or when the estimate is beyond a
// Duration (it once printed the overflow, "ETA -153722867:-16").
func eta(elapsed time.Duration, done, total int) string {
	if done <= 0 {
		return "--:--"
	}
	left := float64(elapsed) * float64(total-done) / float64(done)
	if !(left < math.MaxInt64) {
		return "--:--"
	}
	return fmtDuration(time.Duration(left))
}

func fmtDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}
