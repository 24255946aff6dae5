//go:build race

package printing

// raceOn: the race detector is on; tests keep their data small (the embedded store is ~10×
// slower under it).
const raceOn = true
