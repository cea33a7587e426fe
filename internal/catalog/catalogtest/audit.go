package catalogtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// checkChain fails unless evs are records 1..len(evs), each chained to the one before.
func checkChain(t *testing.T, evs []catalog.AuditEvent) {
	t.Helper()
	prev := ""
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.Prev != prev || e.Hash != catalog.AuditHash(e) {
			t.Fatalf("record %d breaks the chain: %+v", i+1, e)
		}
		prev = e.Hash
	}
}

func auditBatch(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	if out, err := s.AppendAuditBatch(ctx, nil); err != nil || len(out) != 0 {
		t.Fatalf("empty batch: %v %v", out, err)
	}
	first, err := s.AppendAudit(ctx, catalog.AuditEvent{Actor: "cli:root", Action: "lake.delete", Resource: "p/x", Patient: "P1", Outcome: "ok"})
	must(t, err)
	when := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	var batch []catalog.AuditEvent
	for i := range 450 { // more rows than one INSERT statement takes
		batch = append(batch, catalog.AuditEvent{Time: when.Add(time.Duration(i) * time.Microsecond),
			Actor: "user:sub-ä" + fmt.Sprint(i%3), Action: "object.read", Resource: fmt.Sprintf("results/S%d.vcf.gz", i),
			Patient: fmt.Sprint("P", i%4), Source: "10.0.0.7", Outcome: "ok", Detail: `quote " and \ backslash`,
			BreakGlass: map[bool]string{true: "emergency: unconscious patient", false: ""}[i%100 == 7]})
	}
	out, err := s.AppendAuditBatch(ctx, batch)
	must(t, err)
	if len(out) != len(batch) || out[0].Seq != 2 || out[0].Prev != first.Hash || out[449].Seq != 451 {
		t.Fatalf("batch: %d records, first %+v", len(out), out[0])
	}
	if batch[0].Seq != 0 || batch[0].Hash != "" {
		t.Error("AppendAuditBatch changed its argument")
	}
	var got []catalog.AuditEvent
	for after := int64(0); ; {
		page, err := s.ListAudit(ctx, after, 100)
		must(t, err)
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	if len(got) != 451 {
		t.Fatalf("%d records listed, want 451", len(got))
	}
	checkChain(t, got)
	if g, w := got[8], out[7]; g != w || !g.Time.Equal(when.Add(7*time.Microsecond)) || g.BreakGlass == "" || g.Source != "10.0.0.7" || g.Detail != batch[7].Detail {
		t.Errorf("read back %+v, want %+v", g, w)
	}

	// Concurrent batches interleave whole, and the chain stays one chain.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range 5 {
				var es []catalog.AuditEvent
				for i := range 20 {
					es = append(es, catalog.AuditEvent{Actor: fmt.Sprint("service:w", w), Action: "x", Resource: fmt.Sprint(b, "/", i), Outcome: "ok"})
				}
				if _, err := s.AppendAuditBatch(ctx, es); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	all, err := s.ListAudit(ctx, 0, 10000)
	must(t, err)
	if len(all) != 451+800 {
		t.Fatalf("%d records after concurrent batches, want %d", len(all), 451+800)
	}
	checkChain(t, all)

	// Nothing is appended by a batch that fails.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AppendAuditBatch(cctx, []catalog.AuditEvent{{Actor: "a", Action: "b", Outcome: "ok"}}); err == nil {
		t.Error("batch with a cancelled context: no error")
	}
	if tail, _ := s.ListAudit(ctx, 1251, 10); len(tail) != 0 {
		t.Errorf("failed batch appended %d records", len(tail))
	}

	// The accounting of disclosures reads one patient's records.
	p2, err := s.ListAuditByPatient(ctx, "P2", 0, 0)
	must(t, err)
	if len(p2) != 112 || p2[0].Seq != 4 || p2[1].Seq != 8 { // batch records 2, 6, ... are seqs 4, 8, ...
		t.Fatalf("P2: %d records, first seqs %d %d", len(p2), p2[0].Seq, p2[1].Seq)
	}
	if page, _ := s.ListAuditByPatient(ctx, "P2", 8, 2); len(page) != 2 || page[0].Seq != 12 {
		t.Errorf("P2 after 8, limit 2: %+v", page)
	}
	if none, _ := s.ListAuditByPatient(ctx, "nobody", 0, 0); len(none) != 0 {
		t.Errorf("unknown patient: %d records", len(none))
	}
}

