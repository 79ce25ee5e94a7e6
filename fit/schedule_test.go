package fit

import (
	"math"
	"testing"
)

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		s     Schedule
		epoch int
		want  float64
	}{
		{nil, 7, 2}, {Constant{}, 7, 2}, {StepDecay{Every: 3, Gamma: 0.5}, 2, 2}, {StepDecay{Every: 3, Gamma: 0.5}, 3, 1},
		{StepDecay{Every: 3, Gamma: 0.5}, 7, 0.5}, {ExpDecay{Gamma: 0.9}, 2, 1.62}, {ExpDecay{Gamma: 0.9}, 0, 2},
		{InverseDecay{Decay: 0.5}, 0, 2}, {InverseDecay{Decay: 0.5}, 2, 1}, {InverseDecay{Decay: 0.5}, 6, 0.5},
	} {
		if got := Rate(c.s, 2, c.epoch); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%#v at epoch %d from 2: %v, want %v", c.s, c.epoch, got, c.want)
		}
	}
}

func TestMomentum(t *testing.T) {
	m := Momentum{Initial: 0.5, Final: 0.9, Warmup: 5}
	for e, want := range map[int]float64{0: 0.5, 4: 0.5, 5: 0.9, 50: 0.9} {
		if got := m.At(e); got != want {
			t.Errorf("epoch %d: momentum %v, want %v", e, got, want)
		}
	}
	if got := (Momentum{Initial: 0.5, Final: 0.2, Warmup: 5}).At(0); got != 0.2 {
		t.Errorf("initial momentum above the final one: %v, want it capped at 0.2", got)
	}
}
