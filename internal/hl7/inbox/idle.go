package inbox

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// idleMeter tells whether the machine has CPU to spare, from the idle
// time the kernel counts for all its CPUs (Linux /proc/stat), sampled at
// most every tenth of a second. Splitting the senders into two groups
// (see splitFrom) costs CPU for latency: it pays when CPU is idle, and
// costs throughput when other work holds every CPU. Where the idle time
// cannot be read, the machine is taken to be busy (no split).
type idleMeter struct {
	read        func() ([]byte, error) // /proc/stat
	at          time.Time              // of the last sample
	idle, total uint64                 // at the last sample
	spare       bool
}

// Hysteresis, in shares of all CPUs' time idle since the last sample: a
// split (on two cores: ~1.1 cores whole, ~1.35 split at ~5,000
// messages/s) leaves less idle than whole groups do, so it starts above
// spareOn and stops only below spareOff.
const (
	spareOn    = 0.30
	spareOff   = 0.10
	spareEvery = 100 * time.Millisecond
)

// hasSpare reports whether CPU was idle lately.
func (m *idleMeter) hasSpare(now time.Time) bool {
	if now.Sub(m.at) < spareEvery {
		return m.spare
	}
	m.at = now
	b, err := m.read()
	if err != nil {
		m.spare = false
		return false
	}
	idle, total, ok := cpuTimes(b)
	if !ok || total <= m.total {
		m.spare = false
		return false
	}
	share := float64(idle-m.idle) / float64(total-m.total)
	first := m.total == 0
	m.idle, m.total = idle, total
	switch {
	case first:
		m.spare = false // since boot: says nothing about now
	case share >= spareOn:
		m.spare = true
	case share < spareOff:
		m.spare = false
	}
	return m.spare
}

// cpuTimes reads the idle (idle and iowait) and total time of all CPUs
// from the first line of /proc/stat ("cpu  user nice system idle iowait
// irq softirq steal …", in clock ticks).
func cpuTimes(stat []byte) (idle, total uint64, ok bool) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 6 || string(f[0]) != "cpu" {
		return 0, 0, false
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if i >= 8 { // guest and guest_nice are counted in user and nice
			break
		}
		total += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return idle, total, true
}

// procStat reads the start of /proc/stat, where the line of all CPUs is.
func procStat() ([]byte, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 512)
	n, err := f.Read(b)
	return b[:n], err
}
