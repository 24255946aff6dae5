package forms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// A file is authorised through the records that reference it: whoever may read a record whose
// visible field holds the file's id may download it, and so may its uploader and an approver
// whose actionable task shows that field (engine.TaskGrants). Which records
// those are is kept per file as references, each a document of its own keyed by _id
// ("<file>@0001", "<file>@0002", …) and claimed by a unique insert before the record that
// holds the id is written. A reference is a claim, not a proof: it is checked against the
// record it names whenever it is used, so a write that failed after its claim, an id removed
// from a record later and a record taken back by a failed import grant nothing. A file no
// record references any more, and an upload nobody attached, is an orphan: CollectFiles
// deletes it once it has been one for FileOrphanAfter.
const (
	fileRefsCollection = "file_refs"
	// maxFileRefs caps the records (and fields) one file may be attached to.
	maxFileRefs = 200
	// FileOrphanAfter is how long an upload may stay unattached, and a new reference stands
	// before it is checked against its record, before the file is collected.
	FileOrphanAfter = 24 * time.Hour
	// FileCollectJob names the scheduled job that deletes orphaned files.
	FileCollectJob = "forms.files.collect"
	// fileCollectSpec runs it daily at 03:40, when plants are quiet.
	fileCollectSpec = "0 40 3 * * *"
)

// fileRef is one place that holds a file: a field of a record (Field is a dotted path for a
// sub-table column: "lines.photo"), or with Field empty the record's flow timeline (comments
// and signatures, which engines bind through engine.Records.AttachFiles).
type fileRef struct {
	File   string    `bson:"file"`
	App    string    `bson:"app"`
	Form   string    `bson:"form"`
	Record string    `bson:"record"`
	Field  string    `bson:"field"`
	At     time.Time `bson:"at"` // claimed or last claimed again
}

func fileRefID(file string, n int) string { return fmt.Sprintf("%s@%04d", file, n) }

// fileUse is a file id at a place in a record's data.
type fileUse struct {
	ID   string
	Path string // the field: "photo", "lines.photo"
	At   string // where an error about it goes: "photo.0", "lines.2.photo.0", "signature"
}

// isFileField tells whether a field's value holds uploaded files' ids.
func isFileField(f *Field) bool {
	return f.Type == FieldTypeAttachment || f.Type == FieldTypeImage || f.Type == FieldTypeSignature
}

// fileUses lists the files that data holds in file fields, sub-table columns included.
func fileUses(fields []*Field, data Values) []fileUse {
	var out []fileUse
	for _, f := range fields {
		v, ok := data[f.Key]
		if !ok || v == nil {
			continue
		}
		v = plain(v)
		switch {
		case isFileField(f):
			for i, id := range refsOf(v) {
				at := f.Key
				if !fileLimitsOf(f).single {
					at += "." + strconv.Itoa(i)
				}
				out = append(out, fileUse{ID: id, Path: f.Key, At: at})
			}
		case f.Type == FieldTypeSubtable:
			rows, _ := v.([]any)
			for i, r := range rows {
				row, ok := r.(map[string]any)
				if !ok {
					continue
				}
				for _, u := range fileUses(f.Fields, row) {
					u.Path = f.Key + "." + u.Path
					u.At = f.Key + "." + strconv.Itoa(i) + "." + u.At
					out = append(out, u)
				}
			}
		}
	}
	return out
}

// holds tells whether data holds file id at path (a field or "subtable.column").
func holds(data Values, path, id string) bool {
	key, col, sub := strings.Cut(path, ".")
	v := plain(data[key])
	if !sub {
		for _, x := range refsOf(v) {
			if x == id {
				return true
			}
		}
		return false
	}
	rows, _ := v.([]any)
	for _, r := range rows {
		if row, ok := r.(map[string]any); ok && holds(row, col, id) {
			return true
		}
	}
	return false
}

