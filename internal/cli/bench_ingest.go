package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/lake"
)

// benchIngest compares storing a file in the lake (hashed, encrypted,
// written, synced) with `cp` and `sha256sum` of the same file on the same
// disk, and times 1 MiB range reads from the stored object.
func benchIngest(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "bench ingest")
	sizeMB := fs.Int("size-mb", 2048, "file size in MiB")
	dir := fs.String("dir", "", "scratch directory on the disk to measure (default: a temporary directory)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(*dir, "clinomics-bench-ingest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	size := int64(*sizeMB) << 20
	src := filepath.Join(scratch, "input.bin")
	if err := writeRandom(src, size); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "machine: %s, %d cores; file: %d MiB of random bytes in %s\n", cpuModel(), runtime.NumCPU(), *sizeMB, scratch)
	mbps := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	timeCmd := func(name string, args ...string) (time.Duration, error) {
		start := time.Now()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return time.Since(start), nil
	}
	exec.Command("sync").Run()
	dCp, err := timeCmd("cp", src, filepath.Join(scratch, "copy.bin"))
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := timeCmd("sync", filepath.Join(scratch, "copy.bin")); err != nil {
		return err
	}
	dCpSync := dCp + time.Since(start)
	os.Remove(filepath.Join(scratch, "copy.bin"))
	exec.Command("sync").Run()
	dSha, err := timeCmd("sha256sum", src)
	if err != nil {
		return err
	}

	store, err := catalog.Open(ctx, filepath.Join(scratch, "catalog.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	be, err := lake.NewLocalFS(filepath.Join(scratch, "lake"))
	if err != nil {
		return err
	}
	kr, err := keys.OpenLocal(filepath.Join(scratch, "keyring"), "bench")
	if err != nil {
		return err
	}
	l := lake.New(store, be, kr, nil)
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	rssBefore := peakRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sysBefore := ms.Sys
	start = time.Now()
	if _, err := l.Put(ctx, "bench/input.bin", f, lake.PutOptions{Patient: "bench"}); err != nil {
		f.Close()
		return err
	}
	dPut := time.Since(start)
	f.Close()
	runtime.ReadMemStats(&ms)
	rssAfter := peakRSS()

	// 1 MiB range reads at random offsets.
	const reads = 200
	var total time.Duration
	var worst time.Duration
	for i := 0; i < reads; i++ {
		off := rand.Int64N(size - 1<<20)
		t0 := time.Now()
		r, err := l.ReadRange(ctx, "bench/input.bin", off, 1<<20)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		r.Close()
		d := time.Since(t0)
		total += d
		worst = max(worst, d)
	}
	fmt.Fprintf(e.stdout, "cp:                     %6.2fs  %7.0f MiB/s\n", dCp.Seconds(), mbps(dCp))
	fmt.Fprintf(e.stdout, "cp + sync of the copy:  %6.2fs  %7.0f MiB/s\n", dCpSync.Seconds(), mbps(dCpSync))
	fmt.Fprintf(e.stdout, "sha256sum:              %6.2fs  %7.0f MiB/s\n", dSha.Seconds(), mbps(dSha))
	fmt.Fprintf(e.stdout, "lake put (sha256 + AES-256-GCM + write + fsync + catalog): %.2fs  %.0f MiB/s\n", dPut.Seconds(), mbps(dPut))
	fmt.Fprintf(e.stdout, "throughput vs cp: %.2f; vs cp + sync: %.2f\n", dCp.Seconds()/dPut.Seconds(), dCpSync.Seconds()/dPut.Seconds())
	fmt.Fprintf(e.stdout, "memory: Go runtime memory grew %.1f MiB during the put (total %.1f MiB); process peak RSS %.1f MiB before, %.1f MiB after\n",
		float64(ms.Sys-sysBefore)/(1<<20), float64(ms.Sys)/(1<<20), float64(rssBefore)/(1<<10), float64(rssAfter)/(1<<10))
	fmt.Fprintf(e.stdout, "1 MiB range read (page cache warm), %d reads: mean %.2f ms, worst %.2f ms\n", reads, total.Seconds()*1000/reads, worst.Seconds()*1000)
	return nil
}

// writeRandom writes size pseudo-random (incompressible) bytes to path.
func writeRandom(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(w, r, size); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// peakRSS is the process's peak resident set (VmHWM) in KiB; 0 if unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func init() {
	commands = append(commands, command{name: "bench ingest", args: "[--size-mb N] [--dir D]", summary: "lake ingest vs cp and sha256sum; 1 MiB range reads", run: benchIngest})
}
