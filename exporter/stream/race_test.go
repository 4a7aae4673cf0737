//go:build race

package stream

// raceEnabled: the binary is built with -race. The crash test re-executes it as the
// exporter, and race-instrumented children are too slow for its kill cadence.
const raceEnabled = true
