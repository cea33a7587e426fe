package ehr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/fhir"
)

// AuditLog is told about audit records written in the clinical
// transaction, so that its checkpoints cover them (audit.Log).
type AuditLog interface {
	Appended(es []catalog.AuditEvent)
}

// Puller brings the EHR's genetic test orders into the clinical database.
type Puller struct {
	Client *Client
	DB     *clinical.DB
	// Store holds the watermark (the catalog's extract_watermarks).
	Store catalog.Clinical
	// Category is the ServiceRequest category searched for, as a FHIR
	// token (system|code).
	Category string
	PageSize int      // _count; default 50
	MaxPages int      // a bound on one pull; default 1000
	Audit    AuditLog // may be nil
	Log      *slog.Logger

	// reported holds the refusals and skips already audited, by
	// ServiceRequest, content and outcome: the search from the watermark
	// (ge) returns the last-updated requests again at every pull, and one
	// refused then is audited and logged once, not at every poll.
	mu       sync.Mutex
	reported map[string]bool
}

// maxReported bounds Puller.reported; past it the set starts again (a
// refusal may then be reported once more).
const maxReported = 10000

// PullResult is what one pull did.
type PullResult struct {
	Pages     int
	Applied   []PulledOrder // created or updated
	Cancelled []PulledOrder // set to "cancelled": revoked or entered in error at the EHR
	// Skipped are the references of ServiceRequests revoked or entered in
	// error at the EHR whose order we never had: nothing was written.
	Skipped   []string
	Unchanged int // already stored as they are (a cancelled order included)
	Rejected  []RejectedOrder
	// Repeated counts ServiceRequests refused or skipped by an earlier
	// pull, unchanged since: not audited, logged or listed again.
	Repeated  int
	Watermark time.Time // after the pull
}

// PulledOrder is an order stored by a pull.
type PulledOrder struct {
	Ref       string // ServiceRequest/<id> at the EHR
	OrderID   string
	PatientID string
}

// RejectedOrder is a ServiceRequest that could not be applied; Err names
// the element at fault (an *fhir.Issue) or the conflict.
type RejectedOrder struct {
	Ref     string
	Err     error
	version string // of the ServiceRequest's content (Puller.reported)
}

// WatermarkSource is the watermark's name for the EHR at base.
func WatermarkSource(base string) string {
	return "fhir:" + strings.TrimRight(base, "/") + "#ServiceRequest"
}

// Watermark returns the time up to which orders were pulled (zero: never).
func (p *Puller) Watermark(ctx context.Context) (time.Time, error) {
	var w time.Time
	err := p.Store.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		var err error
		w, err = tx.Watermark(ctx, WatermarkSource(p.Client.Base))
		return err
	})
	return w, err
}

func (p *Puller) advance(ctx context.Context, t time.Time) error {
	return p.Store.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		return tx.PutWatermark(ctx, WatermarkSource(p.Client.Base), t)
	})
}

// PullStatuses are the ServiceRequest statuses a pull searches for (FHIR
// token OR syntax): active orders are created or updated, revoked and
// entered-in-error ones cancel the order we have.
const PullStatuses = "active,revoked,entered-in-error"