func auditCheckpoints(t *testing.T, s catalog.Store, reopen func() catalog.Store) {
	at := time.Date(2026, 4, 5, 6, 7, 8, 9000, time.UTC)
	must(t, s.PutAuditCheckpoint(ctx, catalog.AuditCheckpoint{Seq: 1000, Hash: "h1000", Time: at, KeyID: "k1", Signature: []byte{0, 1, 2, 255}}))
	must(t, s.PutAuditCheckpoint(ctx, catalog.AuditCheckpoint{Seq: 10, Hash: "h10", Time: at, KeyID: "k1", Signature: []byte{9}}))
	must(t, s.PutAuditCheckpoint(ctx, catalog.AuditCheckpoint{Seq: 1000, Hash: "other", Time: at, KeyID: "k2", Signature: []byte{1}})) // kept as it was
	if err := s.PutAuditCheckpoint(ctx, catalog.AuditCheckpoint{Hash: "h"}); err == nil {
		t.Error("checkpoint without seq and signature accepted")
	}
	cps, err := s.ListAuditCheckpoints(ctx)
	must(t, err)
	if len(cps) != 2 || cps[0].Seq != 10 || cps[1].Hash != "h1000" || cps[1].KeyID != "k1" || string(cps[1].Signature) != "\x00\x01\x02\xff" || !cps[1].Time.Equal(at) {
		t.Fatalf("checkpoints: %+v", cps)
	}

	k1 := catalog.AuditKey{ID: "k1", PublicKey: []byte("pub1"), KeyName: "audit-signing", KeyVersion: "1", Wrapped: []byte("w1"), Created: at}
	must(t, s.PutAuditKey(ctx, catalog.AuditKey{ID: "k2", PublicKey: []byte("pub2"), KeyName: "audit-signing", KeyVersion: "2", Wrapped: []byte("w2"), Created: at.Add(time.Hour)}))
	must(t, s.PutAuditKey(ctx, k1))
	must(t, s.PutAuditKey(ctx, catalog.AuditKey{ID: "k1", PublicKey: []byte("evil"), Wrapped: []byte("x")})) // kept as it was
	if err := s.PutAuditKey(ctx, catalog.AuditKey{ID: "k3"}); err == nil {
		t.Error("key without material accepted")
	}
	ks, err := s.ListAuditKeys(ctx)
	must(t, err)
	if len(ks) != 2 || ks[0].ID != "k1" || string(ks[0].PublicKey) != "pub1" || string(ks[0].Wrapped) != "w1" || ks[0].KeyVersion != "1" || !ks[0].Created.Equal(at) || ks[1].ID != "k2" {
		t.Fatalf("keys: %+v", ks)
	}

	if c, err := s.GetAuditCursor(ctx, "syslog:siem:6514"); err != nil || c != 0 {
		t.Fatalf("unknown cursor: %d %v", c, err)
	}
	must(t, s.PutAuditCursor(ctx, "syslog:siem:6514", 41))
	must(t, s.PutAuditCursor(ctx, "syslog:siem:6514", 42))
	must(t, s.PutAuditCursor(ctx, "jsonl:/x", 7))
	if err := s.PutAuditCursor(ctx, "", 1); err == nil {
		t.Error("cursor without a name accepted")
	}
	if reopen != nil {
		must(t, s.Close())
		s = reopen()
		defer s.Close()
	}
	if c, err := s.GetAuditCursor(ctx, "syslog:siem:6514"); err != nil || c != 42 {
		t.Fatalf("cursor: %d %v, want 42", c, err)
	}
	all, err := s.ListAuditCursors(ctx)
	must(t, err)
	if len(all) != 2 || all["jsonl:/x"] != 7 {
		t.Fatalf("cursors: %v", all)
	}
	if cps, _ := s.ListAuditCheckpoints(ctx); len(cps) != 2 {
		t.Fatalf("checkpoints after reopen: %d", len(cps))
	}
}
