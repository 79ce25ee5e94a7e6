package mat32

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// kernelPath names an implementation of the element-wise kernels. All of
// them compute the same results bit for bit.
type kernelPath int32

const (
	pathGo     kernelPath = iota // the Go references (kernels_go.go)
	pathScalar                   // portable C (kernels.c)
	pathAVX2                     // C with AVX2 intrinsics (kernels_simd.h)
	pathAVX512                   // C with AVX-512F intrinsics
)

var pathNames = [...]string{pathGo: "go", pathScalar: "scalar", pathAVX2: "avx2", pathAVX512: "avx512"}

func (p kernelPath) String() string {
	if p >= 0 && int(p) < len(pathNames) {
		return pathNames[p]
	}
	return fmt.Sprintf("path(%d)", int(p))
}

func parsePath(s string) (kernelPath, bool) {
	for p, name := range pathNames {
		if s == name {
			return kernelPath(p), true
		}
	}
	return 0, false
}

var (
	// activePath is the path every kernel call uses: chosen once at start
	// up, changed only by tests.
	activePath atomic.Int32
	pathNote   string
)

func init() {
	p, note := choosePath(os.Getenv("HARMONIUM_KERNELS"), pathSupported)
	activePath.Store(int32(p))
	pathNote = note
	if note != "" {
		fmt.Fprintln(os.Stderr, "harmonium: "+note)
	}
}

func currentPath() kernelPath { return kernelPath(activePath.Load()) }

// pathSupported reports whether this binary and this CPU can run path p.
// The vector paths need the instruction set both as Go's CPUID probe sees it
// (which includes the operating system's support for the registers) and as
// the C compiler's run-time check does.
func pathSupported(p kernelPath) bool {
	switch p {
	case pathGo:
		return true
	case pathScalar:
		return cgoKernels && cPathOK(p)
	case pathAVX2:
		return cgoKernels && cpu.X86.HasAVX2 && cPathOK(p)
	case pathAVX512:
		return cgoKernels && cpu.X86.HasAVX512F && cPathOK(p)
	}
	return false
}

// bestPath is the fastest path at or below p that supported accepts.
func bestPath(p kernelPath, supported func(kernelPath) bool) kernelPath {
	for ; p > pathGo; p-- {
		if supported(p) {
			return p
		}
	}
	return pathGo
}

// choosePath returns the path for a HARMONIUM_KERNELS value ("" or "auto":
// the fastest the CPU supports) and, when the value cannot be followed, a
// note that says why and what is used instead. It returns only paths that
// supported (pathSupported, except in tests) accepts.
func choosePath(want string, supported func(kernelPath) bool) (kernelPath, string) {
	want = strings.ToLower(strings.TrimSpace(want))
	if want == "" || want == "auto" {
		return bestPath(pathAVX512, supported), ""
	}
	p, ok := parsePath(want)
	if !ok {
		b := bestPath(pathAVX512, supported)
		return b, fmt.Sprintf("HARMONIUM_KERNELS=%s is not auto, avx512, avx2, scalar or go; using %s kernels", want, b)
	}
	if supported(p) {
		return p, ""
	}
	why := "this CPU lacks " + map[kernelPath]string{pathAVX2: "AVX2", pathAVX512: "AVX-512F"}[p]
	if !cgoKernels {
		why = "this binary was built without cgo"
	} else if runtime.GOARCH != "amd64" {
		why = "only x86-64 has it"
	}
	b := bestPath(p-1, supported)
	return b, fmt.Sprintf("HARMONIUM_KERNELS=%s: %s; using %s kernels", want, why, b)
}

// setPath makes the kernels use path p (for tests and benchmarks) and
// returns a function that restores the previous path. It refuses paths that
// cannot run here.
func setPath(p kernelPath) (restore func(), err error) {
	if !pathSupported(p) {
		return nil, fmt.Errorf("kernel path %s cannot run here", p)
	}
	old := activePath.Swap(int32(p))
	return func() { activePath.Store(old) }, nil
}

// KernelPath names the implementation of the element-wise kernels in use:
// "avx512" or "avx2" (C with those instruction sets), "scalar" (portable C)
// or "go" (pure Go: builds without cgo, or HARMONIUM_KERNELS=go). By default
// it is the fastest the CPU supports; HARMONIUM_KERNELS (auto, avx512, avx2,
// scalar, go), read once at start-up, chooses another, and falls back to
// the best path below it when the CPU cannot run it (see KernelNote). All
// paths compute the same numbers.
func KernelPath() string { return currentPath().String() }

// KernelNote explains why HARMONIUM_KERNELS could not be followed ("" when
// it was, or was not set).
func KernelNote() string { return pathNote }

// CPUFeatures lists the instruction-set extensions detected (those usable:
// the operating system must also save the vector registers), for example
// "sse4.2 avx avx2 fma f16c bmi2 avx512f avx512dq ...".
func CPUFeatures() string {
	x := cpu.X86
	var fs []string
	for _, f := range []struct {
		has  bool
		name string
	}{
		{x.HasSSE2, "sse2"}, {x.HasSSE41, "sse4.1"}, {x.HasSSE42, "sse4.2"}, {x.HasPOPCNT, "popcnt"},
		{x.HasAVX, "avx"}, {x.HasAVX2, "avx2"}, {x.HasFMA, "fma"}, {x.HasF16C, "f16c"}, {x.HasBMI1, "bmi1"}, {x.HasBMI2, "bmi2"},
		{x.HasAVXVNNI, "avx-vnni"},
		{x.HasAVX512F, "avx512f"}, {x.HasAVX512DQ, "avx512dq"}, {x.HasAVX512CD, "avx512cd"}, {x.HasAVX512BW, "avx512bw"},
		{x.HasAVX512VL, "avx512vl"}, {x.HasAVX512IFMA, "avx512ifma"}, {x.HasAVX512VBMI, "avx512vbmi"}, {x.HasAVX512VBMI2, "avx512vbmi2"},
		{x.HasAVX512VNNI, "avx512vnni"}, {x.HasAVX512BF16, "avx512bf16"}, {x.HasAVX512BITALG, "avx512bitalg"},
		{x.HasAVX512VPOPCNTDQ, "avx512vpopcntdq"},
		{cpu.ARM64.HasASIMD, "asimd"}, {cpu.ARM64.HasSVE, "sve"}, {cpu.ARM64.HasSVE2, "sve2"},
	} {
		if f.has {
			fs = append(fs, f.name)
		}
	}
	if len(fs) == 0 {
		return "none detected (" + runtime.GOARCH + ")"
	}
	return strings.Join(fs, " ")
}
