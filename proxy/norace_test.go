//go:build !race

package proxy

// raceEnabled reports whether the test binary was built with the race detector.
const raceEnabled = false