// searchURL is the first page's URL; sorted asks the EHR to sort by
// _lastUpdated.
func (p *Puller) searchURL(since time.Time, sorted bool) string {
	n := p.PageSize
	if n <= 0 {
		n = 50
	}
	q := url.Values{}
	if p.Category != "" {
		q.Set("category", p.Category)
	}
	q.Set("status", PullStatuses)
	if !since.IsZero() {
		// ge, not gt: two requests updated within the instant's precision
		// of each other must not be split by the watermark. Applying an
		// unchanged order again changes nothing.
		q.Set("_lastUpdated", "ge"+since.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	if sorted {
		q.Set("_sort", "_lastUpdated")
	}
	q.Set("_count", strconv.Itoa(n))
	q["_include"] = []string{"ServiceRequest:subject", "ServiceRequest:specimen"}
	return p.Client.base() + "/ServiceRequest?" + q.Encode()
}

// PullOrders searches the EHR for orders of the category with a status of
// PullStatuses updated since since (zero: since the stored watermark),
// through every result page, and applies them: an active order is created
// or updated; a revoked or entered-in-error one sets the order we have to
// "cancelled" (Cancelled), and is skipped (Skipped: no order and no
// patient is created) when we never had it. Each page's orders are
// committed (with their audit records) before the watermark moves; when
// the EHR sorts by _lastUpdated (its self link says it applied the _sort
// asked for, and the pages come in that order) the watermark moves after
// each page, otherwise only at the end. An EHR that refuses _sort (400 naming it, as
// a strict FHIR server such as the stand-in does) is searched again
// without it. A ServiceRequest that cannot be applied is recorded in
// Rejected (and the audit trail) and does not stop the others; a failure
// to reach the EHR stops the pull with the watermark where the last
// committed page left it.
func (p *Puller) PullOrders(ctx context.Context, since time.Time) (PullResult, error) {
	var res PullResult
	if since.IsZero() {
		w, err := p.Watermark(ctx)
		if err != nil {
			return res, err
		}
		since = w
	}
	maxPages := p.MaxPages
	if maxPages <= 0 {
		maxPages = 1000
	}
	var newest time.Time // newest lastUpdated seen
	sorted := true       // the EHR sorts, and pages came in _lastUpdated order so far
	seen := map[string]bool{}
	next := p.searchURL(since, true)
	for next != "" {
		if res.Pages >= maxPages {
			return res, fmt.Errorf("ehr: more than %d result pages; the pull stops here (the watermark is where the last sorted page left it)", maxPages)
		}
		if seen[next] {
			return res, errors.New("ehr: the EHR's next link goes round in a circle")
		}
		seen[next] = true
		page, err := p.page(ctx, next)
		var se *searchError
		if res.Pages == 0 && errors.As(err, &se) && se.status == http.StatusBadRequest && strings.Contains(se.outcome, "_sort") {
			// The EHR cannot sort: unsorted pages, the watermark at the end.
			next = p.searchURL(since, false)
			seen[next] = true
			page, err = p.page(ctx, next)
		}
		if err != nil {
			return res, err
		}
		res.Pages++
		if res.Pages == 1 && !page.sortedBy("_lastUpdated") {
			sorted = false
		}
		recs, rejected, err := p.resolve(ctx, page)
		if err != nil {
			return res, err
		}
		for _, r := range recs {
			if r.Updated.Before(newest) {
				sorted = false
			}
			if r.Updated.After(newest) {
				newest = r.Updated
			}
		}
		if err := p.apply(ctx, recs, rejected, &res); err != nil {
			return res, err
		}
		if next, err = p.nextLink(page); err != nil {
			return res, err
		}
		if sorted && !newest.IsZero() && next != "" {
			if err := p.advance(ctx, newest); err != nil {
				return res, err
			}
		}
	}
	if !newest.IsZero() {
		if err := p.advance(ctx, newest); err != nil {
			return res, err
		}
	}
	w, err := p.Watermark(ctx)
	res.Watermark = w
	return res, err
}

func (p *Puller) nextLink(page *searchBundle) (string, error) {
	n := page.next()
	if n == "" {
		return "", nil
	}
	u, err := p.Client.resolve(n)
	if err != nil {
		return "", fmt.Errorf("ehr: next link: %w", err)
	}
	return u, nil
}

// page reads one searchset page.
func (p *Puller) page(ctx context.Context, u string) (*searchBundle, error) {
	a, err := p.Client.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("ehr: order search: %w", err)
	}
	if a.Status != http.StatusOK {
		return nil, &searchError{status: a.Status, outcome: outcomeText(a.Body, true)} // about our parameters, not patient data
	}
	var b searchBundle
	if err := json.Unmarshal(a.Body, &b); err != nil || b.ResourceType != "Bundle" {
		return nil, errors.New("ehr: order search: the answer is not a Bundle")
	}
	return &b, nil
}

// searchError is an order search the EHR answered with an error status,
// with the text of its OperationOutcome.
type searchError struct {
	status  int
	outcome string
}

func (e *searchError) Error() string {
	msg := fmt.Sprintf("ehr: order search answered %d %s", e.status, http.StatusText(e.status))
	if e.outcome != "" {
		msg += ": " + e.outcome
	}
	return msg
}

// resolve maps each ServiceRequest of a page with its subject and
// specimen (from the page's included resources, else read from the EHR).
func (p *Puller) resolve(ctx context.Context, page *searchBundle) ([]orderRecord, []RejectedOrder, error) {
	included := map[string]json.RawMessage{}
	var srs []json.RawMessage
	for _, e := range page.Entry {
		var h head
		if json.Unmarshal(e.Resource, &h) != nil {
			continue
		}
		if h.ResourceType == "ServiceRequest" && (e.Search == nil || e.Search.Mode != "include") {
			srs = append(srs, e.Resource)
			continue
		}
		if e.FullURL != "" {
			included[e.FullURL] = e.Resource
		}
		if h.ID != "" {
			included[h.ResourceType+"/"+h.ID] = e.Resource
		}
	}
	var recs []orderRecord
	var rejected []RejectedOrder
	for _, raw := range srs {
		r, err := p.one(ctx, raw, included)
		sum := sha256.Sum256(raw)
		r.version = hex.EncodeToString(sum[:16])
		var fail *transientError
		switch {
		case errors.As(err, &fail):
			return nil, nil, fail.err
		case err != nil:
			rejected = append(rejected, RejectedOrder{Ref: r.Ref, Err: err, version: r.version})
		default:
			recs = append(recs, r)
		}
	}
	return recs, rejected, nil
}

// transientError stops a pull (the EHR did not answer a read).
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }

