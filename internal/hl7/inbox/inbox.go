// Package inbox is the front door for HL7 v2 messages: each message is
// parsed, checked, stored (sealed) and mapped into the clinical database
// in one durable transaction, and only then acknowledged — AA (or CA in
// enhanced mode) means the message is safe. A message that cannot be
// applied is stored in the error queue with its reason and answered AE
// (CE); one that cannot be read or is not supported is answered AR (CR)
// and kept in the error queue too, so nothing acknowledged or refused is
// lost. A message whose sender and control id (MSH-3/4, MSH-10) were seen
// before gets the original ACK again and is not applied twice.
//
// Messages from all connections go through one writer in arrival order
// (HL7 ordering per patient holds), committed in groups: a group runs
// without a savepoint per message first, and again with them only when
// one of its messages cannot be applied, so that one fails without the
// others. A group looks up all its messages' sender and control ids in
// one statement (a copy repeated within the group finds the first in
// memory) and writes its messages together at its end. Admissions (ADT
// A01/A03/A04/A08) in a row that name no identifier or visit in common
// are stored together too: their patients in one batch and their visits
// in another, a few statements for all instead of five or six a
// message; a message naming the patient or visit of one before it starts
// a new run, so each patient's messages still apply in arrival order.
// Everything that needs no database — parsing, the header, the positive
// ACK, sealing the message body, mapping an admission, hashing its
// identifiers and visit number and sealing its records for the case they
// are new — is done on the sender's connection before the message
// reaches the writer. A committed group is answered by a second
// goroutine once the disk sync that covers it is done, while the writer
// goes on with the next group; one sync covers every group committed
// while the previous one ran. Under load the writer waits a moment
// (MaxWait) for the senders just answered, so that a group holds all the
// senders it takes. With 16 senders or more, and CPU to spare on the
// machine, it takes half of them, so that it applies one group while the
// other is synced and answered.
package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/hl7/mllp"
)

// Message states in the catalog.
const (
	StateProcessed = "processed"
	StateError     = "error"    // could not be applied (AE/CE): fix and reprocess
	StateRejected  = "rejected" // could not be read or is not supported (AR/CR)
)

// AuditLog is told about the audit records the inbox writes in its own
// transactions (one per message, committed with it), so that its signed
// checkpoints cover them (audit.Log).
type AuditLog interface {
	Appended(es []catalog.AuditEvent)
}

// Inbox receives messages. Start it before use; Close drains it.
type Inbox struct {
	DB       *clinical.DB
	Audit    AuditLog // may be nil
	Log      *slog.Logger
	MaxBatch int // messages per transaction; default 64
	// MaxWait bounds how long the writer holds a group open for the
	// senders it has answered to send again (default 1ms; negative: never
	// wait). It waits only for as many messages as are queued plus those
	// answered since its last group began, or being synced now (and no
	// more than a group takes), so not at all for a lone sender; for
	// those being synced, it waits for their sync first.
	MaxWait time.Duration
	Limits  hl7.Limits
	now     func() time.Time
	spare   func(time.Time) bool // whether the machine has CPU to spare (idleMeter)
	onGroup func(n int)          // tests: told each group's size

	queue        chan *pending
	synced       chan group    // committed groups, in order, to the syncer
	answered     atomic.Int64  // messages answered since the writer last started a group
	inflight     atomic.Int64  // messages in Receive: the senders waiting for an ACK
	syncing      atomic.Int64  // messages committed and not yet answered
	answeredNote chan struct{} // a group was answered
	groups       atomic.Int64  // groups the writer has taken, for Groups
	grouped      atomic.Int64  // and the messages in them
	done         chan struct{}
}

// group is a committed group on its way to its ACKs.
type group struct {
	batch    []*pending
	durable  func() error // nil when err is set
	err      error        // not stored: no ACK
	appended []catalog.AuditEvent
}

