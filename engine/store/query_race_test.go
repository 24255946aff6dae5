//go:build race

package store

// raceDetector: the race detector slows the embedded store about tenfold, so the randomized
// equivalence tests run fewer cases under it (make test) and all of them without it.
const raceDetector = true