func (p *Puller) one(ctx context.Context, raw json.RawMessage, included map[string]json.RawMessage) (orderRecord, error) {
	sr, err := parseServiceRequest(raw)
	if err != nil {
		return orderRecord{}, err
	}
	r, err := mapOrder(sr, p.Client.base()+"/ServiceRequest")
	if err != nil {
		return r, err
	}
	subj := sr.Subject
	if subj.Reference != "" {
		b, err := p.lookup(ctx, subj.Reference, included)
		if err != nil {
			return r, err
		}
		if b == nil {
			return r, invalid("ServiceRequest.subject", fhir.ErrValue, "the referenced patient does not exist at the EHR")
		}
		if r.Patient, err = mapPatient(b, "ServiceRequest.subject"); err != nil {
			return r, err
		}
	} else {
		r.Patient = clinical.Patient{Identifiers: []clinical.Identifier{mapIdentifier(*subj.Identifier)}}
		if subj.Identifier.Value == "" {
			return r, invalid("ServiceRequest.subject.identifier.value", fhir.ErrRequired, "the patient identifier has no value")
		}
	}
	for i, sp := range sr.Specimen {
		switch {
		case sp.Reference != "":
			b, err := p.lookup(ctx, sp.Reference, included)
			if err != nil {
				return r, err
			}
			if b == nil {
				return r, invalid(fmt.Sprintf("ServiceRequest.specimen[%d]", i), fhir.ErrValue, "the referenced specimen does not exist at the EHR")
			}
			applySpecimen(&r.Order, b)
		case sp.Identifier != nil:
			applySpecimenIdentifier(&r.Order, sp.Identifier)
		}
	}
	r.Order.Clear = absent(r.Order)
	return r, nil
}