type pending struct {
	ctx    context.Context
	source string
	raw    []byte
	msg    *hl7.Message // nil when it could not be parsed
	perr   error

	// Made on the sender's connection, before the writer.
	now     time.Time
	ctl     string // the ACK's control id
	id      string // the stored message's id
	sealed  []byte // raw, sealed for id
	sealErr error
	header  hl7.Header     // when msg != nil
	sender  string         // MSH-3^MSH-4; for a message that does not parse, as salvaged (or "unknown")
	key     catalog.HL7Key // sender and MSH-10, to deduplicate by; no control id: none to go by
	typ     string         // MSH-9, as stored
	mode    hl7.Mode
	// A message that does not parse, or is too large (then raw is nil:
	// its body is not kept), is answered rejectAck, and stored in the
	// error queue with reason.
	rejectAck []byte
	reason    string
	acceptAck []byte     // the AA/CA to send once the message is applied
	adm       *admission // an ADT the writer may store with others; nil otherwise

	ack    []byte
	state  string
	result Applied
	err    error // commit failed: no ACK
	ready  chan struct{}
}

// prepare does the work of a message that needs no database.
func (in *Inbox) prepare(p *pending) {
	p.msg, p.perr = in.Limits.Parse(p.raw)
	if p.perr == nil {
		p.perr = Supported.Check(p.msg)
	}
	p.now = in.now()
	p.ctl = fmt.Sprintf("ACK%d", p.now.UnixNano())
	p.id = clinical.NewMessageID()
	p.sealed, p.sealErr = in.DB.SealMessage(p.id, p.raw)
	if p.msg == nil {
		// Unreadable: the sender and control id, when the MSH can be
		// split, still name it in the error queue and find a resent copy.
		p.salvage(p.raw)
		ae := hl7.AckErrorFor(p.perr)
		p.rejectAck, p.reason = hl7.AckUnparsedError(p.raw, ae, p.now, p.ctl).Bytes(), ae.Message
		return
	}
	p.header = p.msg.Header()
	p.sender = p.header.SendingApp.Namespace + "^" + p.header.SendingFacility.Namespace
	p.key = catalog.HL7Key{Sender: p.sender, ControlID: p.header.ControlID}
	p.typ = p.header.Type.String()
	p.mode = hl7.AckMode(p.msg)
	if p.perr == nil {
		p.acceptAck = hl7.Ack(p.msg, p.mode.Accept(), nil, p.now, p.ctl).Bytes()
		p.adm = in.draft(admissionOf(p.msg))
	}
}

// salvage sets the sender, key and type of a message that does not parse
// from what hl7.Salvage reads of its MSH.
func (p *pending) salvage(raw []byte) {
	sv := hl7.Salvage(raw)
	p.sender = "unknown"
	if sv.Keyed {
		p.sender = sv.SendingApp + "^" + sv.SendingFacility
		p.key = catalog.HL7Key{Sender: p.sender, ControlID: sv.ControlID}
	}
	p.typ = sv.Type.String()
}

// draft seals and hashes an admission's records ahead of the writer; one
// that cannot be is left to the writer's Apply (nil), which says why.
func (in *Inbox) draft(a *admission) *admission {
	if a == nil {
		return nil
	}
	var err error
	if a.patientDraft, err = in.DB.DraftPatient(a.patient); err != nil {
		return nil
	}
	if a.visit != nil {
		if a.visitDraft, err = in.DB.DraftEncounter(*a.visit); err != nil {
			return nil
		}
	}
	return a
}

