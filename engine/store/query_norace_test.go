//go:build !race

package store

// raceDetector: see query_race_test.go.
const raceDetector = false
