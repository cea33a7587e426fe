package fhir

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/report"
)

// benchReport is threeVariants grown to n variants (two in three
// classified) over 20 panel regions.
func benchReport(n int) report.Report {
	r := threeVariants()
	r.ID = fmt.Sprintf("rpt-bench-%d", n)
	base := r.Variants
	r.Variants = make([]report.Variant, n)
	for i := range r.Variants {
		v := base[i%len(base)]
		v.Pos += int64(i * 1000)
		v.HGVSc = fmt.Sprintf("c.%d%s>%s", 100+i, v.Ref[:1], v.Alt[:1])
		if i%3 == 2 {
			v.Classification = ""
		} else if v.Classification == "" {
			v.Classification = "Uncertain significance"
		}
		r.Variants[i] = v
	}
	regions := r.Regions
	r.Regions = make([]report.Region, 20)
	for i := range r.Regions {
		g := regions[i%len(regions)]
		g.Start += int64(i * 10000)
		g.End = g.Start + 5000
		r.Regions[i] = g
	}
	return r
}

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGenomicReportBundle: a 50-variant report built into its
// bundle and validated with Validate, per operation. Run with -cpu 1.
// Besides ns/op (wall time) it reports the process's CPU time per bundle
// and bundles per CPU-second, which a machine shared with other work
// does not inflate.
func BenchmarkGenomicReportBundle(b *testing.B) {
	r := benchReport(50)
	opt := testBundleOptions()
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		bundle, err := GenomicReportBundle(r, opt)
		if err != nil {
			b.Fatal(err)
		}
		if err := Validate(bundle); err != nil {
			b.Fatal(err)
		}
	}
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "bundles/cpu-s")
	}
}

// BenchmarkGenomicReportBundleJSON adds the encoding to JSON, for
// orientation (what a send costs before the network).
func BenchmarkGenomicReportBundleJSON(b *testing.B) {
	r := benchReport(50)
	opt := testBundleOptions()
	b.ReportAllocs()
	var size int
	for b.Loop() {
		bundle, err := GenomicReportBundle(r, opt)
		if err != nil {
			b.Fatal(err)
		}
		if err := Validate(bundle); err != nil {
			b.Fatal(err)
		}
		data, err := Marshal(bundle)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size), "bytes/bundle")
}

// BenchmarkParseBundle reads the 50-variant bundle back from JSON.
func BenchmarkParseBundle(b *testing.B) {
	bundle, err := GenomicReportBundle(benchReport(50), testBundleOptions())
	if err != nil {
		b.Fatal(err)
	}
	data, _ := Marshal(bundle)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateBundle is Validate alone on the 50-variant bundle, to
// compare with FHIR.js's validate on the same bundle (see
// docs/benchmarks.md).
func BenchmarkValidateBundle(b *testing.B) {
	bundle, err := GenomicReportBundle(benchReport(50), testBundleOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate(bundle); err != nil {
			b.Fatal(err)
		}
	}
}
