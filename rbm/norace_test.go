//go:build !race

package rbm

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = false
