//go:build cgo

// The AVX-512 kernels (see kernels_simd.h).
#include "kernels.h"
#if HM_X86_SIMD
#define HM_ISA 3
#include "kernels_simd.h"
#endif