// absent names the order fields a ServiceRequest maps that it left out. A
// FHIR resource is sent whole, so what it lacks has no value and clears
// what is stored (unlike an HL7 message, whose empty fields keep it; the
// filler number, which a ServiceRequest does not carry, is kept).
func absent(o clinical.Order) []string {
	var out []string
	for _, f := range []struct{ name, value string }{
		{"ordered", o.Ordered}, {"orderer", o.Orderer}, {"specimen", o.Specimen}, {"specimen_type", o.SpecimenType},
	} {
		if f.value == "" {
			out = append(out, f.name)
		}
	}
	return out
}

// lookup finds a referenced resource among the included ones, else reads
// it; nil when the EHR says it does not exist.
func (p *Puller) lookup(ctx context.Context, ref string, included map[string]json.RawMessage) (json.RawMessage, error) {
	if b, ok := included[ref]; ok {
		return b, nil
	}
	if rel, ok := strings.CutPrefix(ref, p.Client.base()+"/"); ok {
		if b, ok := included[rel]; ok {
			return b, nil
		}
	}
	if strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "urn:") {
		return nil, nil
	}
	u, err := p.Client.resolve(ref)
	if err != nil {
		return nil, invalid("ServiceRequest", fhir.ErrValue, "a reference points off the EHR's server")
	}
	a, err := p.Client.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &transientError{fmt.Errorf("ehr: reading a referenced resource: %w", err)}
	}
	switch {
	case a.Status == http.StatusOK:
		return a.Body, nil
	case a.Status == http.StatusNotFound || a.Status == http.StatusGone:
		return nil, nil
	}
	return nil, &transientError{fmt.Errorf("ehr: reading a referenced resource answered %d %s", a.Status, http.StatusText(a.Status))}
}

// Audit actions of a pull: an order created or updated (or a
// ServiceRequest refused), and an order cancelled (or a cancellation
// skipped or refused).
const (
	actionPull   = "fhir.order.pull"
	actionCancel = "fhir.order.cancel"
)

// skippedDetail is the audit detail of a cancellation of an order we never had.
const skippedDetail = "skipped: revoked or entered in error at the EHR, and never pulled here"

