//go:build race

package cf

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = true
