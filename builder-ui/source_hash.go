package builderui

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// SourceHashFile is the file in dist/ that holds the hash of the sources dist was built from.
const SourceHashFile = ".source-hash"

// sourceRoots are what a build reads: a change to any of them changes dist.
var sourceRoots = []string{"src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts"}

// SourceHash is the SHA-256 of the app's sources under dir (the builder-ui folder): every file
// of sourceRoots in path order, each as its slash path, a NUL, its content and a NUL. Unit tests
// (*.test.ts) do not reach dist and are left out, so changing one needs no rebuild.
func SourceHash(dir string) (string, error) {
	fsys := os.DirFS(dir)
	var files []string
	for _, root := range sourceRoots {
		err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && !strings.HasSuffix(p, ".test.ts") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	slices.Sort(files)
	h := sha256.New()
	for _, p := range files {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return "", err
		}
		h.Write([]byte(path.Clean(p)))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
