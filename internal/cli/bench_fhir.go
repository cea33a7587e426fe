package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/fhir"
	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/report"
)

func init() {
	commands = append(commands, command{name: "bench fhir", args: "[--reports N] [--clients C] [--duration D]",
		summary: "our FHIR API under load: reads and searches through authentication, the sealed store and the durable audit; p50 and p99", run: benchFHIR})
}

// benchFHIR fills a scratch catalog's sealed FHIR store with the bundles
// of N signed 50-variant reports, serves our FHIR API on loopback with
// authentication and the durable audit, and times C clients reading and
// searching it for a while: read by id, search by patient with
// _include of the results, and Patient by identifier, in turn.
func benchFHIR(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("clinomics bench fhir", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	n := fs.Int("reports", 200, "signed reports in the store (50 variants each)")
	clients := fs.Int("clients", 16, "concurrent clients")
	dur := fs.Duration("duration", 10*time.Second, "how long to run")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *n < 1 || *clients < 1 || *dur <= 0 {
		return usagef("--reports, --clients and --duration must be positive")
	}
	sc, err := openScratch(ctx, "clinomics-bench-fhir-")
	if err != nil {
		return err
	}
	defer sc.Close()
	store, kp, log, alog := sc.store, sc.kp, sc.log, sc.alog
	db, err := clinical.Open(ctx, store, kp)
	if err != nil {
		return err
	}
	fst := app.NewFHIRStore(store, db)
	opt := fhir.BundleOptions{IdentifierSystem: "urn:bench:report", PatientSystem: "urn:bench:mrn"}
	t0 := time.Now()
	for i := range *n {
		b, err := fhir.GenomicReportBundle(benchReport(i), opt)
		if err != nil {
			return err
		}
		raw, err := fhir.Marshal(b)
		if err != nil {
			return err
		}
		if err := fst.PutBundle(ctx, raw, fmt.Sprintf("pat-%d", i)); err != nil {
			return err
		}
	}
	load := time.Since(t0)
	owner := &auth.Principal{Kind: auth.KindLocal, ID: "bench"}
	tok, _, err := auth.CreateToken(ctx, store, auth.NewToken{Name: "bench", Owner: owner,
		Grants: []auth.Grant{{Role: auth.RoleLabDirector, Scope: auth.AllScopes}}, Expires: time.Hour}, time.Now())
	if err != nil {
		return err
	}
	api := &httpapi.Server{Store: store, Log: log, Site: "main", Auth: &auth.Authenticator{Tokens: store}, Audit: alog,
		FHIR: &httpapi.FHIRAPI{Store: fst.Store}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String() + httpapi.FHIRBase

	// The ids of the reports, from a search.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients}}
	get := func(url string) ([]byte, time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		return b, time.Since(t0), err
	}
	b, _, err := get(base + "/DiagnosticReport?_count=1000")
	if err != nil {
		return err
	}
	var found struct {
		Entry []struct {
			Resource struct {
				ID      string `json:"id"`
				Subject struct {
					Reference string `json:"reference"`
				} `json:"subject"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &found); err != nil || len(found.Entry) == 0 {
		return fmt.Errorf("the store holds no reports: %v", err)
	}
	urls := make([]string, 0, 3*len(found.Entry))
	for i, en := range found.Entry {
		urls = append(urls, base+"/DiagnosticReport/"+en.Resource.ID,
			base+"/DiagnosticReport?patient="+en.Resource.Subject.Reference+"&_include=DiagnosticReport:result",
			base+fmt.Sprintf("/Patient?identifier=urn:bench:mrn|MRN%06d", i))
	}
	var mu sync.Mutex
	lat := map[int][]time.Duration{}
	var wg sync.WaitGroup
	errc := make(chan error, *clients)
	deadline := time.Now().Add(*dur)
	for c := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := map[int][]time.Duration{}
			for i := c; time.Now().Before(deadline); i += *clients {
				k := i % len(urls)
				_, d, err := get(urls[k])
				if err != nil {
					errc <- err
					return
				}
				mine[k%3] = append(mine[k%3], d)
			}
			mu.Lock()
			for k, v := range mine {
				lat[k] = append(lat[k], v...)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	pct := func(ds []time.Duration, p float64) string {
		slices.Sort(ds)
		return fmt.Sprintf("%.2f ms", float64(ds[min(len(ds)-1, int(float64(len(ds))*p))].Microseconds())/1000)
	}
	fmt.Fprintf(e.stdout, "machine: %s, %d cores; %d signed reports (50 variants each, %d resources) loaded in %s; %d clients for %s, plain HTTP on loopback, SQLite catalog in %s\n",
		cpuModel(), runtime.NumCPU(), *n, *n*106, load.Round(time.Millisecond), *clients, *dur, os.TempDir())
	var all []time.Duration
	for k, name := range []string{"DiagnosticReport/{id}", "DiagnosticReport?patient=…&_include=…:result (51 resources)", "Patient?identifier=system|value"} {
		fmt.Fprintf(e.stdout, "%-62s %7d requests  p50 %9s  p99 %9s\n", name, len(lat[k]), pct(lat[k], .5), pct(lat[k], .99))
		all = append(all, lat[k]...)
	}
	fmt.Fprintf(e.stdout, "%-62s %7d requests  p50 %9s  p99 %9s  (%.0f requests/s, each authenticated and audited durably)\n",
		"all", len(all), pct(all, .5), pct(all, .99), float64(len(all))/dur.Seconds())
	return nil
}

// benchReport is a signed 50-variant report of patient i.
func benchReport(i int) report.Report {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := report.Report{ID: fmt.Sprintf("rpt-bench-%d", i), Status: report.Signed, Version: 1,
		Patient:  report.Patient{ID: fmt.Sprintf("pat-%d", i), MRN: fmt.Sprintf("MRN%06d", i), Family: "Bench", Given: "Patient", BirthDate: "1980-01-01", Sex: "female"},
		Order:    report.Order{ID: fmt.Sprintf("ord-%d", i), Placer: fmt.Sprintf("PL%d", i), Code: "51969-4", CodeSystem: "http://loinc.org", Display: "Genetic analysis"},
		Specimen: report.Specimen{ID: fmt.Sprintf("spc-%d", i), SampleID: fmt.Sprintf("S%d", i), Type: "Blood"},
		Test:     report.Test{Name: "Hereditary cancer panel", Assay: "panel", Assembly: "GRCh38"},
		Review:   []report.Signature{{Action: "signed", By: "user:bench", Name: "Bench", At: at}}, Created: at, Updated: at}
	for j := range 50 {
		v := report.Variant{Chrom: "chr17", Pos: int64(43044295 + 10*j), Ref: "C", Alt: "T", Gene: "BRCA1", Transcript: "NM_007294.4",
			HGVSc: fmt.Sprintf("NM_007294.4:c.%dG>A", 100+j), HGVSp: fmt.Sprintf("p.(Arg%dHis)", 34+j), Consequence: []string{"missense_variant"},
			Zygosity: "heterozygous", AlleleFreq: 0.5, Depth: 100, AltDepth: 50, Origin: "germline", PopulationAF: -1}
		if j%5 == 0 {
			v.Classification = "Uncertain significance"
		}
		r.Variants = append(r.Variants, v)
	}
	return r
}
