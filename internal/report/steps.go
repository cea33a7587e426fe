package report

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/clinomics/clinomics/internal/catalog"
)

// CreateDraft stores r as a new draft (version 1, not amending anything)
// and returns it with its id. r is validated (*FieldError); its workflow
// fields are set here.
func (s *Store) CreateDraft(ctx context.Context, r Report, op Op) (Report, error) {
	if err := checkActor(op.By); err != nil {
		return r, err
	}
	if s.opts.Complete != nil && (r.Patient.ID != "" || r.Specimen.SampleID != "") {
		if err := s.opts.Complete(ctx, &r); err != nil {
			return r, err
		}
	}
	if err := Validate(r); err != nil {
		return r, err
	}
	now := s.now(r.Updated)
	r.ID, r.Status, r.Amends, r.Version = newID(), Draft, "", 1
	r.Created, r.Updated = now, now
	r.Review = []Signature{{Action: string(ActDraft), By: op.By.person(), Name: op.By.Name, At: now, Note: op.Note}}
	err := s.write(ctx, func(tx catalog.ReportTx) ([]catalog.AuditEvent, error) {
		row, err := s.row(r)
		if err != nil {
			return nil, err
		}
		if _, err := tx.InsertReport(ctx, row); err != nil {
			return nil, err
		}
		e, err := event(op.By, auditAction(ActDraft), r.ID, r.Patient.ID, "version 1")
		return []catalog.AuditEvent{e}, err
	})
	return r, err
}

// Update replaces a draft's content with r's (r.ID names it). Only a
// draft changes: a reviewed report is reopened first (ErrState), a signed
// one never changes (ErrImmutable). The report must still be as read:
// op.IfUpdated, or else r.Updated, is required.
func (s *Store) Update(ctx context.Context, r Report, op Op) (Report, error) {
	if op.IfUpdated.IsZero() {
		op.IfUpdated = r.Updated
	}
	if op.IfUpdated.IsZero() {
		return r, fieldErr("Updated", "required: the report's Updated as it was read")
	}
	if err := Validate(r); err != nil {
		return r, err
	}
	return s.step(ctx, r.ID, ActUpdate, op, func(tx catalog.ReportTx, cur *Report) error {
		if r.Patient.ID != cur.Patient.ID {
			return fieldErr("Patient.ID", "cannot change (make a new report for another patient)")
		}
		if r.Patient.MRN != cur.Patient.MRN || r.Patient.Authority != cur.Patient.Authority {
			// The MRN is how the EHR files the result: changing it would
			// send this patient's report to another's record.
			return fieldErr("Patient.MRN", "cannot change (make a new report for another patient)")
		}
		keep := *cur
		*cur = r
		cur.ID, cur.Status, cur.Amends, cur.Version, cur.Review, cur.Created = keep.ID, keep.Status, keep.Amends, keep.Version, keep.Review, keep.Created
		return nil
	})
}

// Review marks a draft reviewed (the caller checks reports:review).
func (s *Store) Review(ctx context.Context, id string, op Op) (Report, error) {
	return s.step(ctx, id, ActReview, op, nil)
}

// Reopen takes a reviewed report back to draft, for changes.
func (s *Store) Reopen(ctx context.Context, id string, op Op) (Report, error) {
	return s.step(ctx, id, ActReopen, op, nil)
}

// Sign signs a reviewed report out (the caller checks reports:sign).
//
// Four eyes: the signer must be another person than the one who last
// reviewed it (people are compared by Actor.Person, so a second API token
// of the reviewer is still the reviewer); otherwise ErrFourEyes, unless
// Options.SingleSignOut. A laboratory needs the second pair of eyes
// because sign-out releases a result to the patient's record: the review
// checks the interpretation, the sign-out takes responsibility for it,
// and one person doing both removes the check.
//
// When the report is an amendment, the report it amends becomes
// superseded in the same transaction. The hooks run in that transaction
// too: the report is signed with its deliveries queued, or not at all.
func (s *Store) Sign(ctx context.Context, id string, op Op) (Report, error) {
	r, err := s.step(ctx, id, ActSign, op, func(tx catalog.ReportTx, cur *Report) error {
		if rv, ok := lastReview(cur.Review); ok && rv.By == op.By.person() && !s.opts.SingleSignOut {
			return ErrFourEyes
		}
		if cur.Amends != "" {
			orig, err := s.supersede(ctx, tx, cur.Amends, op.By, cur.ID)
			if err != nil {
				return err
			}
			cur.Amended = &orig
		}
		return nil
	}, func(tx catalog.ReportTx, r Report) error {
		for _, h := range s.opts.Hooks {
			if err := h(ctx, tx, r); err != nil {
				return fmt.Errorf("report %s: after-signing hook: %w", r.ID, err)
			}
		}
		return nil
	})
	if err == nil && s.opts.Notify != nil {
		s.opts.Notify(r)
	}
	return r, err
}

// lastReview is the most recent "reviewed" signature (a reopen and a new
// review make a new one).
func lastReview(sigs []Signature) (Signature, bool) {
	for i := len(sigs) - 1; i >= 0; i-- {
		if sigs[i].Action == string(ActReview) {
			return sigs[i], true
		}
	}
	return Signature{}, false
}

