package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/hl7/inbox"
	"github.com/clinomics/clinomics/internal/hl7/mllp"
	"github.com/clinomics/clinomics/internal/keys"
)

func init() {
	commands = append(commands, command{name: "bench hl7", args: "[--messages N] [--dir D] [--conns 1,16] [--cpuprofile F]",
		summary: "MLLP messages/s with durable ACKs over 1 and 16 connections, and p99 time to ACK", run: benchHL7})
}

// benchHL7 runs the real listener, inbox and clinical database over a
// scratch SQLite catalog on the disk of --dir, and sends ADT^A01 messages
// (a new patient each, with a visit) from 1 and then 16 connections; each
// ACK means the message is stored, applied and synced.
func benchHL7(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("clinomics bench hl7", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	n := fs.Int("messages", 20000, "messages per run")
	dir := fs.String("dir", os.TempDir(), "where the scratch catalog goes (its disk is measured)")
	connList := fs.String("conns", "1,16", "comma-separated connection counts, one run each")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the runs here")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *n < 16 {
		return usagef("--messages must be at least 16")
	}
	fmt.Fprintf(e.stdout, "machine: %s, %d cores; scratch SQLite catalog in %s; ADT^A01 of ~%d bytes, a new patient and visit each\n",
		cpuModel(), runtime.NumCPU(), *dir, len(benchADT(0, 0)))
	var counts []int
	for _, f := range strings.Split(*connList, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > *n {
			return usagef("--conns: %q is not a connection count between 1 and --messages", f)
		}
		counts = append(counts, c)
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, conns := range counts {
		load := loadAverage()
		before := readProcCost()
		rate, p50, p99, perGroup, err := benchHL7Run(ctx, *dir, conns, *n)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%2d connection(s): %7.0f messages/s   time to ACK p50 %6.2f ms  p99 %6.2f ms   %4.1f messages a group%s%s\n",
			conns, rate, float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000, perGroup, readProcCost().since(before, *n), load)
	}
	return nil
}

func benchADT(conn, i int) []byte {
	return fmt.Appendf(nil, "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01|B%d-%07d|P|2.5.1\r"+
		"EVN|A01|20260301080000\r"+
		"PID|1||MRN%d-%07d^^^HOSP^MR||Testpatient^Bench^Q||19700101|F|||1 Main St^^Springfield^IL^62701\r"+
		"PV1|1|I|W1^101^A||||1234^Attending^Doc|||MED|||||||||V%d-%07d^^^HOSP^VN|||||||||||||||||||||||||20260301075500\r",
		conn, i, conn, i, conn, i)
}

func benchHL7Run(ctx context.Context, dir string, conns, total int) (rate float64, p50, p99 time.Duration, perGroup float64, err error) {
	scratch, err := os.MkdirTemp(dir, "clinomics-bench-hl7-")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer os.RemoveAll(scratch)
	st, err := catalog.Open(ctx, filepath.Join(scratch, "catalog.db"))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer st.Close()
	keys.DefaultKDF.MemoryKiB = 8 * 1024 // the keyring is scratch too
	kp, err := keys.OpenLocal(filepath.Join(scratch, "keyring"), "bench")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	db, err := clinical.Open(ctx, st, kp)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	alog, err := audit.Open(ctx, st, kp, audit.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer alog.Close()
	in := &inbox.Inbox{DB: db, Audit: alog}
	in.Start()
	defer in.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	srv := &mllp.Server{Handler: in}
	go srv.Serve(ln)
	defer srv.Close()

	per := total / conns
	lat := make([][]time.Duration, conns)
	errc := make(chan error, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &mllp.Client{Addr: ln.Addr().String()}
			defer cl.Close()
			for i := range per {
				t0 := time.Now()
				ack, err := cl.Send(ctx, benchADT(c, i))
				if err != nil {
					errc <- err
					return
				}
				if len(ack) < 8 || !containsAA(ack) {
					errc <- fmt.Errorf("message %d-%d not accepted: %q", c, i, ack)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return 0, 0, 0, 0, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	groups, msgs := in.Groups()
	return float64(len(all)) / el.Seconds(), all[len(all)/2], all[len(all)*99/100], float64(msgs) / float64(max(groups, 1)), nil
}

// procCost is what the process has spent so far: CPU time (user and
// system) and, on Linux, write system calls and bytes written (disk and
// network alike). Per message they are steadier than messages/s on a
// machine shared with other work, which takes the CPU away but does not
// add to them.
type procCost struct {
	cpu            time.Duration
	writes, wbytes int64 // -1: unknown
}

func readProcCost() procCost {
	c := procCost{cpu: cpuTime(), writes: -1, wbytes: -1}
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return c
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ": ")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || err != nil {
			continue
		}
		switch k {
		case "syscw":
			c.writes = n
		case "wchar":
			c.wbytes = n
		}
	}
	return c
}

// since formats the cost of n messages between before and c.
func (c procCost) since(before procCost, n int) string {
	s := fmt.Sprintf("   CPU %4.0f µs", float64((c.cpu-before.cpu).Microseconds())/float64(n))
	if c.writes >= 0 && before.writes >= 0 {
		s += fmt.Sprintf(", %4.1f writes, %5.1f KiB written", float64(c.writes-before.writes)/float64(n), float64(c.wbytes-before.wbytes)/1024/float64(n))
	}
	return s + " a message"
}

// loadAverage is the machine's one-minute load average before a run (other
// work on the machine moves messages/s), or nothing where it is unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return "   load average " + f[0]
}

func containsAA(ack []byte) bool {
	for i := 0; i+7 <= len(ack); i++ {
		if string(ack[i:i+7]) == "MSA|AA|" {
			return true
		}
	}
	return false
}
