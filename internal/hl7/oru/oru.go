package oru

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/report"
)

// Errors of ORU; they never hold report content.
var (
	ErrNotSigned = errors.New("oru: only a signed report is sent")
	ErrMissing   = errors.New("oru: the report lacks a value the message needs")
)

// Options are the message's envelope and attachments.
type Options struct {
	SendingApp, SendingFacility     hl7.HD // MSH-3, MSH-4
	ReceivingApp, ReceivingFacility hl7.HD // MSH-5, MSH-6
	ControlID                       string // MSH-10, required (Enqueue makes one when empty); at most 20 characters
	ProcessingID                    string // MSH-11: P (the default), D or T
	Time                            time.Time
	// PDF, when not nil, is the rendered report, sent as an ED OBX in
	// base64 (mind the receiver's message size limit).
	PDF []byte
}

// maxControlID is MSH-10's length in v2.5.1.
const maxControlID = 20

// ORU builds the ORU^R01 of a signed report. MSH-7 is opt.Time, or now.
func ORU(r report.Report, opt Options) (*hl7.Message, error) {
	if r.Status != report.Signed {
		return nil, ErrNotSigned
	}
	switch {
	case opt.ControlID == "" || len(opt.ControlID) > maxControlID:
		return nil, fmt.Errorf("%w: MSH-10 control id (1 to %d characters)", ErrMissing, maxControlID)
	case r.Patient.MRN == "":
		return nil, fmt.Errorf("%w: PID-3 (the patient's MRN)", ErrMissing)
	case r.Order.Placer == "" && r.Order.Filler == "":
		return nil, fmt.Errorf("%w: ORC-2/ORC-3 (a placer or filler order number)", ErrMissing)
	case r.Order.Code == "":
		return nil, fmt.Errorf("%w: OBR-4 (the order code)", ErrMissing)
	}
	if opt.ProcessingID == "" {
		opt.ProcessingID = "P"
	}
	if opt.Time.IsZero() {
		opt.Time = time.Now()
	}
	m, err := hl7.NewMessage(hl7.Header{
		SendingApp: opt.SendingApp, SendingFacility: opt.SendingFacility,
		ReceivingApp: opt.ReceivingApp, ReceivingFacility: opt.ReceivingFacility,
		Time:      hl7.DTMOf(opt.Time, hl7.PrecisionSecond),
		Type:      hl7.MessageType{Code: "ORU", Trigger: "R01", Structure: "ORU_R01"},
		ControlID: opt.ControlID, ProcessingID: opt.ProcessingID, Version: "2.5.1",
		Charset: "UNICODE UTF-8",
	})
	if err != nil {
		return nil, fmt.Errorf("oru: MSH: %w", err)
	}
	b := &builder{m: m, status: "F"}
	if r.Amends != "" {
		b.status = "C"
	}
	b.pid(r.Patient)
	b.orc(r)
	b.obr(r)
	b.amendNote(r)
	b.regions(r)
	b.overall(r)
	for i, v := range r.Variants {
		b.variant("2"+subLetters(i), v, r.Test.Assembly)
	}
	b.pdf(opt.PDF)
	b.spm(r.Specimen)
	if b.err != nil {
		return nil, b.err
	}
	return m, nil
}

// builder appends segments, keeping the first error.
type builder struct {
	m      *hl7.Message
	status string // OBR-25 and OBX-11: F, or C for a correction
	nobx   int
	err    error
}

func (b *builder) seg(id string) *hl7.Segment {
	s, err := b.m.Append(id)
	if err != nil && b.err == nil {
		b.err = err
	}
	return s
}

// set writes v at a path within s; an empty v is left out.
func (b *builder) set(s *hl7.Segment, path, v string) {
	if v == "" || s == nil || b.err != nil {
		return
	}
	if err := s.Set(path, v); err != nil {
		b.err = fmt.Errorf("oru: %s-%s: %w", s.ID(), path, err)
	}
}

// setCWE writes c to the components of the element at path (a field, or
// a repetition "5(2)").
func (b *builder) setCWE(s *hl7.Segment, path string, c cwe) {
	b.set(s, path+".1", c.Code)
	b.set(s, path+".2", c.Text)
	b.set(s, path+".3", c.System)
}

// date turns a report date YYYY-MM-DD into an HL7 DT, "" when empty or
// not a date.
func date(s string) string {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return ""
	}
	return t.Format("20060102")
}

