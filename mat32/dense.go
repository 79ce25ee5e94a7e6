// Package mat32 provides the float32 dense matrices, matrix products and
// element-wise kernels (sigmoid, Bernoulli sampling) that harmonium's models
// are built on.
//
// Matrix products go to OpenBLAS when the binary is built with cgo and the
// library can be loaded at run time, and to a pure-Go implementation
// otherwise; see Backend. Element-wise kernels are spread over the cores and
// draw their random numbers from a counter-based generator (Philox-4x32-10),
// so results do not depend on how work is split between workers.
//
// The element-wise kernels (sigmoid, sampling, softplus sums, updates) exist
// as AVX-512 and AVX2 C code, portable C and Go, all computing the same
// numbers bit for bit; the fastest the CPU supports runs, and the
// environment variable HARMONIUM_KERNELS (avx512, avx2, scalar or go) picks
// another. See KernelPath and CPUFeatures.
package mat32

import "fmt"

// Dense is a row-major float32 matrix. Element (i, j) is Data[i*Cols+j].
type Dense struct {
	Rows, Cols int
	Data       []float32
}

// New returns a zeroed rows x cols matrix.
func New(rows, cols int) *Dense {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("mat32: negative dimension %dx%d", rows, cols))
	}
	return &Dense{Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
}

// FromSlice wraps data (len rows*cols, row-major) as a matrix without copying.
func FromSlice(rows, cols int, data []float32) *Dense {
	if len(data) != rows*cols {
		panic(fmt.Sprintf("mat32: %d values for a %dx%d matrix", len(data), rows, cols))
	}
	return &Dense{Rows: rows, Cols: cols, Data: data}
}

// At returns element (i, j).
func (m *Dense) At(i, j int) float32 { return m.Data[i*m.Cols+j] }

// Set sets element (i, j) to v.
func (m *Dense) Set(i, j int, v float32) { m.Data[i*m.Cols+j] = v }

// Row returns row i, sharing storage with m.
func (m *Dense) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Slice returns the matrix of rows [from, to) of m, sharing storage with m.
func (m *Dense) Slice(from, to int) *Dense {
	return &Dense{Rows: to - from, Cols: m.Cols, Data: m.Data[from*m.Cols : to*m.Cols]}
}

// Clone returns a copy of m.
func (m *Dense) Clone() *Dense {
	c := New(m.Rows, m.Cols)
	copy(c.Data, m.Data)
	return c
}

// Zero sets every element to 0.
func (m *Dense) Zero() { clear(m.Data) }

// SameShape reports whether m and o have the same dimensions.
func (m *Dense) SameShape(o *Dense) bool { return m.Rows == o.Rows && m.Cols == o.Cols }
