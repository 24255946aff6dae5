package forms

import (
	"context"
	"errors"

	"tracecraft/engine/store"
)

// lookup answers field types' questions from the store.
type lookup struct{ s *Service }

func (l lookup) RecordExists(ctx context.Context, app, form, id string) (bool, error) {
	var doc recordDoc
	err := l.s.st.Get(ctx, RecordsCollection(app, form), id, &doc)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// A record of an import still being written is not there yet (importHidden).
	return doc.Deleted == nil && !l.s.importHidden(doc.ImportBatch), nil
}

func (l lookup) FormExists(ctx context.Context, app, form string) (bool, error) {
	var f Form
	err := l.s.st.Get(ctx, formsCollection, formID(app, form), &f)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (l lookup) UserExists(ctx context.Context, username string) (bool, error) {
	_, err := l.s.k.Auth.GetUser(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (l lookup) DepartmentExists(ctx context.Context, id string) (bool, error) {
	return l.s.k.Auth.DepartmentExists(ctx, id)
}

func (l lookup) File(ctx context.Context, app, id string) (FileInfo, error) {
	var fi FileInfo
	if err := l.s.st.Get(ctx, filesCollection, id, &fi); err != nil {
		return FileInfo{}, err
	}
	if fi.App != app {
		return FileInfo{}, store.ErrNotFound
	}
	return fi, nil
}

// storedLookup is used to recompile stored versions: the forms they point at were checked
// when they were saved.
type storedLookup struct{ lookup }

func (storedLookup) FormExists(context.Context, string, string) (bool, error) { return true, nil }