// newFileUses lists the uses in data that base (the record before the write) does not have.
func newFileUses(fields []*Field, base, data Values) []fileUse {
	had := map[string]bool{}
	for _, u := range fileUses(fields, base) {
		had[u.ID+"\x00"+u.Path] = true
	}
	var out []fileUse
	for _, u := range fileUses(fields, data) {
		if !had[u.ID+"\x00"+u.Path] {
			had[u.ID+"\x00"+u.Path] = true
			out = append(out, u)
		}
	}
	return out
}

// checkAttachable refuses files that data adds to the record (those base does not hold) and
// that the writer may not download: another user's upload that no record they can read shows.
// The answer is not_found, as for an id that does not exist, so ids cannot be probed; it is
// given at the place the field type's own check would report, which then stays silent.
func (s *Service) checkAttachable(vc *ValueContext, p *engine.Principal, c *Compiled, base, data Values, fe *engine.FieldErrors) error {
	if p == nil {
		return nil
	}
	had := map[string]bool{}
	for _, u := range fileUses(c.Fields, base) {
		had[u.ID] = true
	}
	for _, u := range fileUses(c.Fields, data) {
		if had[u.ID] {
			continue // the record holds it already
		}
		_, err := s.authorizeFile(vc.Ctx, p, c.App, u.ID)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			fe.Add(u.At, "not_found", map[string]any{"value": u.ID})
		case err != nil:
			return fmt.Errorf("check file %s: %w", u.ID, err)
		}
	}
	return nil
}

