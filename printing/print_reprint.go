package printing

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"tracecraft/engine"
)

// 补打: a print that names serials (PrintInput.Serials) prints the labels of those codes again
// — codes already printed, of one issuance of the one record printed — and records each as a
// reprint with the print's reason (Codes.Reprint: audited, the lot's reprinted count).

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"error.print_code_voided": {ZH: "码 {serial} 已作废，不能补打", EN: "code {serial} is void and cannot be reprinted"},
		"error.print_code_unprinted": {ZH: "码 {serial} 尚未打印，不是补打：请打印它所在的发码批次",
			EN: "code {serial} has not been printed yet, so it is no reprint: print its issuance"},
		"print_serial_elsewhere":   {ZH: "码 {serial} 不属于这条记录", EN: "code {serial} is not one of this record's"},
		"print_serials_issuance":   {ZH: "补打的码须属于同一次发码", EN: "the codes reprinted must be of one issuance"},
		"print_serials_not_code":   {ZH: "只有“每个物品码一张”的模板能按码补打", EN: "only a template printed per item code reprints codes"},
		"print_serials_one_record": {ZH: "补打只针对一条记录", EN: "a reprint prints one record's codes"},
	})
}

// reprintSource is what Codes offers for a reprint besides CodeSource.
type reprintSource interface {
	ReprintCodes(ctx context.Context, p *engine.Principal, app, form, record, issuance string, serials []string) ([]ItemCode, error)
	Reprint(ctx context.Context, p *engine.Principal, app, serial string, in ActInput) (*ReprintResult, error)
}

// validateReprint checks a print's serials and reason (shape only; Codes checks the codes).
func (in *PrintInput) validateReprint(fe *engine.FieldErrors) {
	if len(in.Serials) == 0 {
		if in.Reason != "" {
			fe.Add("reason", "not_applicable", nil)
		}
		return
	}
	if len(in.Serials) > MaxRecords {
		fe.Add("serials", "too_many", map[string]any{"max": MaxRecords})
	}
	if len(in.Records) > 1 {
		fe.Add("records", "print_serials_one_record", nil)
	}
	for i, s := range in.Serials {
		if s == "" || len(s) > 64 {
			fe.Add("serials/"+strconv.Itoa(i), "invalid_format", map[string]any{"detail": "not a serial"})
		}
	}
	if err := (ActInput{Reason: in.Reason}).check(); err != nil {
		var ife engine.FieldErrors
		if errors.As(err, &ife) {
			*fe = append(*fe, ife...)
		}
	}
}

// reprintCodes are the codes a print of serials prints again, checked by the code source: p
// may reprint them (update on the record), each is printed already and not void.
func (e *Engine) reprintCodes(ctx context.Context, p *engine.Principal, c *Compiled, in *PrintInput) ([]ItemCode, error) {
	if c.Def.Repeat != RepeatCode {
		return nil, engine.Invalid("serials", "print_serials_not_code", nil)
	}
	src, ok := e.codeSource().(reprintSource)
	if !ok {
		return nil, engine.Coded(engine.ErrConflict, "print_no_codes", nil)
	}
	return src.ReprintCodes(ctx, p, c.App, c.Def.Form, in.Records[0], in.Issuance, in.Serials)
}

// recordReprints records each serial of a job printed again as a reprint with the job's reason.
func (e *Engine) recordReprints(ctx context.Context, p *engine.Principal, job *Job) error {
	if len(job.Serials) == 0 {
		return nil
	}
	src, ok := e.codeSource().(reprintSource)
	if !ok {
		return engine.Coded(engine.ErrConflict, "print_no_codes", nil)
	}
	for _, s := range job.Serials {
		if _, err := src.Reprint(ctx, p, job.App, s, ActInput{Reason: job.Reason}); err != nil {
			return fmt.Errorf("record reprint of %s: %w", s, err)
		}
	}
	return nil
}