// supersede marks the signed report id superseded by its amendment and
// returns it as it was signed.
func (s *Store) supersede(ctx context.Context, tx catalog.ReportTx, id string, by Actor, amendment string) (Report, error) {
	row, err := tx.GetReport(ctx, id)
	if err != nil {
		return Report{}, fmt.Errorf("the amended report: %w", err)
	}
	if row.Status != string(Signed) {
		return Report{}, stateErr("the amended report %s is %s, not signed", id, row.Status)
	}
	orig, err := s.open(row)
	if err != nil {
		return Report{}, err
	}
	prev := row.Updated
	row.Status, row.Updated = string(Superseded), s.now(prev)
	if _, err := tx.UpdateReport(ctx, row, prev); err != nil {
		return Report{}, err
	}
	e, err := event(by, "report.supersede", id, row.PatientID, "superseded by "+amendment)
	if err != nil {
		return Report{}, err
	}
	_, err = tx.AppendAudit(ctx, []catalog.AuditEvent{e})
	return orig, err
}

// Amend makes the amendment of a signed report: a new draft with the
// same content, Amends = id and Version + 1, to correct and sign out in
// its turn. op.Note, the reason, is required; it is shown on the amended
// report. The signed report does not change now; it becomes superseded
// when its amendment is signed. A report is amended once (correct a
// correction by amending the amendment): a second Amend is ErrState.
func (s *Store) Amend(ctx context.Context, id string, op Op) (Report, error) {
	if err := checkActor(op.By); err != nil {
		return Report{}, err
	}
	if strings.TrimSpace(op.Note) == "" {
		return Report{}, fieldErr("reason", "required: why the signed report is amended")
	}
	var amended Report
	err := s.write(ctx, func(tx catalog.ReportTx) ([]catalog.AuditEvent, error) {
		_, orig, _, err := s.load(ctx, tx, id, ActAmend, op)
		if err != nil {
			return nil, err
		}
		if prior, err := tx.ListReports(ctx, catalog.ReportFilter{Amends: id, Limit: 1}); err != nil {
			return nil, err
		} else if len(prior) > 0 {
			return nil, stateErr("report %s is already amended by %s", id, prior[0].ID)
		}
		now := s.now(orig.Updated)
		amended = orig
		amended.ID, amended.Status, amended.Amends, amended.Version = newID(), Draft, orig.ID, orig.Version+1
		amended.Created, amended.Updated = now, now
		amended.Review = []Signature{{Action: string(ActAmend), By: op.By.person(), Name: op.By.Name, At: now, Note: op.Note}}
		nrow, err := s.row(amended)
		if err != nil {
			return nil, err
		}
		if _, err := tx.InsertReport(ctx, nrow); err != nil {
			return nil, err
		}
		e1, err := event(op.By, auditAction(ActAmend), orig.ID, orig.Patient.ID, "amended by "+amended.ID)
		if err != nil {
			return nil, err
		}
		e2, err := event(op.By, auditAction(ActDraft), amended.ID, amended.Patient.ID, fmt.Sprintf("version %d, amends %s", amended.Version, orig.ID))
		return []catalog.AuditEvent{e1, e2}, err
	})
	return amended, err
}

// step takes one step of the workflow on report id: it reads the report,
// checks op.IfUpdated and the state machine, lets edit change it, appends
// the Signature (not for an update), writes it conditionally on its
// Updated, audits it, and runs after (if any) in the same transaction.
func (s *Store) step(ctx context.Context, id string, act Action, op Op, edit func(catalog.ReportTx, *Report) error, after ...func(catalog.ReportTx, Report) error) (Report, error) {
	if err := checkActor(op.By); err != nil {
		return Report{}, err
	}
	var out Report
	err := s.write(ctx, func(tx catalog.ReportTx) ([]catalog.AuditEvent, error) {
		row, cur, to, err := s.load(ctx, tx, id, act, op)
		if err != nil {
			return nil, err
		}
		from, prev := cur.Status, cur.Updated
		if edit != nil {
			if err := edit(tx, &cur); err != nil {
				return nil, err
			}
		}
		now := s.now(prev)
		cur.Status, cur.Updated = to, now
		if act != ActUpdate {
			cur.Review = append(cur.Review, Signature{Action: string(act), By: op.By.person(), Name: op.By.Name, At: now, Note: op.Note})
		}
		nrow, err := s.row(cur)
		if err != nil {
			return nil, err
		}
		if to == Signed {
			nrow.Signed = now
		}
		nrow.Created = row.Created
		stored, err := tx.UpdateReport(ctx, nrow, prev)
		if err != nil {
			return nil, err
		}
		for _, f := range after {
			if err := f(tx, cur); err != nil {
				return nil, err
			}
		}
		out = cur
		e, err := event(op.By, auditAction(act), cur.ID, cur.Patient.ID, fmt.Sprintf("version %d; %s -> %s; content sha256:%s", cur.Version, from, to, stored.ContentHash))
		return []catalog.AuditEvent{e}, err
	})
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return Report{}, fe
		}
		return Report{}, err
	}
	return out, nil
}

// load reads report id for act in tx: its row, its opened content, and
// the status act takes it to. The report must still be as the caller read
// it (op.IfUpdated, when given) and act allowed from its status.
func (s *Store) load(ctx context.Context, tx catalog.ReportTx, id string, act Action, op Op) (catalog.ReportRow, Report, Status, error) {
	row, err := tx.GetReport(ctx, id)
	if err != nil {
		return row, Report{}, "", err
	}
	cur, err := s.open(row)
	if err != nil {
		return row, Report{}, "", err
	}
	if !op.IfUpdated.IsZero() && !op.IfUpdated.Equal(cur.Updated) {
		return row, Report{}, "", fmt.Errorf("report %s: %w", id, ErrStale)
	}
	to, err := Next(cur.Status, act)
	return row, cur, to, err
}