// bindFiles claims the references of uses to record (app, form, id) before the record is
// written: a file cannot then be collected between the write and its reference. A file being
// collected (or gone) is not_found at the use's place.
func (s *Service) bindFiles(ctx context.Context, app, form, id string, uses []fileUse) error {
	for _, u := range uses {
		err := s.bindFile(ctx, fileRef{File: u.ID, App: app, Form: form, Record: id, Field: u.Path})
		if errors.Is(err, errFileGone) {
			return engine.Invalid(u.At, "not_found", map[string]any{"value": u.ID})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errFileGone: the file a reference was claimed for is being collected, or is gone.
var errFileGone = errors.New("file is collected")

// bindFile adds ref to its file's references, or claims again the reference it has (a later
// time keeps the file for another FileOrphanAfter while the record is written). Then it reads
// the file again: a collector that marked it (claimCollect) before the claim was made may not
// have seen the claim, so the binding fails with errFileGone (and takes its new reference
// back); one that marks it after the claim sees the claim and lets the file be.
func (s *Service) bindFile(ctx context.Context, ref fileRef) error {
	ref.At = s.now().UTC().Truncate(time.Millisecond)
	claimed := 0 // the reference this call inserted
	for n := 1; n <= maxFileRefs && claimed == 0; n++ {
		var cur fileRef
		err := s.st.Get(ctx, fileRefsCollection, fileRefID(ref.File, n), &cur)
		switch {
		case err == nil:
			if cur.App == ref.App && cur.Form == ref.Form && cur.Record == ref.Record && cur.Field == ref.Field {
				if err := s.st.Set(ctx, fileRefsCollection, fileRefID(ref.File, n), ref); err != nil {
					return fmt.Errorf("bind file %s: %w", ref.File, err)
				}
				return s.fileStays(ctx, ref.File, 0)
			}
			continue
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("bind file %s: %w", ref.File, err)
		}
		err = s.st.Put(ctx, fileRefsCollection, fileRefID(ref.File, n), ref)
		if errors.Is(err, store.ErrDuplicate) {
			n-- // claimed meanwhile: look at it again
			continue
		}
		if err != nil {
			return fmt.Errorf("bind file %s: %w", ref.File, err)
		}
		claimed = n
	}
	if claimed == 0 {
		return engine.Invalid("", "file_refs_limit", map[string]any{"max": maxFileRefs})
	}
	return s.fileStays(ctx, ref.File, claimed)
}

// fileStays checks, after a reference was claimed, that file is neither marked for collection
// nor gone; if it is, the reference this binding inserted (claimed > 0) is taken back.
func (s *Service) fileStays(ctx context.Context, file string, claimed int) error {
	var mark collectMark
	err := s.st.Get(ctx, fileRefsCollection, collectMarkID(file), &mark)
	if err == nil {
		err = errFileGone
	} else if errors.Is(err, store.ErrNotFound) {
		var f storedFile
		if err = s.st.Get(ctx, filesCollection, file, &f); errors.Is(err, store.ErrNotFound) {
			err = errFileGone
		}
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, errFileGone) && claimed > 0 {
		_ = s.st.Delete(ctx, fileRefsCollection, fileRefID(file, claimed))
	}
	return fmt.Errorf("bind file %s: %w", file, err)
}

// fileRefs walks a file's references in the order they were claimed; fn returning false stops.
func (s *Service) fileRefs(ctx context.Context, file string, fn func(n int, r fileRef) (bool, error)) error {
	for n := 1; n <= maxFileRefs; n++ {
		var r fileRef
		err := s.st.Get(ctx, fileRefsCollection, fileRefID(file, n), &r)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("references of file %s: %w", file, err)
		}
		more, err := fn(n, r)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// authorizeFile reads the description of file id of app if p may download it: p uploaded it,
// or p may read a record that shows it in a visible field (or on its flow timeline), or an
// actionable task of p's on the record's flow shows that field (or the timeline; taskShows).
// Anything else is ErrNotFound, so file ids cannot be probed.
func (s *Service) authorizeFile(ctx context.Context, p *engine.Principal, app, id string) (*storedFile, error) {
	notFound := fmt.Errorf("file %s: %w", id, engine.ErrNotFound)
	if p == nil || !s.canSeeApp(ctx, p, app) {
		return nil, notFound
	}
	var f storedFile
	if err := s.st.Get(ctx, filesCollection, id, &f); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound
		}
		return nil, err
	}
	if f.App != app {
		return nil, notFound
	}
	if f.UploadedBy == p.Username {
		return &f, nil
	}
	granted := false
	err := s.fileRefs(ctx, id, func(_ int, r fileRef) (bool, error) {
		if r.App != app {
			return true, nil
		}
		d, _, acc, err := s.readable(ctx, p, app, r.Form, r.Record, true)
		switch {
		case errors.Is(err, engine.ErrNotFound) || errors.Is(err, engine.ErrForbidden) || engine.IsConflict(err):
			// Not a reader of this record: an open task of p's may show the field.
			granted, err = s.taskShows(ctx, p, r)
			return !granted, err
		case err != nil:
			return false, err
		}
		granted = r.Field == "" || holds(acc.visible(ctx, d, d.record().Data), r.Field, id)
		return !granted, nil
	})
	if err != nil {
		return nil, err
	}
	if !granted {
		return nil, notFound
	}
	return &f, nil
}

// taskShows tells whether an actionable task of p's on a flow instance of r's record shows the
// file r places there (engine.TaskGrants): the field holding it is one the task's node shows
// p within the form's field rules, and the record holds the file there now; a file on the
// flow timeline is shown to whoever holds such a task.
func (s *Service) taskShows(ctx context.Context, p *engine.Principal, r fileRef) (bool, error) {
	if s.k.Grants == nil {
		return false, nil
	}
	fields, open, err := s.k.Grants.TaskFields(ctx, p, r.App, r.Form, r.Record)
	if err != nil || !open {
		return false, err
	}
	if r.Field == "" {
		return true, nil
	}
	top, _, _ := strings.Cut(r.Field, ".")
	if !slices.Contains(fields, top) {
		return false, nil
	}
	var d recordDoc
	err = s.st.Get(ctx, RecordsCollection(r.App, r.Form), r.Record, &d)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return d.Deleted == nil && holds(plainMap(d.Data), r.Field, r.File), nil
}

// attachToFlow binds files to a record's flow timeline (engine.Records.AttachFiles): each must
// be one p may download (their own upload, or one a record they can read shows).
func (s *Service) attachToFlow(ctx context.Context, p *engine.Principal, app, form, record string, ids []string) error {
	var fe engine.FieldErrors
	for i, id := range ids {
		if _, err := s.authorizeFile(ctx, p, app, id); err != nil {
			if !errors.Is(err, engine.ErrNotFound) {
				return err
			}
			fe.Add(strconv.Itoa(i), "not_found", map[string]any{"value": id})
		}
	}
	if err := fe.Err(); err != nil {
		return err
	}
	for i, id := range ids {
		err := s.bindFile(ctx, fileRef{File: id, App: app, Form: form, Record: record})
		if errors.Is(err, errFileGone) {
			return engine.Invalid(strconv.Itoa(i), "not_found", map[string]any{"value": id})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// refHolds tells whether a reference still stands: it is younger than FileOrphanAfter (its
// record may be being written), or its record exists — deleted records can be restored — and
// holds the file in the named field (a flow reference needs the record only).
func (s *Service) refHolds(ctx context.Context, r fileRef, cutoff time.Time) (bool, error) {
	if r.At.After(cutoff) {
		return true, nil
	}
	var d recordDoc
	err := s.st.Get(ctx, RecordsCollection(r.App, r.Form), r.Record, &d)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return r.Field == "" || holds(plainMap(d.Data), r.Field, r.File), nil
}

// CollectFiles deletes orphaned files: uploads older than FileOrphanAfter that no record holds
// (never attached, or removed from every record that held them), with their chunks and
// references. It returns how many it deleted. The scheduler runs it daily (FileCollectJob).
// It reads the old files a page at a time (oldFiles), so its memory does not grow with them.
func (s *Service) CollectFiles(ctx context.Context) (int, error) {
	cutoff := s.now().UTC().Add(-FileOrphanAfter)
	deleted := 0
	after := ""
	for {
		old, next, err := s.oldFiles(ctx, cutoff, after)
		if err != nil {
			return deleted, fmt.Errorf("collect files: %w", err)
		}
		for _, f := range old {
			refs, claimed, err := s.claimCollect(ctx, f.ID, cutoff)
			if err != nil {
				return deleted, fmt.Errorf("collect files: %w", err)
			}
			if !claimed {
				continue
			}
			if err := s.finishCollect(ctx, f, refs); err != nil {
				return deleted, fmt.Errorf("collect files: %w", err)
			}
			deleted++
		}
		if next == "" {
			return deleted, nil
		}
		after = next
	}
}

// fileCollectBatch is how many files CollectFiles holds at a time.
var fileCollectBatch = 200

// oldFiles reads one page of the files uploaded before cutoff, in _id order after the cursor
// after ("" for the first page): at most fileCollectBatch of them, and the cursor of the next
// page ("" after the last). Deleting files of a page does not disturb the pages after it.
func (s *Service) oldFiles(ctx context.Context, cutoff time.Time, after string) ([]storedFile, string, error) {
	page, err := s.st.Query(ctx, filesCollection, store.Query{Where: store.Lt("uploaded_at", cutoff),
		Limit: fileCollectBatch, After: after, Fields: []string{"app", "name", "chunks"}})
	if err != nil {
		return nil, "", err
	}
	out := make([]storedFile, 0, len(page.Docs))
	for _, raw := range page.Docs {
		var f storedFile
		if err := bson.Unmarshal(raw, &f); err != nil {
			return nil, "", err
		}
		out = append(out, f)
	}
	return out, page.Next, nil
}

// A collector and an attach race over a file: the attach claims a reference and then writes
// its record, the collector checks the references and then deletes. So collection is in two
// phases. claimCollect marks the file as being collected, by a unique insert (race-safe on
// every store), and only then checks its references again; bindFile claims its reference and
// only then looks for the mark. Either the collector's check sees the new reference (which is
// fresh, so it stands, and the collector lets the file be) or the binder sees the mark and
// fails not_found; never both miss each other.

// collectMark is the mark of a file being collected: _id "<file>@collecting" among the
// references, which holds it from the moment it is claimed until the file is gone.
type collectMark struct {
	File string    `bson:"file"`
	At   time.Time `bson:"at"`
}

func collectMarkID(file string) string { return file + "@collecting" }

// collectMarkLease is how long a mark keeps other collectors away: one older than this was
// left by a run that stopped half way, and the next run takes the file over.
const collectMarkLease = time.Hour

// claimCollect decides whether file, uploaded before cutoff, is an orphan and, if so, marks it
// as being collected and checks its references again under the mark. claimed reports whether
// the file is now this run's to delete (with refs references to delete); a file that turned
// out to be held is unmarked again.
func (s *Service) claimCollect(ctx context.Context, file string, cutoff time.Time) (refs int, claimed bool, err error) {
	orphan, _, err := s.orphaned(ctx, file, cutoff)
	if err != nil || !orphan {
		return 0, false, err
	}
	now := s.now().UTC()
	mark := collectMark{File: file, At: now}
	err = s.st.Put(ctx, fileRefsCollection, collectMarkID(file), mark)
	if errors.Is(err, store.ErrDuplicate) {
		var cur collectMark
		if err := s.st.Get(ctx, fileRefsCollection, collectMarkID(file), &cur); err != nil {
			return 0, false, nil // gone meanwhile: another run finished it
		}
		if now.Sub(cur.At) < collectMarkLease {
			return 0, false, nil // another run is collecting it
		}
		err = s.st.Set(ctx, fileRefsCollection, collectMarkID(file), mark)
	}
	if err != nil {
		return 0, false, err
	}
	orphan, refs, err = s.orphaned(ctx, file, cutoff)
	if err != nil || !orphan {
		_ = s.st.Delete(ctx, fileRefsCollection, collectMarkID(file))
		return 0, false, err
	}
	return refs, true, nil
}

// finishCollect deletes a file claimCollect claimed: chunks first, then its references, the
// description and last the mark, so a run cut short leaves a file (or a mark) that the next
// run finds again.
func (s *Service) finishCollect(ctx context.Context, f storedFile, refs int) error {
	s.dropChunks(ctx, f.ID, f.Chunks)
	for n := 1; n <= refs; n++ {
		_ = s.st.Delete(ctx, fileRefsCollection, fileRefID(f.ID, n))
	}
	if err := s.st.Delete(ctx, filesCollection, f.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.st.Delete(ctx, fileRefsCollection, collectMarkID(f.ID)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.audit(ctx, nil, "file.collect", "file", f.App+"/"+f.ID, map[string]any{"name": f.Name}, nil)
	return nil
}

// orphaned tells whether no reference of file stands, and how many references it has.
func (s *Service) orphaned(ctx context.Context, file string, cutoff time.Time) (bool, int, error) {
	stands, refs := false, 0
	err := s.fileRefs(ctx, file, func(n int, r fileRef) (bool, error) {
		refs = n
		ok, err := s.refHolds(ctx, r, cutoff)
		stands = ok
		return !ok, err
	})
	// When none stands, the walk went through them all: refs counts every one.
	return err == nil && !stands, refs, err
}

// registerFileJobs schedules CollectFiles.
func (s *Service) registerFileJobs() {
	err := s.k.Scheduler.Add(FileCollectJob, fileCollectSpec, func(ctx context.Context, _ time.Time) error {
		n, err := s.CollectFiles(ctx)
		if n > 0 {
			s.k.Log.Info("orphaned files deleted", "count", n)
		}
		return err
	})
	if err != nil {
		s.k.Log.Error("orphaned files will not be collected", "err", err)
	}
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"file_refs_limit": {ZH: "该文件已附加到太多记录（最多 {max} 处），请重新上传一份", EN: "this file is attached in too many places (at most {max}): upload a copy"},
	})
}
