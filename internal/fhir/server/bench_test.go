package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkReadSearchLoad: 16 concurrent clients over loopback doing reads
// and searches (identifier, patient with _include) against 2,000 reports;
// reports p50/p99 latency. Run: go test -bench LoadP99 -benchtime 10s.
func BenchmarkReadSearchLoadP99(b *testing.B) {
	st, _ := OpenMem("")
	var res [][]byte
	const n = 2000
	for i := range n {
		res = append(res,
			[]byte(fmt.Sprintf(`{"resourceType":"Patient","id":"p%d","identifier":[{"system":"urn:mrn","value":"M%d"}]}`, i, i)),
			[]byte(fmt.Sprintf(`{"resourceType":"Observation","id":"o%d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"69548-6"}]},"subject":{"reference":"Patient/p%d"}}`, i, i)),
			[]byte(fmt.Sprintf(`{"resourceType":"DiagnosticReport","id":"r%d","status":"final","identifier":[{"system":"urn:acc","value":"A%d"}],"code":{"coding":[{"system":"http://loinc.org","code":"51969-4"}]},"subject":{"reference":"Patient/p%d"},"result":[{"reference":"Observation/o%d"}]}`, i, i, i, i)))
	}
	if err := Put(context.Background(), st, time.Now(), res...); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Store: st, Types: []string{"Patient", "DiagnosticReport", "Observation", "ServiceRequest", "Specimen"}}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	const clients = 16
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	var wg sync.WaitGroup
	var next int64
	var nmu sync.Mutex
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				nmu.Lock()
				i := next
				next++
				nmu.Unlock()
				if i >= int64(b.N) {
					break
				}
				k := (int(i)*7919 + c) % n
				var u string
				switch i % 3 {
				case 0:
					u = fmt.Sprintf("%s/DiagnosticReport/r%d", srv.URL, k)
				case 1:
					u = fmt.Sprintf("%s/Patient?identifier=urn:mrn|M%d", srv.URL, k)
				default:
					u = fmt.Sprintf("%s/DiagnosticReport?patient=p%d&_include=DiagnosticReport:result&_include=DiagnosticReport:subject", srv.URL, k)
				}
				t0 := time.Now()
				resp, err := client.Get(u)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("%s: %d", u, resp.StatusCode)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "req/s")
	}
}