// Start begins the writer.
func (in *Inbox) Start() {
	if in.MaxBatch <= 0 {
		in.MaxBatch = 64
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	if in.now == nil {
		in.now = time.Now
	}
	if in.spare == nil {
		in.spare = (&idleMeter{read: procStat}).hasSpare
	}
	if in.MaxWait == 0 {
		in.MaxWait = time.Millisecond
	}
	in.queue = make(chan *pending, 4*in.MaxBatch)
	in.synced = make(chan group, 64)
	in.answeredNote = make(chan struct{}, 1)
	in.done = make(chan struct{})
	go in.writer()
	go in.syncer()
}

// Groups returns how many groups the writer has taken since Start and
// how many messages they held (a message run again alone, after its
// group failed as a whole, is counted once).
func (in *Inbox) Groups() (groups, messages int64) {
	return in.groups.Load(), in.grouped.Load()
}

// Close stops accepting and waits for the messages in flight.
func (in *Inbox) Close() {
	close(in.queue)
	<-in.done
}

var _ mllp.Handler = (*Inbox)(nil)

// HandleMLLP implements mllp.Handler: the ACK for msg, or nil (close the
// connection, the sender retries) when the message could not be made safe.
func (in *Inbox) HandleMLLP(ctx context.Context, peer mllp.Peer, msg []byte) []byte {
	ack, err := in.Receive(ctx, "mllp:"+peer.Addr.String(), msg)
	if err != nil {
		in.Log.Error("hl7: message not stored; no ACK sent", "peer", peer.Addr.String(), "bytes", len(msg), "err", err.Error())
		return nil
	}
	return ack
}

// Receive handles one message from source and returns its ACK once the
// message is durably stored. An error means it was not stored (and must
// not be acknowledged).
func (in *Inbox) Receive(ctx context.Context, source string, raw []byte) ([]byte, error) {
	in.inflight.Add(1)
	defer in.inflight.Add(-1)
	p := &pending{ctx: ctx, source: source, raw: raw, ready: make(chan struct{})}
	in.prepare(p)
	if p.sealErr != nil {
		return nil, p.sealErr
	}
	return in.submit(ctx, p)
}

// writer commits messages in groups, in arrival order. A group takes
// what is queued, and waits up to MaxWait for the senders of the
// previous group (just answered, they are sending their next) so that
// one sync covers them and the ones queued, instead of the groups
// alternating between full and nearly empty. With many senders (see
// splitFrom) and CPU to spare (idleMeter), a group takes half of them,
// so that two groups are in flight: one being applied while the other
// is synced and answered.
func (in *Inbox) writer() {
	defer close(in.synced)
	var timer *time.Timer
	var senders senderCount
	for p := range in.queue {
		senders.observe(int(in.inflight.Load()))
		limit := in.MaxBatch
		if in.spare(time.Now()) {
			limit = groupLimit(senders.n, in.MaxBatch)
		}
		// The senders waiting now and those answered since the last
		// group started are the ones sending: wait for them all, or for
		// as many as the group takes.
		batch := []*pending{p}
		want := max(int(in.answered.Swap(0))+len(in.queue), 1)
		split := limit < in.MaxBatch
		if split {
			// Split: the senders not waiting for the other group's sync
			// are this group's, whether answered since the last group
			// began or before (and still sending).
			want = max(want, senders.n-int(in.syncing.Load()))
		} else {
			// Whole: the senders of a group being synced send again
			// once answered; a message that came in after that group
			// began waits for them instead of going alone.
			want = max(want, int(in.syncing.Load())+len(in.queue)+1)
		}
		want = min(want, limit)
		var expired <-chan time.Time
	fill:
		for len(batch) < limit {
			select {
			case q, ok := <-in.queue:
				if !ok {
					break fill
				}
				batch = append(batch, q)
				continue
			default:
			}
			if len(batch) >= want || in.MaxWait < 0 {
				break
			}
			if expired == nil && !split && in.syncing.Load() > 0 {
				// Wait for the group being synced to be answered, then
				// up to MaxWait for its senders.
				select {
				case q, ok := <-in.queue:
					if !ok {
						break fill
					}
					batch = append(batch, q)
				case <-in.answeredNote:
				}
				continue
			}
			if expired == nil {
				if timer == nil {
					timer = time.NewTimer(in.MaxWait)
				} else {
					timer.Reset(in.MaxWait)
				}
				expired = timer.C
			}
			select {
			case q, ok := <-in.queue:
				if !ok {
					break fill
				}
				batch = append(batch, q)
			case <-expired:
				break fill
			}
		}
		if expired != nil {
			timer.Stop()
		}
		in.groups.Add(1)
		in.grouped.Add(int64(len(batch)))
		if in.onGroup != nil {
			in.onGroup(len(batch))
		}
		in.commit(batch)
		// The group's senders are still waiting for their sync.
		senders.observe(int(in.inflight.Load()))
	}
}

// senderCount estimates how many senders are waiting for an ACK (with
// MLLP, each has one message at a time): the most messages seen in
// Receive at once lately. It forgets one sender after every 16
// observations that do not see as many again, so that it follows the
// load down within a few hundred groups.
type senderCount struct{ n, age int }

func (s *senderCount) observe(inReceive int) {
	switch {
	case inReceive >= s.n:
		s.n, s.age = inReceive, 0
	case s.age < 15:
		s.age++
	default:
		s.n, s.age = s.n-1, 0
	}
}

// splitFrom is the fewest senders whose messages the writer splits into
// two groups, each of half of them: while one group's log sync runs and
// its senders get their ACKs and send again, the writer applies the
// other, instead of waiting with nothing to do (on the benchmark's
// ADT^A01, a group of 16 is applied in ~2 ms and answered ~1.3 ms after
// it is committed). A commit costs the writer about as much as two or
// three messages on top of their own (~0.2–0.3 ms against ~0.11 ms a
// message), so a split costs CPU: in the benchmark, 10–20 % more a
// message in groups of 8 than of 16, 30–40 % more in groups of 2 or 4
// than of 4 or 8. It pays only with CPU to spare, and below 16 senders,
// where the halves would be smaller, the writer keeps them in one group.
const splitFrom = 16

// groupLimit is the most messages the writer takes into one group with
// senders waiting.
func groupLimit(senders, maxBatch int) int {
	if senders < splitFrom {
		return maxBatch
	}
	return min(maxBatch, (senders+1)/2)
}

// syncer waits for each committed group to be on stable storage and only
// then answers its senders; meanwhile the writer goes on with the next
// group, and one disk sync covers the groups committed while the last
// one ran.
func (in *Inbox) syncer() {
	defer close(in.done)
	for g := range in.synced {
		err := g.err
		if err == nil {
			err = g.durable()
		}
		if err != nil && g.err == nil {
			in.Log.Error("hl7: committed messages not known to be on disk; no ACKs sent", "messages", len(g.batch), "err", err.Error())
		}
		// Counted before the senders are woken, so that none sends
		// again before the writer knows it was answered.
		in.syncing.Add(-int64(len(g.batch)))
		in.answered.Add(int64(len(g.batch)))
		for _, p := range g.batch {
			if err != nil {
				p.ack, p.err = nil, err
			}
			close(p.ready)
		}
		select {
		case in.answeredNote <- struct{}{}:
		default:
		}
		if err == nil && in.Audit != nil {
			in.Audit.Appended(g.appended)
		}
	}
}

// errGuard: a message of a group run without savepoints could not be
// applied; the group is rolled back and run again with them.
var errGuard = errors.New("inbox: a message failed; run the group with savepoints")

// commit stores and applies a group in one transaction. It first runs
// the group without a savepoint per message (each costs a journal copy
// of every page the message touches); only when a message cannot be
// applied is the group rolled back and run again with savepoints, so
// that message is stored as an error and the others as processed.
func (in *Inbox) commit(batch []*pending) {
	in.commitGroup(batch, false)
}

func (in *Inbox) commitGroup(batch []*pending, guarded bool) {
	ctx := context.Background()
	var appended []catalog.AuditEvent
	durable, err := in.DB.UpdateNoWait(ctx, func(tx *clinical.Tx) error {
		g, err := lookUp(tx, batch)
		if err != nil {
			return err
		}
		for i := 0; i < len(batch); {
			// Unguarded, a run of admissions (even of one: its records
			// are sealed already) is stored together; a guarded rerun
			// goes message by message.
			if j := admissions(g, batch, i); !guarded && j > i {
				if err := in.admit(tx, g, batch[i:j]); err != nil {
					return err
				}
				i = j
				continue
			}
			if err := in.one(ctx, tx, g, i, batch[i], guarded); err != nil {
				return err
			}
			i++
		}
		var es []catalog.AuditEvent
		for _, p := range batch {
			if e, ok := auditOf(p); ok {
				es = append(es, e)
			}
		}
		if err := tx.PutSealedMessages(g.stored); err != nil {
			return err
		}
		appended, err = tx.AppendAudit(es)
		return err
	})
	if errors.Is(err, errGuard) {
		in.commitGroup(batch, true)
		return
	}
	if err != nil && len(batch) > 1 {
		// Something failed for the whole group (the database): try each
		// message alone so one bad write does not hold the others.
		for _, p := range batch {
			in.commitGroup([]*pending{p}, true)
		}
		return
	}
	in.syncing.Add(int64(len(batch)))
	in.synced <- group{batch: batch, durable: durable, err: err, appended: appended}
}

// groupMessages is what a group's transaction knows of the messages it
// stores: the messages stored before under the group's keys (read in one
// lookup for the whole group) and those the group stores, written
// together at its end. A message repeated within the group finds the
// first one here.
type groupMessages struct {
	seen   map[catalog.HL7Key]catalog.HL7Message
	stored []catalog.HL7Message
}

func lookUp(tx *clinical.Tx, batch []*pending) (*groupMessages, error) {
	keys := make([]catalog.HL7Key, 0, len(batch))
	for _, p := range batch {
		if p.key.ControlID != "" {
			keys = append(keys, p.key)
		}
	}
	g := &groupMessages{seen: map[catalog.HL7Key]catalog.HL7Message{}}
	if len(keys) > 0 {
		var err error
		if g.seen, err = tx.Messages(keys); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// store adds m to the messages the group writes.
func (g *groupMessages) store(m catalog.HL7Message) {
	g.stored = append(g.stored, m)
	g.seen[catalog.HL7Key{Sender: m.Sender, ControlID: m.ControlID}] = m
}

// admissions returns the end of the run of admissions starting at
// batch[i] that can be stored together: messages in a row that are
// admissions (ADT A01/A03/A04/A08 the mapping reads), not duplicates, and
// of which no two name one identifier or one visit, so that none depends
// on another's write and their order does not matter (two naming one
// stored patient by different identifiers are found by
// clinical.Tx.UpsertPatientDrafts, which then stores them in turn). The run
// ends before the first message that breaks this; that message starts
// the next run.
func admissions(g *groupMessages, batch []*pending, i int) int {
	ids := make(map[string]bool)    // PatientDraft.Keys
	visits := make(map[string]bool) // EncounterDraft.Key
	keys := make(map[catalog.HL7Key]bool)
	j := i
	for ; j < len(batch); j++ {
		p := batch[j]
		if p.adm == nil {
			break
		}
		if k := p.key; k.ControlID != "" {
			if _, dup := g.seen[k]; dup || keys[k] {
				break
			}
			keys[k] = true
		}
		var v string
		if p.adm.visit != nil {
			if v = p.adm.visitDraft.Key(); visits[v] {
				break
			}
		}
		idKeys := p.adm.patientDraft.Keys()
		if slices.ContainsFunc(idKeys, func(k string) bool { return k != "" && ids[k] }) {
			break
		}
		for _, k := range idKeys {
			ids[k] = true
		}
		if p.adm.visit != nil {
			visits[v] = true
		}
	}
	return j
}

// admit stores a run of admissions (see admissions) unguarded, as Apply
// would one after the other: their patients in one batch, then their
// visits in one. Any of them not applied returns errGuard, for the group
// to run again message by message.
func (in *Inbox) admit(tx *clinical.Tx, g *groupMessages, run []*pending) error {
	ps := make([]clinical.PatientDraft, len(run))
	for k, p := range run {
		ps[k] = p.adm.patientDraft
	}
	pids, errs, err := tx.UpsertPatientDrafts(ps)
	if err != nil || slices.ContainsFunc(errs, func(err error) bool { return err != nil }) {
		return errGuard
	}
	var vpids []string
	var es []clinical.EncounterDraft
	for k, p := range run {
		if p.adm.visit != nil {
			vpids, es = append(vpids, pids[k]), append(es, p.adm.visitDraft)
		}
	}
	if len(es) > 0 {
		_, errs, err := tx.UpsertEncounters(vpids, es)
		if err != nil || slices.ContainsFunc(errs, func(err error) bool { return err != nil }) {
			return errGuard
		}
	}
	for k, p := range run {
		p.result = Applied{PatientID: pids[k]}
		p.ack, p.state = p.acceptAck, StateProcessed
		m := catalog.HL7Message{ID: p.id, Sender: p.sender, ControlID: p.header.ControlID, Received: p.now, Type: p.header.Type.String(),
			Sealed: p.sealed, State: StateProcessed, Ack: p.ack, PatientID: pids[k]}
		if m.ControlID == "" {
			m.ControlID = "none-" + m.ID // nothing to deduplicate by
		}
		g.store(m)
	}
	return nil
}

// one stores and applies one message inside the group's transaction;
// unguarded (no savepoint around it), a message that cannot be applied
// returns errGuard.
func (in *Inbox) one(ctx context.Context, tx *clinical.Tx, g *groupMessages, i int, p *pending, guarded bool) error {
	now, ctl := p.now, p.ctl
	// A group run again (with savepoints, or each message alone) starts
	// each message afresh.
	p.result = Applied{}
	if prev, ok := g.seen[p.key]; ok && p.key.ControlID != "" {
		if !bodyNotKept(prev) || p.raw == nil {
			p.ack, p.state = prev.Ack, "duplicate"
			return nil
		}
		// The first copy was too large and not kept: this one takes its
		// place in the error queue (its id: sender and control id are
		// unique), and is applied as if it were the first.
		sealed, err := in.DB.SealMessage(prev.ID, p.raw)
		if err != nil {
			return err
		}
		p.id, p.sealed = prev.ID, sealed
	}
	m := catalog.HL7Message{ID: p.id, Sender: p.sender, ControlID: p.key.ControlID, Received: now, Type: p.typ, Sealed: p.sealed}
	if m.ControlID == "" {
		if p.msg == nil {
			m.ControlID = "unparsed-" + m.ID
		} else {
			m.ControlID = "none-" + m.ID // nothing to deduplicate by
		}
	}
	if p.msg == nil { // unreadable or too large: reject, keep it in the error queue
		p.ack, p.state = p.rejectAck, StateRejected
		m.State, m.Error, m.Ack = StateRejected, p.reason, p.ack
		g.store(m)
		return nil
	}
	mode := p.mode
	if p.perr != nil {
		ack := hl7.Ack(p.msg, mode.Reject(), []hl7.AckError{hl7.AckErrorFor(p.perr)}, now, ctl)
		p.ack, p.state = ack.Bytes(), StateRejected
		m.State, m.Error, m.Ack = StateRejected, hl7.AckErrorFor(p.perr).Message, p.ack
		g.store(m)
		return nil
	}
	const sp = "m" // released or rolled back before the next message's
	if guarded {
		if err := tx.Savepoint(sp); err != nil {
			return err
		}
	}
	res, aerr := Apply(tx, p.msg)
	if aerr != nil && !guarded {
		return errGuard
	}
	if aerr != nil {
		if err := tx.RollbackTo(sp); err != nil {
			return err
		}
		ae := hl7.AckErrorFor(aerr)
		ae.Message = errText(aerr)
		if errors.Is(aerr, clinical.ErrConflict) {
			ae.Code = hl7.CodeDuplicateKey
		}
		ack := hl7.Ack(p.msg, mode.Error(), []hl7.AckError{ae}, now, ctl)
		p.ack, p.state = ack.Bytes(), StateError
		m.State, m.Error, m.Ack = StateError, ae.Message, p.ack
		var pe *hl7.ParseError
		if !errors.As(aerr, &pe) && !errors.Is(aerr, clinical.ErrConflict) {
			in.Log.Error("hl7: message not applied", "message", m.ID, "type", m.Type, "err", aerr.Error())
		}
	} else {
		p.ack, p.state, p.result = p.acceptAck, StateProcessed, res
		m.State, m.Ack, m.PatientID = StateProcessed, p.ack, res.PatientID
	}
	g.store(m) // written with the group's others, after the last message
	if !guarded {
		return nil
	}
	return tx.Release(sp)
}

// auditOf is the audit record of what a stored message did; a duplicate
// did nothing.
func auditOf(p *pending) (catalog.AuditEvent, bool) {
	if p.state == "duplicate" {
		return catalog.AuditEvent{}, false
	}
	e := catalog.AuditEvent{Actor: "hl7:" + senderOf(p), Source: p.source, Action: "hl7.receive", Resource: typeOf(p),
		Patient: p.result.PatientID, Outcome: audit.OK}
	switch p.state {
	case StateError:
		e.Outcome, e.Detail = audit.Error, "stored in the error queue"
	case StateRejected:
		e.Outcome, e.Detail = audit.Refused, "rejected; stored in the error queue"
	}
	e, err := audit.Check(e)
	if err != nil { // an unprintable sender name: record it without
		e.Actor = "hl7:unknown"
		e, _ = audit.Check(e)
	}
	return e, true
}

func senderOf(p *pending) string {
	if p.msg == nil {
		if p.key.ControlID == "" || p.key.Sender == "^" {
			return "unknown"
		}
		return strings.Replace(p.key.Sender, "^", "@", 1)
	}
	s := p.header.SendingApp.Namespace + "@" + p.header.SendingFacility.Namespace
	if s == "@" {
		return "unknown"
	}
	return s
}

func typeOf(p *pending) string {
	if p.msg == nil {
		if p.raw == nil {
			return "too-large"
		}
		return "unparsed"
	}
	return "message:" + p.header.Type.String()
}

// Reprocess applies a message from the error queue again: its stored body,
// or fixed (a corrected copy) when given. It returns the new state and,
// when it is still not applied, the reason.
func (in *Inbox) Reprocess(ctx context.Context, st interface {
	GetHL7MessageByID(ctx context.Context, id string) (catalog.HL7Message, error)
}, id string, fixed []byte, actor string) (string, string, error) {
	m, err := st.GetHL7MessageByID(ctx, id)
	if err != nil {
		return "", "", err
	}
	if m.State == StateProcessed {
		return m.State, "", fmt.Errorf("message %s was processed already", id)
	}
	raw := fixed
	if raw == nil {
		if raw, err = in.DB.MessageBody(m); err != nil {
			return "", "", err
		}
		if len(raw) == 0 && bodyNotKept(m) {
			return m.State, "the message was too large and was not kept: give a copy with --file, or have it sent again", nil
		}
	}
	msg, perr := in.Limits.Parse(raw)
	if perr == nil {
		perr = Supported.Check(msg)
	}
	if perr != nil {
		return m.State, hl7.AckErrorFor(perr).Message, nil
	}
	var res Applied
	var aerr error
	var appended []catalog.AuditEvent
	err = in.DB.Update(ctx, func(tx *clinical.Tx) error {
		if err := tx.Savepoint("re"); err != nil {
			return err
		}
		res, aerr = Apply(tx, msg)
		if aerr != nil {
			if err := tx.RollbackTo("re"); err != nil {
				return err
			}
			m.Error = errText(aerr)
			return tx.PutMessage(m, raw)
		}
		m.State, m.Error, m.PatientID = StateProcessed, "", res.PatientID
		if h := msg.Header(); m.Type == "" {
			m.Type = h.Type.String()
		}
		if err := tx.PutMessage(m, raw); err != nil {
			return err
		}
		e, err := audit.Check(catalog.AuditEvent{Actor: actor, Source: "cli", Action: "hl7.reprocess",
			Resource: "message:" + id, Patient: res.PatientID, Outcome: audit.OK})
		if err != nil {
			return err
		}
		out, err := tx.AppendAudit([]catalog.AuditEvent{e})
		if err != nil {
			return err
		}
		appended = out
		return tx.Release("re")
	})
	if err != nil {
		return "", "", err
	}
	if aerr != nil {
		return m.State, m.Error, nil
	}
	if in.Audit != nil {
		in.Audit.Appended(appended)
	}
	return m.State, "", nil
}

var _ mllp.OversizeHandler = (*Inbox)(nil)

// HandleMLLPOversize implements mllp.OversizeHandler: see ReceiveTooLarge.
// A nil reply (the entry could not be stored) closes the connection.
func (in *Inbox) HandleMLLPOversize(ctx context.Context, peer mllp.Peer, head []byte, size, limit int64) []byte {
	in.Log.Warn("hl7: message over the size limit refused", "peer", peer.Addr.String(), "bytes", size, "limit", limit)
	ack, err := in.ReceiveTooLarge(ctx, "mllp:"+peer.Addr.String(), head, size, limit)
	if err != nil {
		in.Log.Error("hl7: message over the size limit not recorded; no ACK sent", "peer", peer.Addr.String(), "bytes", size, "err", err.Error())
		return nil
	}
	return ack
}

// tooLarge starts the reason of an error queue entry for a message over
// the size limit, whose body was not kept.
const tooLarge = "message too large ("

// bodyNotKept reports whether m is the entry of a message over the size
// limit, stored without its body.
func bodyNotKept(m catalog.HL7Message) bool {
	return m.State == StateRejected && strings.HasPrefix(m.Error, tooLarge)
}

// ReceiveTooLarge records a message of size bytes, over the limit, of
// which head is the beginning, and returns its AR/CR (HL7 error 207,
// "message too large (N bytes, limit M)") once the record is durably
// stored. The record is an error queue entry with the sender and control
// id read from head when its MSH can be read, and without the body, which
// the listener discarded: it cannot be reprocessed, only sent again. A
// copy sent again while still too large gets the same AR; one that fits
// takes the entry's place and is applied.
func (in *Inbox) ReceiveTooLarge(ctx context.Context, source string, head []byte, size, limit int64) ([]byte, error) {
	in.inflight.Add(1)
	defer in.inflight.Add(-1)
	p := &pending{ctx: ctx, source: source, ready: make(chan struct{})}
	p.now = in.now()
	p.ctl = fmt.Sprintf("ACK%d", p.now.UnixNano())
	p.id = clinical.NewMessageID()
	if p.sealed, p.sealErr = in.DB.SealMessage(p.id, nil); p.sealErr != nil {
		return nil, p.sealErr
	}
	why := fmt.Sprintf("%s%d bytes, limit %d)", tooLarge, size, limit)
	ae := hl7.AckErrorFor(&hl7.ParseError{Location: hl7.Location{Segment: "MSH", Sequence: 1}, Err: hl7.ErrTooLarge})
	ae.Message = why
	p.reason = why + "; the message was not kept: have it sent again within the limit (hl7.max_message)"
	// The MSH read as a message, when head holds it whole; else salvaged.
	var m *hl7.Message
	if i := bytes.IndexAny(head, "\r\n"); i > 0 {
		m, _ = in.Limits.Parse(head[:i])
	}
	if m != nil {
		h := m.Header()
		p.sender = h.SendingApp.Namespace + "^" + h.SendingFacility.Namespace
		p.key = catalog.HL7Key{Sender: p.sender, ControlID: h.ControlID}
		p.typ = h.Type.String()
		p.rejectAck = hl7.Ack(m, hl7.AckMode(m).Reject(), []hl7.AckError{ae}, p.now, p.ctl).Bytes()
	} else {
		p.salvage(head)
		p.rejectAck = hl7.AckUnparsedError(head, ae, p.now, p.ctl).Bytes()
	}
	return in.submit(ctx, p)
}

// submit queues p for the writer and waits for its ACK.
func (in *Inbox) submit(ctx context.Context, p *pending) ([]byte, error) {
	select {
	case in.queue <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-p.ready
	return p.ack, p.err
}