// dtm formats a time to the second with its offset; "" when zero.
func dtm(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return hl7.DTMOf(t, hl7.PrecisionSecond).String()
}

func (b *builder) pid(p report.Patient) {
	s := b.seg("PID")
	b.set(s, "1", "1")
	b.set(s, "3.1", p.MRN)
	b.set(s, "3.4", p.Authority)
	b.set(s, "3.5", "MR")
	b.set(s, "5.1", p.Family)
	b.set(s, "5.2", p.Given)
	if p.Family != "" || p.Given != "" {
		b.set(s, "5.7", "L")
	}
	b.set(s, "7", date(p.BirthDate))
	b.set(s, "8", sexCodes[strings.ToLower(p.Sex)])
}

// orderNumbers writes placer and filler numbers at fields pf and ff.
func (b *builder) orderNumbers(s *hl7.Segment, pf, ff int, o report.Order) {
	b.set(s, strconv.Itoa(pf)+".1", o.Placer)
	b.set(s, strconv.Itoa(ff)+".1", o.Filler)
}

// provider writes "Family, Given" (or an id) as an XCN at field f.
func (b *builder) provider(s *hl7.Segment, f int, who string) {
	if who == "" {
		return
	}
	family, given, ok := strings.Cut(who, ",")
	if !ok {
		b.set(s, strconv.Itoa(f)+".1", who)
		return
	}
	b.set(s, strconv.Itoa(f)+".2", strings.TrimSpace(family))
	b.set(s, strconv.Itoa(f)+".3", strings.TrimSpace(given))
}

func (b *builder) orc(r report.Report) {
	s := b.seg("ORC")
	b.set(s, "1", "RE")
	b.orderNumbers(s, 2, 3, r.Order)
	b.set(s, "5", "CM")
	if sg, ok := signed(r); ok {
		b.set(s, "9", dtm(sg.At))
	}
	b.provider(s, 12, r.Order.OrderedBy)
}

// signed returns the last "signed" step of the review.
func signed(r report.Report) (report.Signature, bool) {
	for i := len(r.Review) - 1; i >= 0; i-- {
		if r.Review[i].Action == "signed" {
			return r.Review[i], true
		}
	}
	return report.Signature{}, false
}

func (b *builder) obr(r report.Report) {
	s := b.seg("OBR")
	b.set(s, "1", "1")
	b.orderNumbers(s, 2, 3, r.Order)
	sys, ok := codeSystemsByURI[r.Order.CodeSystem]
	if !ok {
		sys = "L" // a local code, or a system without an HL7 table 0396 name
	}
	b.setCWE(s, "4", cwe{r.Order.Code, r.Order.Display, sys})
	b.set(s, "7", date(r.Specimen.Collected))
	b.set(s, "13", r.Order.Reason)
	b.set(s, "14", date(r.Specimen.Received))
	b.provider(s, 16, r.Order.OrderedBy)
	if sg, ok := signed(r); ok {
		b.set(s, "22", dtm(sg.At))
		// OBR-32 principal result interpreter, an NDL whose first
		// component is a CNN in subcomponents: id & family & given.
		b.set(s, "32.1.1", sg.By)
		family, given, _ := strings.Cut(sg.Name, ",")
		b.set(s, "32.1.2", strings.TrimSpace(family))
		b.set(s, "32.1.3", strings.TrimSpace(given))
		b.set(s, "32.2", dtm(sg.At))
	}
	b.set(s, "24", diagnosticSection)
	b.set(s, "25", b.status)
}

// amendNote names, in an NTE under the OBR, the report a correction
// replaces.
func (b *builder) amendNote(r report.Report) {
	if r.Amends == "" {
		return
	}
	s := b.seg("NTE")
	b.set(s, "1", "1")
	b.set(s, "2", "L")
	b.set(s, "3", fmt.Sprintf("Corrected report %s (version %d) replaces report %s.", r.ID, r.Version, r.Amends))
	b.set(s, "4.1", "RE")
}

func (b *builder) spm(sp report.Specimen) {
	if sp.SampleID == "" && sp.Type == "" {
		return
	}
	s := b.seg("SPM")
	b.set(s, "1", "1")
	b.set(s, "2.2.1", sp.SampleID) // filler assigned identifier
	b.set(s, "4.2", sp.Type)
	b.set(s, "17.1", date(sp.Collected))
	b.set(s, "18", date(sp.Received))
}
