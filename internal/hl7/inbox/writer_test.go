package inbox

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/clinical"
)

// TestGroupLimit: below splitFrom senders a group may take them all (up
// to MaxBatch); from splitFrom on, half of them (rounded up), so that two
// groups are in flight.
func TestGroupLimit(t *testing.T) {
	for _, c := range []struct{ senders, maxBatch, want int }{
		{0, 64, 64},
		{1, 64, 64},
		{8, 64, 64},
		{splitFrom - 1, 64, 64},
		{16, 64, 8},
		{17, 64, 9},
		{32, 64, 16},
		{200, 64, 64},
		{16, 4, 4},
	} {
		if got := groupLimit(c.senders, c.maxBatch); got != c.want {
			t.Errorf("groupLimit(%d, %d) = %d, want %d", c.senders, c.maxBatch, got, c.want)
		}
	}
}

// TestSenderCount: the estimate jumps up to the most messages seen in
// Receive at once, and comes down by one for every 16 observations that
// see fewer.
func TestSenderCount(t *testing.T) {
	var s senderCount
	for _, n := range []int{3, 16, 9, 12} {
		s.observe(n)
	}
	if s.n != 16 {
		t.Fatalf("after a peak of 16: %d", s.n)
	}
	s.observe(16) // seen again: it stands
	for range 15 {
		s.observe(1)
	}
	if s.n != 16 {
		t.Fatalf("after 15 observations below the peak: %d, want 16", s.n)
	}
	s.observe(1)
	if s.n != 15 {
		t.Fatalf("after 16 observations below the peak: %d, want 15", s.n)
	}
	for range 16 * 20 {
		s.observe(1)
	}
	if s.n != 1 {
		t.Fatalf("a lone sender: %d, want 1", s.n)
	}
	s.observe(16) // the load is back: at once
	if s.n != 16 {
		t.Fatalf("back to 16 senders: %d", s.n)
	}
}

// TestSplitGroupsKeepOrder: with CPU to spare and 16 senders, the writer
// takes them in groups of at most 8, two in flight; every message is
// acknowledged once stored, and each patient's last update stands.
func TestSplitGroupsKeepOrder(t *testing.T) {
	db, _ := openDB(t)
	var mu sync.Mutex
	sizes := map[int]int{}
	in := &Inbox{DB: db, spare: func(time.Time) bool { return true }, onGroup: func(n int) {
		mu.Lock()
		sizes[n]++
		mu.Unlock()
	}}
	in.Start()
	defer in.Close()

	const senders, each = 16, 40
	var wg sync.WaitGroup
	for c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				raw := adt("A08", fmt.Sprintf("S%d-%d", c, i), fmt.Sprintf("202603010800%02d", i), fmt.Sprintf("S%d^^^HOSP^MR", c), fmt.Sprintf("Name%d", i), fmt.Sprintf("VS%d", c))
				ack, err := in.Receive(context.Background(), "test", []byte(raw))
				if err != nil || !bytes.Contains(ack, []byte("MSA|AA")) {
					t.Errorf("sender %d message %d: %v %s", c, i, err, ack)
					return
				}
			}
		}()
	}
	wg.Wait()
	for c := range senders {
		pid, err := db.FindPatient(context.Background(), []clinical.Identifier{{Value: fmt.Sprintf("S%d", c), Authority: "HOSP", Type: "MR"}})
		if err != nil {
			t.Fatal(err)
		}
		p, _, _, _, _ := db.Records(context.Background(), pid)
		if want := fmt.Sprintf("Name%d", each-1); p.Family != want {
			t.Errorf("patient %d: family %q, want the last update's %q", c, p.Family, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var total, over int
	for n, k := range sizes {
		total += n * k
		if n > senders/2 {
			over += n * k
		}
	}
	// The first groups may take more, before the writer has seen all
	// the senders at once.
	if total != senders*each || over > senders*each/10 {
		t.Errorf("group sizes %v: %d messages in groups over %d", sizes, over, senders/2)
	}
}

// TestIdleMeter: the share of CPU time idle between samples, from
// /proc/stat's line of all CPUs, with hysteresis; an unreadable or
// malformed file means no CPU to spare.
func TestIdleMeter(t *testing.T) {
	for _, c := range []struct {
		stat        string
		idle, total uint64
		ok          bool
	}{
		{"cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5\n", 850, 1000, true},
		{"cpu  100 5 50 800 50 1 2 3 40 0\n", 850, 1011, true}, // guest time is in user already
		{"cpu  100 0 50 800 50\n", 850, 1000, true},
		{"cpu  100 0 50\n", 0, 0, false},
		{"cpu0 100 0 50 800 50 0 0 0\n", 0, 0, false},
		{"cpu  100 x 50 800 50 0 0 0\n", 0, 0, false},
		{"", 0, 0, false},
	} {
		idle, total, ok := cpuTimes([]byte(c.stat))
		if idle != c.idle || total != c.total || ok != c.ok {
			t.Errorf("cpuTimes(%q) = %d, %d, %v, want %d, %d, %v", c.stat, idle, total, ok, c.idle, c.total, c.ok)
		}
	}

	var stat string
	var readErr error
	m := &idleMeter{read: func() ([]byte, error) { return []byte(stat), readErr }}
	at := time.Unix(1000, 0)
	step := func(idle, busy uint64) bool {
		at = at.Add(spareEvery)
		s := m.total - m.idle + busy
		stat = fmt.Sprintf("cpu  %d 0 0 %d 0 0 0 0 0 0\n", s, m.idle+idle)
		return m.hasSpare(at)
	}
	for i, c := range []struct {
		idle, busy uint64
		want       bool
	}{
		{100, 100, false}, // the first sample is since boot
		{50, 50, true},    // half idle
		{20, 80, true},    // 20 %: still on (above spareOff)
		{5, 95, false},    // 5 %: off
		{20, 80, false},   // 20 %: still off (below spareOn)
		{40, 60, true},
	} {
		if got := step(c.idle, c.busy); got != c.want {
			t.Errorf("sample %d (%d idle, %d busy): spare %v, want %v", i, c.idle, c.busy, got, c.want)
		}
	}
	if !m.hasSpare(at.Add(spareEvery / 2)) {
		t.Error("between samples: the last answer stands")
	}
	readErr = fmt.Errorf("no /proc")
	if m.hasSpare(at.Add(spareEvery)) {
		t.Error("unreadable: spare")
	}
}
