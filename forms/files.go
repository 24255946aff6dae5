package forms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"tracecraft/engine"
)

// Uploaded files are kept in the store in chunks keyed by _id ("<file>#000003"), so a download
// is a few indexed lookups on either backend. (GridFS finds chunks by files_id, which the
// embedded store answers by scanning every chunk of every file.)
const (
	chunksCollection = "file_chunks"
	chunkSize        = 1 << 20
	// MaxUploadSize caps one uploaded file; fields set smaller limits of their own.
	MaxUploadSize = 50 << 20
)

// storedFile is a file's description as stored.
type storedFile struct {
	FileInfo `bson:",inline"`
	Chunks   int    `bson:"chunks"`
	SHA256   string `bson:"sha256"`
}

type fileChunk struct {
	Data []byte `bson:"data"`
}

// Upload stores a file for app's records and returns its description. The type is sniffed from
// the content, not taken from the client; a declared type is kept only when it agrees in kind
// (e.g. a declared image/webp that sniffs as image/webp).
func (s *Service) Upload(ctx context.Context, p *engine.Principal, app, name string, r io.Reader) (*FileInfo, error) {
	if !s.canSeeApp(ctx, p, app) {
		return nil, engine.ErrForbidden
	}
	name = cleanFileName(name)
	if name == "" {
		return nil, engine.Invalid("name", "required", nil)
	}
	id := newID(s.now())
	h := sha256.New()
	buf := make([]byte, chunkSize)
	var size int64
	var head []byte
	n := 0
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			if head == nil {
				head = append([]byte(nil), buf[:min(k, 512)]...)
			}
			size += int64(k)
			if size > MaxUploadSize {
				s.dropChunks(ctx, id, n)
				return nil, engine.Invalid("file", "file_too_large", map[string]any{"max": "50 MiB"})
			}
			h.Write(buf[:k])
			if err := s.st.Put(ctx, chunksCollection, chunkID(id, n), fileChunk{Data: append([]byte(nil), buf[:k]...)}); err != nil {
				s.dropChunks(ctx, id, n)
				return nil, fmt.Errorf("upload %s: %w", name, err)
			}
			n++
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			s.dropChunks(ctx, id, n)
			return nil, fmt.Errorf("upload %s: %w", name, err)
		}
	}
	if size == 0 {
		return nil, engine.Invalid("file", "required", nil)
	}
	typ := sniffType(head, name)
	f := storedFile{FileInfo: FileInfo{ID: id, App: app, Name: name, Size: size, Type: typ, UploadedBy: p.Username, UploadedAt: s.now().UTC()},
		Chunks: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	if err := s.st.Put(ctx, filesCollection, id, f); err != nil {
		s.dropChunks(ctx, id, n)
		return nil, fmt.Errorf("upload %s: %w", name, err)
	}
	s.audit(ctx, p, "file.upload", "file", app+"/"+id, nil, map[string]any{"name": name, "size": size, "type": typ, "sha256": f.SHA256})
	return &f.FileInfo, nil
}

func chunkID(id string, n int) string { return fmt.Sprintf("%s#%06d", id, n) }

func (s *Service) dropChunks(ctx context.Context, id string, n int) {
	for i := 0; i < n; i++ {
		_ = s.st.Delete(ctx, chunksCollection, chunkID(id, i))
	}
}

// Download writes a file's content to w if the caller may download it (see OpenFile).
func (s *Service) Download(ctx context.Context, p *engine.Principal, app, id string, w io.Writer) (*FileInfo, error) {
	fi, r, err := s.OpenFile(ctx, p, app, id)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if _, err := io.Copy(w, r); err != nil {
		return nil, err
	}
	return fi, nil
}

// OpenFile checks the caller may download file id of app — they uploaded it, or they may read
// a record that shows it in a visible field — and returns its description and a reader of its
// content that reads one chunk at a time, so a download never holds the whole file. Anything
// else is ErrNotFound. The reader uses ctx: it must live as long as the reading does.
func (s *Service) OpenFile(ctx context.Context, p *engine.Principal, app, id string) (*FileInfo, io.ReadCloser, error) {
	f, err := s.authorizeFile(ctx, p, app, id)
	if err != nil {
		return nil, nil, err
	}
	return &f.FileInfo, &chunkReader{ctx: ctx, s: s, f: f}, nil
}

// FileInfo reads a file's description (for headers before the content is written), on the same
// terms as OpenFile.
func (s *Service) FileInfo(ctx context.Context, p *engine.Principal, app, id string) (*FileInfo, error) {
	f, err := s.authorizeFile(ctx, p, app, id)
	if err != nil {
		return nil, err
	}
	return &f.FileInfo, nil
}

// chunkReader reads a stored file chunk by chunk (each one lookup by _id).
type chunkReader struct {
	ctx  context.Context
	s    *Service
	f    *storedFile
	next int    // the chunk to read when buf is empty
	buf  []byte // what is left of the chunk read last
}

func (r *chunkReader) Read(b []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next >= r.f.Chunks {
			return 0, io.EOF
		}
		var c fileChunk
		if err := r.s.st.Get(r.ctx, chunksCollection, chunkID(r.f.ID, r.next), &c); err != nil {
			return 0, fmt.Errorf("file %s chunk %d: %w", r.f.ID, r.next, err)
		}
		r.buf, r.next = c.Data, r.next+1
	}
	n := copy(b, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Close lets go of the chunk in hand.
func (r *chunkReader) Close() error {
	r.buf, r.next = nil, r.f.Chunks
	return nil
}

// sniffType decides a file's MIME type from its first bytes; for content the sniffer only
// calls text or binary, the name's extension may refine it to a type of the same family.
func sniffType(head []byte, name string) string {
	sniffed := http.DetectContentType(head)
	base, _, _ := mime.ParseMediaType(sniffed)
	if base == "application/octet-stream" || base == "text/plain" {
		if byExt := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); byExt != "" {
			eb, _, _ := mime.ParseMediaType(byExt)
			// Never let an extension turn bytes into something a browser would run.
			if !strings.Contains(eb, "html") && !strings.Contains(eb, "javascript") && !strings.Contains(eb, "svg") &&
				(base == "application/octet-stream" && !strings.HasPrefix(eb, "text/") || base == "text/plain" && strings.HasPrefix(eb, "text/")) {
				return eb
			}
		}
	}
	if strings.Contains(base, "html") || strings.Contains(base, "xml") {
		return "text/plain" // stored files are never served as markup
	}
	return base
}

// cleanFileName keeps the last path element, drops control characters and caps the length.
func cleanFileName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" {
		return ""
	}
	var b strings.Builder
	for _, r := range name {
		if r >= 0x20 && r != 0x7f && r != utf8.RuneError {
			b.WriteRune(r)
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > 200 {
		out = out[:200]
		for !utf8.ValidString(out) {
			out = out[:len(out)-1]
		}
	}
	return out
}
