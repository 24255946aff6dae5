package workflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Comments live in their own collection, one document per comment keyed by instance and
// number (_id <instance>/<n>, n = 1, 2, …): a comment is one insert, never a rewrite of the
// instance, and of racing commenters each gets its own number because a number is claimed by
// its unique insert. Numbers are dense (each writer claims the number after the highest one
// there), so the comments of an instance are read by _id, 1 to the first missing number.
const commentsCollection = "wf_comments"

// Limits of what a person adds to an instance with a comment or an action.
const (
	maxCommentLen  = 2000 // characters of a comment
	maxAttachments = 20   // attachments of one comment or action
	maxFileIDLen   = 100  // characters of a file id (signature, attachment)
	maxComments    = 500  // comments of one instance
)

// commentDoc is one stored comment.
type commentDoc struct {
	Instance    string    `bson:"instance"`
	N           int       `bson:"n"`
	At          time.Time `bson:"at"`
	Actor       string    `bson:"actor"`
	Comment     string    `bson:"comment,omitempty"`
	Signature   string    `bson:"signature,omitempty"`
	Attachments []string  `bson:"attachments,omitempty"`
}

func commentID(inst string, n int) string { return inst + "/" + strconv.Itoa(n) }

func (d commentDoc) step() Step {
	return Step{At: d.At, Actor: d.Actor, Action: stepComment, Comment: d.Comment, Signature: d.Signature, Attachments: d.Attachments}
}

// checkNote checks the size of what a comment or an action carries besides its decision: the
// comment's length, the number of attachments and the length of each file id.
func checkNote(in ActInput) error {
	var fe engine.FieldErrors
	if utf8.RuneCountInString(in.Comment) > maxCommentLen {
		fe.Add("comment", "too_long", map[string]any{"max": maxCommentLen})
	}
	if len(in.Signature) > maxFileIDLen {
		fe.Add("signature", "too_long", map[string]any{"max": maxFileIDLen})
	}
	if len(in.Attachments) > maxAttachments {
		fe.Add("attachments", "too_many", map[string]any{"max": maxAttachments})
	} else {
		for i, a := range in.Attachments {
			if len(a) > maxFileIDLen {
				fe.Add("attachments."+strconv.Itoa(i), "too_long", map[string]any{"max": maxFileIDLen})
			}
		}
	}
	return fe.Err()
}

// commentCount finds how many comments inst has: the highest number n whose document exists
// (numbers are dense), by doubling, then bisecting, over lookups by _id.
func (s *Service) commentCount(ctx context.Context, inst string) (int, error) {
	exists := func(n int) (bool, error) {
		var d commentDoc
		err := s.st.Get(ctx, commentsCollection, commentID(inst, n), &d)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	lo, hi := 0, 1 // comment lo exists (0: none needed), comment hi is to be tested
	for {
		ok, err := exists(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 { // lo exists, hi does not
		mid := (lo + hi) / 2
		ok, err := exists(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// comments reads an instance's comments in order.
func (s *Service) comments(ctx context.Context, inst string) ([]Step, error) {
	var out []Step
	for n := 1; n <= maxComments; n++ {
		var d commentDoc
		err := s.st.Get(ctx, commentsCollection, commentID(inst, n), &d)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("comments of %s: %w", inst, err)
		}
		out = append(out, d.step())
	}
	return out, nil
}

// Comment adds a comment (with a signature and attachments, if given) to an instance's
// timeline; the initiator and anyone with a task on the instance may. The comment is stored
// on its own (see commentsCollection): the instance is not written.
func (s *Service) Comment(ctx context.Context, p *engine.Principal, instanceID string, in ActInput) (*Instance, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	if err := checkNote(in); err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	if strings.TrimSpace(in.Comment) == "" && len(in.Attachments) == 0 && in.Signature == "" {
		return nil, fmt.Errorf("comment: %w", engine.Invalid("comment", "required", nil))
	}
	inst, err := s.load(ctx, instanceID)
	if err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	if !involved(inst, p.Username) {
		return nil, fmt.Errorf("comment: %s has no part in instance %s: %w", p.Username, inst.ID, engine.ErrForbidden)
	}
	// Every refusal comes before the files are bound: a refused comment binds nothing.
	n, err := s.commentCount(ctx, inst.ID)
	if err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	full := func() error {
		return fmt.Errorf("comment: %w", engine.Invalid("comment", "flowrun.comments_full", map[string]any{"max": maxComments}))
	}
	if n >= maxComments {
		return nil, full()
	}
	if err := s.checkSignature(ctx, p, inst.App, in.Signature); err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	if err := s.attachFiles(ctx, p, inst, in); err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	doc := commentDoc{Instance: inst.ID, At: s.clock(), Actor: p.Username, Comment: in.Comment, Signature: in.Signature, Attachments: in.Attachments}
	for {
		if n >= maxComments { // filled up by others meanwhile
			return nil, full()
		}
		n++
		doc.N = n
		err := s.st.Put(ctx, commentsCollection, commentID(inst.ID, n), doc)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return nil, fmt.Errorf("comment: %w", err)
		}
		// Number n was taken by another commenter just now: take the next one.
	}
	after := map[string]any{"comment": in.Comment, "n": n}
	if len(in.Attachments) > 0 {
		after["attachments"] = in.Attachments
	}
	s.auditf(ctx, p, "flow.comment", "flow_instance", inst.ID, after)
	out, err := s.present(ctx, p, inst)
	if err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	return out, nil
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"flowrun.comments_full": {ZH: "该流程的评论已达上限（{max} 条）", EN: "the instance has reached its limit of {max} comments"},
	})
}

// attachFiles binds the signature and attachments of a comment or an action to the record's
// flow timeline (engine.Records.AttachFiles) before they are stored: each must be a file p may
// download (their own upload, or one a record they can read shows), readers of the record may
// then download it, and it is not collected as an orphan. Errors name the signature or the
// attachment.
func (s *Service) attachFiles(ctx context.Context, p *engine.Principal, inst *Instance, in ActInput) error {
	var ids []string
	if in.Signature != "" {
		ids = append(ids, in.Signature)
	}
	ids = append(ids, in.Attachments...)
	if len(ids) == 0 || s.k.Records == nil {
		return nil
	}
	err := s.k.Records.AttachFiles(ctx, p, inst.App, inst.Form, inst.Record, ids)
	fe, ok := engine.AsFieldErrors(err)
	if !ok {
		return err
	}
	out := make(engine.FieldErrors, 0, len(fe))
	for _, e := range fe {
		i, _ := strconv.Atoi(e.Path)
		switch {
		case in.Signature == "":
			e.Path = "attachments." + strconv.Itoa(i)
		case i == 0:
			e.Path = "signature"
		default:
			e.Path = "attachments." + strconv.Itoa(i-1)
		}
		out = append(out, e)
	}
	return out
}
