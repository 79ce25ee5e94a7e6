package modelfile

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// checker fetches tensors and metadata of a model file for a loader,
// checking them; its errors are one line, "read PATH: ...".
type checker struct {
	path string
	f    *File
}

func (c checker) errorf(format string, a ...any) error {
	return fmt.Errorf("read %s: "+format, append([]any{c.path}, a...)...)
}

// tensor returns the F32 tensor name, which must have the given rank and
// hold only finite values.
func (c checker) tensor(name string, rank int) (Tensor, error) {
	t, ok := c.f.Tensors[name]
	if !ok {
		return Tensor{}, c.errorf("tensor %s missing", name)
	}
	if t.DType() != "F32" {
		return Tensor{}, c.errorf("tensor %s has dtype %s, want F32", name, t.DType())
	}
	if len(t.Shape) != rank {
		return Tensor{}, c.errorf("tensor %s has shape %v, want %d dimensions", name, t.Shape, rank)
	}
	if err := c.finite(t); err != nil {
		return Tensor{}, err
	}
	return t, nil
}

// floats returns the values of the F32 tensor name, which must have the
// given shape and hold only finite values.
func (c checker) floats(name string, shape ...int) ([]float32, error) {
	t, err := c.tensor(name, len(shape))
	if err != nil {
		return nil, err
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, c.errorf("tensor %s has shape %v, want %v", name, t.Shape, shape)
	}
	return t.Data, nil
}

// finite fails on the first NaN or Inf of an F32 tensor.
func (c checker) finite(t Tensor) error {
	for i, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return c.errorf("tensor %s holds %v at index %d; model parameters must be finite", t.Name, v, i)
		}
	}
	return nil
}

// metaInt parses the metadata value key as an integer in [lo, hi]; ok is
// false when the key is absent.
func (c checker) metaInt(key string, lo, hi int) (n int, ok bool, err error) {
	s, ok := c.f.Meta[key]
	if !ok {
		return 0, false, nil
	}
	n, err = strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, true, c.errorf("metadata %s %q is not a whole number in [%d, %d]", key, s, lo, hi)
	}
	return n, true, nil
}

// metaFloat parses the metadata value key as a finite number.
func (c checker) metaFloat(key string) (float64, error) {
	s := c.f.Meta[key]
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, c.errorf("metadata %s %q is not a finite number", key, s)
	}
	return x, nil
}

// metaBool parses the metadata value key as true or false (false when
// absent).
func (c checker) metaBool(key string) (bool, error) {
	s, ok := c.f.Meta[key]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, c.errorf("metadata %s %q is not true or false", key, s)
	}
	return b, nil
}
