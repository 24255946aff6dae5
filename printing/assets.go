package printing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Template assets: an image element whose source is a file id (a logo the designer uploaded)
// belongs to the template, not to the person who prints it. When a draft is saved, each such
// file is read as the designer (who must be allowed to download it) and a copy is kept in
// print_assets under app/file; prints read that copy as the template itself, so an operator
// who may not download the designer's upload still prints the logo. An image placeholder
// ({{photo}}) stays a record's file, read as the printing principal.

const (
	assetsCollection = "print_assets" // _id app/file: a template image's bytes
	// maxAssetBytes is the largest file a template may carry as an image (the pixel budget,
	// MaxImagePixels, applies too).
	maxAssetBytes = 8 << 20
)

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"print_image":        {ZH: "图片无法打印：{detail}", EN: "the image cannot be printed: {detail}"},
		"print_image_access": {ZH: "无法读取该图片文件（文件不存在或您无权下载）：{value}", EN: "the image file cannot be read (it does not exist or you may not download it): {value}"},
	})
}

// assetDoc is a template image kept with the app's templates.
type assetDoc struct {
	ID     string    `bson:"_id"`
	App    string    `bson:"app"`
	File   string    `bson:"file"`
	Data   []byte    `bson:"data"`
	SHA256 string    `bson:"sha256"`
	By     string    `bson:"by"`
	At     time.Time `bson:"at"`
}

func assetID(app, file string) string { return app + "/" + file }

// staticImage reports whether an image element's source is a file id (the template's asset).
func staticImage(el *Element) bool {
	return el.Type == ElImage && strings.TrimSpace(el.Src) != "" && !strings.Contains(el.Src, "{{")
}

// captureAssets reads each file-id image of def as p and keeps it as the template's asset. A
// file p may not download, or one that is not an image within the limits, is a field error
// at the element's src.
func (e *Engine) captureAssets(ctx context.Context, p *engine.Principal, app string, def *Definition) error {
	if e.opts.ReadFile == nil {
		return nil
	}
	var fe engine.FieldErrors
	for i := range def.Elements {
		el := &def.Elements[i]
		if !staticImage(el) {
			continue
		}
		path := "/elements/" + strconv.Itoa(i) + "/src"
		data, err := e.opts.ReadFile(ctx, p, app, el.Src)
		switch {
		case errors.Is(err, engine.ErrNotFound) || errors.Is(err, engine.ErrForbidden):
			fe.Add(path, "print_image_access", map[string]any{"value": el.Src})
			continue
		case err != nil:
			return fmt.Errorf("template image %s: %w", el.Src, err)
		case len(data) > maxAssetBytes:
			fe.Add(path, "print_image", map[string]any{"detail": fmt.Sprintf("%d bytes, at most %d", len(data), maxAssetBytes)})
			continue
		}
		if _, _, err := decodeImage(data); err != nil {
			fe.Add(path, "print_image", map[string]any{"detail": err.Error()})
			continue
		}
		sum := sha256.Sum256(data)
		doc := assetDoc{ID: assetID(app, el.Src), App: app, File: el.Src, Data: data, SHA256: hex.EncodeToString(sum[:]),
			By: actorOf(p), At: e.now().UTC()}
		var old assetDoc
		if err := e.st.Get(ctx, assetsCollection, doc.ID, &old); err == nil && old.SHA256 == doc.SHA256 {
			continue
		}
		// One copy per app and file, whichever template saved it last: a file's bytes do not
		// change under its id.
		if err := e.st.Set(ctx, assetsCollection, doc.ID, doc); err != nil {
			return fmt.Errorf("template image %s: %w", el.Src, err)
		}
	}
	return fe.Err()
}

// readAsset reads a template image as the template: its kept copy. A template saved before
// images were kept has none: then the file is read as p, as it used to be.
func (e *Engine) readAsset(ctx context.Context, p *engine.Principal, app, file string) ([]byte, error) {
	var doc assetDoc
	err := e.st.Get(ctx, assetsCollection, assetID(app, file), &doc)
	switch {
	case err == nil:
		return doc.Data, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("template image %s: %w", file, err)
	case e.opts.ReadFile == nil:
		return nil, fmt.Errorf("template image %s: %w", file, engine.ErrNotFound)
	}
	return e.opts.ReadFile(ctx, p, app, file)
}
