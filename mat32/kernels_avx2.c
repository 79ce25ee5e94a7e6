//go:build cgo

// The AVX2 kernels (see kernels_simd.h).
#include "kernels.h"
#if HM_X86_SIMD
#define HM_ISA 2
#include "kernels_simd.h"
#endif