// codePages yields the labels of codes, in order, on the job's one record (a reprint).
func (ps *pageSource) codePages(ctx context.Context, codes []ItemCode) iter.Seq2[*PageData, error] {
	return func(yield func(*PageData, error) bool) {
		id := ps.records[0]
		base, err := ps.record(ctx, id)
		if err != nil {
			yield(nil, fmt.Errorf("record %s: %w", id, err))
			return
		}
		for i := range codes {
			d := *base
			d.Code = &codes[i]
			if !ps.emit(&d, yield) {
				return
			}
		}
	}
}

// countCodes is count for codePages: the job's labels, known before anything is drawn.
func (ps *pageSource) countCodes(ctx context.Context, codes []ItemCode) error {
	walk := *ps
	walk.max, walk.stopAt = 0, 0
	for _, err := range walk.codePages(ctx, codes) {
		if err != nil {
			return err
		}
	}
	ps.total = walk.labels
	return nil
}

// ReprintCodes checks serials for a reprint of lot record (app, form, record) and gives their
// codes in the order given: p must be allowed to update the record (as for Reprint); each
// serial must be one of the record's, all of one issuance (issuance, when not ""), printed
// already and not void — a void code is print_code_voided, one not printed yet
// print_code_unprinted, naming the serial. Nothing is recorded: Reprint records each once
// its label is made.
func (c *Codes) ReprintCodes(ctx context.Context, p *engine.Principal, app, form, record, issuance string, serials []string) ([]ItemCode, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	if err := c.k.Records.RecordAllows(ctx, p, app, form, record, engine.ActionUpdate); err != nil {
		return nil, fmt.Errorf("reprint codes of %s: %w", record, err)
	}
	codec, err := c.serials(ctx)
	if err != nil {
		return nil, err
	}
	var doc *issuanceDoc
	var voided map[int64]*voidDoc
	var printedTo int64
	seen := make(map[string]bool, len(serials))
	out := make([]ItemCode, 0, len(serials))
	for i, s := range serials {
		field := "serials/" + strconv.Itoa(i)
		seq, derr := codec.Decode(strings.TrimSpace(s))
		var r *resolved
		if doc != nil && derr == nil && seq >= doc.First && seq < doc.First+doc.Count {
			r = &resolved{serial: codec.Encode(seq), seq: seq, doc: *doc} // no look-up within the issuance
		} else {
			r, err = c.resolve(ctx, strings.TrimSpace(s))
			if errors.Is(err, ErrNotGenuine) || err == nil && r.doc.App != app {
				return nil, engine.Invalid(field, "not_found", map[string]any{"value": s})
			}
			if err != nil {
				return nil, err
			}
		}
		switch {
		case r.doc.Rec != recKey(app, form, record):
			return nil, engine.Invalid(field, "print_serial_elsewhere", map[string]any{"serial": r.serial})
		case issuance != "" && r.doc.ID != issuance, doc != nil && r.doc.ID != doc.ID:
			return nil, engine.Invalid(field, "print_serials_issuance", nil)
		case seen[r.serial]:
			return nil, engine.Invalid(field, "duplicate_key", nil)
		}
		seen[r.serial] = true
		if doc == nil {
			d := r.doc
			doc = &d
			if voided, err = c.voidedSeqs(ctx, doc.ID); err != nil {
				return nil, err
			}
			if _, printedTo, err = c.printed(ctx, doc); err != nil {
				return nil, err
			}
		}
		if doc.Void != nil || voided[r.seq] != nil {
			return nil, engine.Coded(engine.ErrConflict, "print_code_voided", map[string]any{"serial": r.serial})
		}
		if r.seq-doc.First >= printedTo {
			return nil, engine.Coded(engine.ErrConflict, "print_code_unprinted", map[string]any{"serial": r.serial})
		}
		ic, err := c.code(codec, doc, r.seq)
		if err != nil {
			return nil, err
		}
		out = append(out, ic)
	}
	return out, nil
}

var _ reprintSource = (*Codes)(nil)
