// Package builderui holds Tracecraft's web app, built by Vite from src/ into dist/ (`make ui`)
// and embedded here, so that `go build` and `go run` need no Node. The api package serves it
// at / (api.Options.UI).
package builderui

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist is the built app: index.html at its root, hashed bundles under assets/.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: fs.Sub cannot fail on it
	}
	return sub
}