// apply commits one page's orders and their audit records in one
// transaction. A record that conflicts with what is stored is rolled back
// alone and rejected.
func (p *Puller) apply(ctx context.Context, recs []orderRecord, rejected []RejectedOrder, res *PullResult) error {
	actor, source := "ehr:"+p.host(), "fhir:"+p.host()
	var applied, cancelled []PulledOrder
	var skipped, skippedKeys []string
	var refused []RejectedOrder
	unchanged, repeated := 0, 0
	var appended []catalog.AuditEvent
	rejected = slices.DeleteFunc(slices.Clone(rejected), func(r RejectedOrder) bool {
		again := p.wasReported(reportKey(r.Ref, r.version, publicReason(r.Err)))
		if again {
			res.Repeated++
		}
		return again
	})
	err := p.DB.Update(ctx, func(tx *clinical.Tx) error {
		applied, cancelled, skipped, skippedKeys, refused, unchanged, repeated = nil, nil, nil, nil, nil, 0, 0
		var es, refusedEs []catalog.AuditEvent
		for _, r := range recs {
			action := actionPull
			if r.Cancel {
				action = actionCancel
			}
			if err := tx.Savepoint("ehr_order"); err != nil {
				return err
			}
			var pid, oid string
			var found, changed bool
			var err error
			if r.Cancel {
				pid, oid, found, changed, err = cancelOrder(tx, r)
			} else {
				found = true
				pid, oid, changed, err = storeOrder(tx, r)
			}
			if errors.Is(err, clinical.ErrConflict) || errors.Is(err, clinical.ErrNoIdentifier) || isIssue(err) {
				if rerr := tx.RollbackTo("ehr_order"); rerr != nil {
					return rerr
				}
				if p.wasReported(reportKey(r.Ref, r.version, publicReason(err))) {
					repeated++
					continue
				}
				refused = append(refused, RejectedOrder{Ref: r.Ref, Err: err, version: r.version})
				refusedEs = append(refusedEs, auditEvent(catalog.AuditEvent{Actor: actor, Source: source, Action: action,
					Resource: r.Ref, Outcome: audit.Refused, Detail: publicReason(err)}))
				continue
			}
			if err != nil {
				return err
			}
			if err := tx.Release("ehr_order"); err != nil {
				return err
			}
			switch {
			case !found && p.wasReported(reportKey(r.Ref, r.version, skippedDetail)):
				repeated++
			case !found:
				skipped = append(skipped, r.Ref)
				skippedKeys = append(skippedKeys, reportKey(r.Ref, r.version, skippedDetail))
				es = append(es, auditEvent(catalog.AuditEvent{Actor: actor, Source: source, Action: actionCancel,
					Resource: r.Ref, Outcome: audit.OK, Detail: skippedDetail}))
			case !changed:
				unchanged++
			case r.Cancel:
				cancelled = append(cancelled, PulledOrder{Ref: r.Ref, OrderID: oid, PatientID: pid})
				es = append(es, auditEvent(catalog.AuditEvent{Actor: actor, Source: source, Action: actionCancel,
					Resource: "order:" + oid, Patient: pid, Outcome: audit.OK, Detail: r.Ref}))
			default:
				applied = append(applied, PulledOrder{Ref: r.Ref, OrderID: oid, PatientID: pid})
				es = append(es, auditEvent(catalog.AuditEvent{Actor: actor, Source: source, Action: actionPull,
					Resource: "order:" + oid, Patient: pid, Outcome: audit.OK, Detail: r.Ref}))
			}
		}
		for _, r := range rejected {
			es = append(es, auditEvent(catalog.AuditEvent{Actor: actor, Source: source, Action: actionPull,
				Resource: r.Ref, Outcome: audit.Refused, Detail: publicReason(r.Err)}))
		}
		es = append(es, refusedEs...)
		var err error
		if len(es) > 0 {
			appended, err = tx.AppendAudit(es)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("ehr: storing orders: %w", err)
	}
	if p.Audit != nil && len(appended) > 0 {
		p.Audit.Appended(appended)
	}
	res.Applied = append(res.Applied, applied...)
	res.Cancelled = append(res.Cancelled, cancelled...)
	res.Skipped = append(res.Skipped, skipped...)
	res.Unchanged += unchanged
	res.Repeated += repeated
	res.Rejected = append(append(res.Rejected, rejected...), refused...)
	keys := skippedKeys
	for _, r := range append(slicesClone(rejected), refused...) {
		keys = append(keys, reportKey(r.Ref, r.version, publicReason(r.Err)))
	}
	p.markReported(keys)
	if p.Log != nil {
		for _, r := range append(slicesClone(rejected), refused...) {
			p.Log.Warn("ehr: order not applied", "ref", r.Ref, "reason", publicReason(r.Err))
		}
	}
	return nil
}

func slicesClone(r []RejectedOrder) []RejectedOrder { return append([]RejectedOrder(nil), r...) }

// reportKey names one outcome for one content of a ServiceRequest.
func reportKey(ref, version, outcome string) string { return ref + "\x00" + version + "\x00" + outcome }

// wasReported says whether an earlier pull audited key.
func (p *Puller) wasReported(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reported[key]
}

// markReported records keys as audited (after their transaction
// committed).
func (p *Puller) markReported(keys []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reported == nil || len(p.reported)+len(keys) > maxReported {
		p.reported = make(map[string]bool, len(keys))
	}
	for _, k := range keys {
		p.reported[k] = true
	}
}

func (p *Puller) host() string {
	if u, err := url.Parse(p.Client.Base); err == nil && u.Host != "" {
		return u.Host
	}
	return "ehr"
}

// auditEvent cleans e for the audit trail (audit.Check); an event it
// refuses (an over-long reference) loses its resource rather than the record.
func auditEvent(e catalog.AuditEvent) catalog.AuditEvent {
	c, err := audit.Check(e)
	if err != nil {
		e.Resource, e.Detail = "", "reference not recordable"
		c, _ = audit.Check(e)
	}
	return c
}

// publicReason is an error's text without patient data: issues name
// elements; conflicts say what conflicted.
func publicReason(err error) string {
	switch {
	case errors.Is(err, clinical.ErrConflict):
		return "the patient's identifiers or the order number belong to another patient"
	case errors.Is(err, clinical.ErrNoIdentifier):
		return "the patient has no identifier"
	case isIssue(err):
		return err.Error()
	}
	return "not applied"
}

// storeOrder writes one order and its patient; changed is false when the
// stored order is left as it was (clinical.Tx.UpsertOrderChanged: the
// same order as of the same time, or a newer one).
func storeOrder(tx *clinical.Tx, r orderRecord) (pid, oid string, changed bool, err error) {
	pid = r.PatientID
	if pid == "" {
		if pid, err = tx.UpsertPatient(r.Patient); err != nil {
			return "", "", false, err
		}
	} else if _, err := tx.Patient(pid); errors.Is(err, clinical.ErrNotFound) {
		return "", "", false, invalid("ServiceRequest.subject", fhir.ErrValue, "no such patient")
	} else if err != nil {
		return "", "", false, err
	}
	oid, changed, err = tx.UpsertOrderChanged(pid, r.Order)
	if err != nil {
		return "", "", false, err
	}
	return pid, oid, changed, nil
}

// cancelOrder applies a ServiceRequest the EHR revoked or entered in error
// the way an HL7 ORC-1 CA or OC is applied (internal/hl7/inbox): the order
// we hold under its placer number is stored again (UpsertOrder) with the
// status "cancelled" as of the request's lastUpdated, everything else as
// stored. found is false when we never had the order: nothing is written,
// no patient made. The request's subject must be the order's patient
// (following merges), else clinical.ErrConflict. changed is false when the
// order is cancelled already or the stored state is newer.
func cancelOrder(tx *clinical.Tx, r orderRecord) (pid, oid string, found, changed bool, err error) {
	cur, err := tx.OrderByPlacer(r.Order.PlacerIssuer, r.Order.PlacerNumber)
	if errors.Is(err, clinical.ErrNotFound) {
		return "", "", false, false, nil
	}
	if err != nil {
		return "", "", false, false, err
	}
	pid = r.PatientID
	if pid == "" {
		pid, err = tx.FindPatient(r.Patient.Identifiers)
		if err != nil && !errors.Is(err, clinical.ErrNotFound) {
			return "", "", true, false, err
		}
	}
	if pid != cur.PatientID {
		return "", "", true, false, fmt.Errorf("%w: the order's number is another patient's", clinical.ErrConflict)
	}
	asOf := r.Order.AsOf
	if asOf.IsZero() {
		asOf = cur.AsOf
	}
	if cur.Status == "cancelled" || (!cur.AsOf.IsZero() && asOf.Before(cur.AsOf)) {
		return pid, cur.ID, true, false, nil // nothing new, or a newer state stands
	}
	o := cur
	o.ID, o.PatientID = "", ""
	o.Status, o.AsOf = "cancelled", asOf
	if oid, err = tx.UpsertOrder(pid, o); err != nil {
		return "", "", true, false, err
	}
	return pid, oid, true, true, nil
}

// Run pulls every interval until ctx ends; a failed pull is logged and
// tried again at the next interval.
func (p *Puller) Run(ctx context.Context, every time.Duration) {
	for {
		res, err := p.PullOrders(ctx, time.Time{})
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if p.Log != nil {
				p.Log.Error("ehr: order pull failed; will try again", "err", err.Error(), "applied", len(res.Applied))
			}
		case p.Log != nil && (len(res.Applied) > 0 || len(res.Cancelled) > 0 || len(res.Skipped) > 0 || len(res.Rejected) > 0):
			p.Log.Info("ehr: orders pulled", "applied", len(res.Applied), "cancelled", len(res.Cancelled), "skipped", len(res.Skipped),
				"rejected", len(res.Rejected), "pages", res.Pages)
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
