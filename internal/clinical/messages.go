package clinical

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Message returns the stored message with that sender and control id, or
// ErrNotFound.
func (t *Tx) Message(sender, controlID string) (catalog.HL7Message, error) {
	m, err := t.tx.GetHL7Message(t.ctx, sender, controlID)
	if errors.Is(err, catalog.ErrNotFound) {
		return m, ErrNotFound
	}
	return m, err
}

// Messages is Message for many keys at once: the stored messages among
// them, by key.
func (t *Tx) Messages(keys []catalog.HL7Key) (map[catalog.HL7Key]catalog.HL7Message, error) {
	return t.tx.HL7Messages(t.ctx, keys)
}

// PutMessage stores m with its body raw sealed.
func (t *Tx) PutMessage(m catalog.HL7Message, raw []byte) error {
	if m.ID == "" {
		m.ID = NewMessageID()
	}
	sealed, err := t.d.Seal("hl7", m.ID, raw)
	if err != nil {
		return err
	}
	m.Sealed = sealed
	return t.tx.PutHL7Message(t.ctx, m)
}

// SealMessage seals a message body for the message id, ahead of the
// transaction that stores it with PutSealedMessages.
func (d *DB) SealMessage(id string, raw []byte) ([]byte, error) { return d.seal("hl7", id, raw) }

// PutSealedMessages stores ms (insert or replace by id) in a few
// statements; each one's ID is set and its Sealed is its body sealed by
// SealMessage for that ID.
func (t *Tx) PutSealedMessages(ms []catalog.HL7Message) error {
	for _, m := range ms {
		if m.ID == "" || len(m.Sealed) == 0 {
			return errors.New("clinical: a sealed message needs its id and sealed body")
		}
	}
	return t.tx.PutHL7Messages(t.ctx, ms)
}

// NewMessageID returns a fresh message id: "m", the time in milliseconds
// (12 hex digits), then 64 random bits. Message ids, unlike patient and
// record ids, may carry a time (the stored message has its time of
// receipt in the clear anyway): ids made one after the other sort
// together, so the message table's id index is appended to at its end
// instead of written at a random page for every message.
func NewMessageID() string {
	var b [14]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	rand.Read(b[6:])
	return "m" + hex.EncodeToString(b[:])
}

// MessageBody opens a stored message's body.
func (d *DB) MessageBody(m catalog.HL7Message) ([]byte, error) { return d.Open("hl7", m.ID, m.Sealed) }

// Seal encrypts b as it is for the record kind/id (the outbox's
// payloads, message bodies, reports, keys): SealRaw under kind+rawKind.
func (d *DB) Seal(kind, id string, b []byte) ([]byte, error) { return d.SealRaw(kind+rawKind, id, b) }

// Open decrypts what Seal made for kind/id. Records sealed before Seal
// stopped wrapping its bytes in JSON (bound to kind alone) still open:
// the binding says which form a record is, so nothing is guessed.
func (d *DB) Open(kind, id string, b []byte) ([]byte, error) {
	plain, err := d.OpenRaw(kind+rawKind, id, b)
	if err == nil {
		return plain, nil
	}
	var legacy []byte
	if d.open(kind, id, b, &legacy) != nil {
		return nil, err
	}
	return legacy, nil
}

// rawKind marks the kinds Seal binds its records to. Seal used to seal
// the JSON string of its bytes (base64 in quotes: a third larger) under
// the kind itself.
const rawKind = "+raw"

// Records reads a patient and everything recorded about them, opened.
func (d *DB) Records(ctx context.Context, pid string) (Patient, []Encounter, []Order, []Result, error) {
	var p Patient
	err := d.Update(ctx, func(t *Tx) error {
		var err error
		p, err = t.Patient(pid)
		return err
	})
	if err != nil {
		return p, nil, nil, nil, err
	}
	encRows, ordRows, resRows, err := d.st.ListPatientRecords(ctx, pid)
	if err != nil {
		return p, nil, nil, nil, err
	}
	var encs []Encounter
	for _, r := range encRows {
		var e Encounter
		if err := d.open("encounter", r.ID, r.Sealed, &e); err != nil {
			return p, nil, nil, nil, err
		}
		e.ID, e.PatientID = r.ID, r.PatientID
		encs = append(encs, e)
	}
	var ords []Order
	for _, r := range ordRows {
		var o Order
		if err := d.open("order", r.ID, r.Sealed, &o); err != nil {
			return p, nil, nil, nil, err
		}
		o.ID, o.PatientID = r.ID, r.PatientID
		ords = append(ords, o)
	}
	var ress []Result
	for _, r := range resRows {
		var x Result
		if err := d.open("result", r.ID, r.Sealed, &x); err != nil {
			return p, nil, nil, nil, err
		}
		x.ID, x.PatientID, x.OrderID = r.ID, r.PatientID, r.OrderID
		ress = append(ress, x)
	}
	return p, encs, ords, ress, nil
}

// PatientOfSample returns the patient whose order names the lab's sample
// id: ErrNotFound when none does, catalog.ErrSeveralPatients when orders
// of several patients do.
func (d *DB) PatientOfSample(ctx context.Context, sampleID string) (string, error) {
	pid, err := d.st.PatientOfSample(ctx, sampleID)
	if errors.Is(err, catalog.ErrNotFound) {
		return "", ErrNotFound
	}
	return pid, err
}

// FindPatient is Tx.FindPatient in a transaction of its own.
func (d *DB) FindPatient(ctx context.Context, ids []Identifier) (string, error) {
	var pid string
	err := d.Update(ctx, func(t *Tx) error {
		var err error
		pid, err = t.FindPatient(ids)
		return err
	})
	return pid, err
}

// Savepoint marks a point in the transaction that RollbackTo undoes
// everything after; Release forgets it.
func (t *Tx) Savepoint(name string) error  { return t.tx.Savepoint(t.ctx, name) }
func (t *Tx) RollbackTo(name string) error { return t.tx.RollbackTo(t.ctx, name) }
func (t *Tx) Release(name string) error    { return t.tx.Release(t.ctx, name) }

// AppendAudit appends audit records in this transaction: they commit with
// the records they describe, or not at all.
func (t *Tx) AppendAudit(es []catalog.AuditEvent) ([]catalog.AuditEvent, error) {
	return t.tx.AppendAudit(t.ctx, es)
}
