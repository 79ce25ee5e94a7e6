package mat32

import (
	"os"
	"strings"
	"sync/atomic"
)

// gemmStrategy is how a native (OpenBLAS) backend spreads a large product
// over the cores.
type gemmStrategy int32

const (
	// gemmSplit: Gemm cuts each large product into gemmParts parts along
	// its larger output dimension, at multiples of blockAlign, and the
	// workers claim them, each part one single-threaded BLAS call;
	// MulSigmoid and GradientStep then apply their kernels to each part
	// while it is in that core's cache. Results do not depend on the
	// number of workers.
	gemmSplit gemmStrategy = iota
	// gemmBLAS: one call, threaded by OpenBLAS itself (Workers() threads);
	// with OpenBLAS's AVX2 kernels, results depend on the thread count.
	gemmBLAS
	// gemmSingle: one call on one thread.
	gemmSingle
)

var strategyNames = [...]string{gemmSplit: "split", gemmBLAS: "openblas-threads", gemmSingle: "single"}

func (s gemmStrategy) String() string { return strategyNames[s] }

var (
	gemmMode     atomic.Int32
	blockAlign   atomic.Int32
	strategyNote string
)

func init() { blockAlign.Store(16) }

// initStrategy sets the strategy of a newly loaded backend: HARMONIUM_GEMM
// (split, openblas or single) when set, else split, the fastest measured on
// 2 cores with both OpenBLAS's AVX-512 (SkylakeX) and AVX2 (Haswell) kernels
// for the products of CD-1 and AIS (see BenchmarkGemmStrategies). The
// choice is made once: products split differently differ in their last
// bits, and the same seed must give the same model.
func initStrategy(be backend) {
	ts, ok := be.(threadSetter)
	if !ok {
		return
	}
	s := gemmSplit
	if v := os.Getenv("HARMONIUM_GEMM"); v != "" {
		if p, ok := parseStrategy(v); ok {
			s = p
		} else {
			strategyNote = "HARMONIUM_GEMM=" + v + " is not split, openblas or single; using split"
		}
	}
	if s == gemmBLAS && !ts.setThreads(Workers()) {
		s, strategyNote = gemmSplit, "this BLAS library's threads cannot be set; using split"
	}
	gemmMode.Store(int32(s))
}

// setGemmStrategy makes the native backend use s (align: the split's block
// size) and returns a function that restores the previous strategy. It
// reports false when the backend cannot (no native backend, or one whose
// threads cannot be set).
func setGemmStrategy(s gemmStrategy, align int) (restore func(), ok bool) {
	be, native := current().(threadSetter)
	if !native {
		return nil, false
	}
	threads := 1
	if s == gemmBLAS {
		threads = Workers()
	}
	if !be.setThreads(threads) {
		return nil, false
	}
	old, oldAlign := gemmStrategy(gemmMode.Swap(int32(s))), blockAlign.Swap(int32(align))
	return func() {
		oldThreads := 1
		if old == gemmBLAS {
			oldThreads = Workers()
		}
		be.setThreads(oldThreads)
		gemmMode.Store(int32(old))
		blockAlign.Store(oldAlign)
	}, true
}

// threadSetter is a backend whose own threading can be set.
type threadSetter interface {
	setThreads(n int) bool
}

// parseStrategy reads a HARMONIUM_GEMM value.
func parseStrategy(v string) (gemmStrategy, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	for i, name := range strategyNames {
		if v == name || (v == "openblas" && gemmStrategy(i) == gemmBLAS) {
			return gemmStrategy(i), true
		}
	}
	return 0, false
}

// GemmStrategy describes how large products are spread over the cores: see
// Backend.
func GemmStrategy() string {
	if _, ok := current().(threadSetter); !ok {
		return ""
	}
	return gemmStrategy(gemmMode.Load()).String()
}
