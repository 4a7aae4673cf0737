//go:build race

package broker

// raceEnabled: the test binary is built with -race, which slows the broker down
// several times: timing bounds get more slack.
const raceEnabled = true
