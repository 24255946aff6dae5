//go:build !race

package printing

const raceOn = false
