//go:build race

package nn

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = true
