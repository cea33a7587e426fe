package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

// TestSignedReportReachesTheEHR follows a report from draft to the EHR
// through real processes: `clinomics serve` (HTTPS, its JWKS served at
// /.well-known/jwks.json), the EHR stand-in `clinomics fhir standin` (a
// SMART Backend Services token endpoint that fetches that JWKS over TLS,
// trusting the server's self-signed certificate with --jwks-ca), and an
// npm MLLP receiver (simple-hl7) for the ORU^R01. A bioinformatician
// drafts, one lab director reviews and another signs (the reviewer's own
// signature is refused). The stand-in answers the first two requests
// 503 and refuses the first access token, so the outbox retries and the
// token is renewed; still the EHR holds one DiagnosticReport per report,
// with its variant Observations. Our own FHIR API serves the report; a
// second report signed while the EHR is down survives a kill -9 of the
// server and is delivered after the restart. The audit trail holds the
// signing and the deliveries, and no patient data is in the server's log,
// the audit trail or the catalog files.
func TestSignedReportReachesTheEHR(t *testing.T) {
	needTools(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed (scripts/install-deps test installs it)")
	}
	if _, err := os.Stat("../../scripts/node/node_modules/simple-hl7"); err != nil {
		t.Fatal("scripts/node/node_modules is not installed (scripts/test runs npm ci)")
	}
	deadline := time.Now().Add(60 * time.Second)
	s := newSandbox(t, t.TempDir())

	// The MLLP receiver (third-party, from npm).
	recv := startMLLPReceiver(t, node)

	// Our server's config: the EHR is the stand-in on a port chosen now.
	ehrAddr, addr := freePort(t), freePort(t)
	ehrBase := "http://" + ehrAddr + "/fhir"
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	site := fmt.Sprintf(`log:
  level: debug
hl7:
  outbound:
    address: %s
    backoff: 200ms
    max_backoff: 1s
    receiving_application: EPIC
fhir:
  ehr:
    base_url: %s
    client_id: clinomics-test
    timeout: 10s
  orders:
    poll_interval: 0s
  outbox:
    backoff: 200ms
    max_backoff: 1s
`, recv.addr, ehrBase)
	// First without fhir.results.patient_system: the MRNs' assigning
	// authority (HOSP) is no URI, so no bundle can name the patient.
	if err := os.WriteFile(cfg, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "CLINOMICS_CONFIG="+cfg, "CLINOMICS_SERVER=https://"+addr)

	// The people. Tokens made with --local belong to the server machine's
	// operating-system user: the bioinformatician and the first lab
	// director are that person. The second lab director is another
	// person, whose token is made as the API makes it for someone signed
	// in (auth.CreateToken with that user as owner).
	local := func(name, role string) string {
		out, errs, code := s.run(nil, "token", "create", "--local", "--name", name, "--grant", role)
		if code != 0 {
			t.Fatalf("token create %s: %s", name, errs)
		}
		return strings.TrimSpace(out)
	}
	bio, dirA, clin := local("bio", "bioinformatician"), local("dir-a", "lab-director"), local("ward", "clinician")
	dirB := personToken(t, s, "dir-b", auth.RoleLabDirector)

	server, stopServer := startServerAt(t, s, addr)
	defer func() { stopServer() }()
	jwksCA := tlsconf.SelfSignedCertPath(filepath.Join(s.data, "tls"))
	ehrDir := t.TempDir()
	ehrArgs := []string{"--jwks-url", server + "/.well-known/jwks.json", "--client-id", "clinomics-test", "--jwks-ca", jwksCA, "--fault-control"}
	stopEHR := startEHR(t, ehrAddr, ehrDir, ehrArgs...)
	defer func() { stopEHR() }()

	as := func(tok string, args ...string) string {
		t.Helper()
		out, errs, code := s.run([]string{"CLINOMICS_TOKEN=" + tok}, args...)
		if code != 0 {
			log, _ := os.ReadFile(filepath.Join(s.data, "server.log"))
			t.Fatalf("clinomics %s: exit %d\n%s%s\nserver log:\n%s", strings.Join(args, " "), code, out, errs, log)
		}
		return out
	}
	const family, mrn, hgvs = "ZQXFAMILY", "ZQXMRN5521", "NM_000059.4:c.7397T>C"
	const patient = "pat-e2e-res"
	draft := func(order string) string {
		var d map[string]any
		if err := json.Unmarshal(mustRead(t, "../report/testdata/draft.json"), &d); err != nil {
			t.Fatal(err)
		}
		p := d["Patient"].(map[string]any)
		p["ID"], p["MRN"], p["Family"], p["Given"] = patient, mrn, family, family+"GIVEN"
		o := d["Order"].(map[string]any)
		o["ID"], o["Placer"] = "ord-"+order, "PL-"+order
		b, _ := json.Marshal(d)
		f := filepath.Join(t.TempDir(), "draft-"+order+".json")
		os.WriteFile(f, b, 0o600)
		return f
	}
	rptID := regexp.MustCompile(`rpt-[0-9a-f]+`)
	create := func(order string) string {
		t.Helper()
		id := rptID.FindString(as(bio, "report", "create", "--draft", draft(order)))
		if id == "" {
			t.Fatal("report create printed no report id")
		}
		as(dirA, "report", "review", id, "--note", "interpretation checked")
		return id
	}

	// 1. Draft, review, and the reviewer's own sign-out refused (four eyes).
	r1 := create("E2E-1")
	if out, errs, code := s.run([]string{"CLINOMICS_TOKEN=" + dirA}, "report", "sign", r1); code == 0 || !strings.Contains(errs, "cannot also sign") {
		t.Fatalf("the reviewer signed the report out: exit %d\n%s%s", code, out, errs)
	}
	// Without a system for the MRN the sign-out is refused saying why
	// (not an internal error), and nothing is queued.
	if out, errs, code := s.run([]string{"CLINOMICS_TOKEN=" + dirB}, "report", "sign", r1); code == 0 ||
		!strings.Contains(errs, "Patient.Authority") || !strings.Contains(errs, "fhir.results.patient_system") || !strings.Contains(errs, "HTTP 400") {
		t.Fatalf("sign-out without a patient system: exit %d\n%s%s", code, out, errs)
	}
	if it := outboxItem(t, s, r1); it.ID != "" {
		t.Fatalf("a refused sign-out queued a bundle: %+v", it)
	}
	stopServer()
	site += "  results:\n    patient_system: urn:oid:2.16.840.1.113883.19.5\n"
	if err := os.WriteFile(cfg, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stopServer = startServerAt(t, s, addr)
	if out := as(bio, "report", "show", r1); !strings.Contains(out, "status    reviewed") {
		t.Fatalf("after the refused sign-out:\n%s", out)
	}
	// The EHR fails the next two requests and refuses the first token.
	resp, err := http.Post("http://"+ehrAddr+"/_faults?fail=2&reject=1", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("injecting faults: %v %v", err, resp)
	}
	resp.Body.Close()
	if out := as(dirB, "report", "sign", r1); !strings.Contains(out, "signed") {
		t.Fatalf("sign: %s", out)
	}

	// (a, d) The bundle is delivered after the retries.
	it := waitOutbox(t, s, r1, catalog.OutboxDelivered, deadline)
	if it.Attempts < 3 {
		t.Errorf("delivered after %d attempts; the two injected 503s should have cost two", it.Attempts)
	}
	// (b) The ORU^R01 reaches the MLLP receiver with the variant.
	oru := recv.wait(t, deadline, func(m string) bool { return strings.Contains(m, "ORU^R01") && strings.Contains(m, mrn) })
	if !regexp.MustCompile(`\rOBX\|[^\r]*\|48004-6\^[^\r]*\|` + regexp.QuoteMeta(hgvs) + `\|`).MatchString(oru) {
		t.Errorf("no OBX with the c.HGVS %s in the ORU:\n%s", hgvs, strings.ReplaceAll(oru, "\r", "\n"))
	}
	// (c) Our FHIR API serves the signed report with its observations.
	ours := func(want int) fhirBundle {
		t.Helper()
		var b fhirBundle
		for {
			code, body := getWith(t, s.client(t), server+"/fhir/r4/DiagnosticReport?patient="+patient+"&_include=DiagnosticReport:result", clin)
			if code != 200 {
				t.Fatalf("our FHIR API: %d %s", code, body)
			}
			b = parseBundle(t, body)
			if b.Total == want || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if b.Total != want {
			t.Fatalf("our FHIR API has %d reports of the patient, want %d", b.Total, want)
		}
		return b
	}
	if b := ours(1); !b.hasVariant(hgvs) || !b.hasReport(r1) {
		t.Errorf("our FHIR API: report %s or its variant observation missing: %+v", r1, b)
	}

	// (e) The EHR goes down; a second report is signed and its bundle
	// waits; the server is killed (SIGKILL) with it queued.
	stopEHR()
	r2 := create("E2E-2")
	as(dirB, "report", "sign", r2)
	pending := waitOutbox(t, s, r2, catalog.OutboxPending, deadline, "connection refused")
	t.Logf("queued while the EHR is down: %s, %d attempts (%s)", pending.ID, pending.Attempts, pending.LastError)
	stopServer()
	if it := outboxItem(t, s, r2); it.State != catalog.OutboxPending {
		t.Fatalf("after the kill the bundle is %q", it.State)
	}
	stopEHR = startEHR(t, ehrAddr, ehrDir, ehrArgs...)
	_, stopServer = startServerAt(t, s, addr)
	waitOutbox(t, s, r2, catalog.OutboxDelivered, deadline)
	if b := ours(2); !b.hasReport(r1) || !b.hasReport(r2) {
		t.Errorf("our FHIR API after the restart: %+v", b)
	}
	recv.wait(t, deadline, func(m string) bool { return strings.Contains(m, "ORU^R01") && strings.Contains(m, "PL-E2E-2") })
	if out := as(bio, "fhir", "outbox", "--state", "delivered"); strings.Count(out, "delivered") != 2 {
		t.Errorf("fhir outbox --state delivered:\n%s", out)
	}
	stopServer()

	// (f) The audit trail: signing and deliveries recorded, chain intact,
	// no patient data; nor in the server's log or the catalog files.
	if out, errs, code := s.run(nil, "audit", "verify"); code != 0 {
		t.Fatalf("audit verify: %s %s", out, errs)
	}
	trail, _, _ := s.run(nil, "audit", "export", "--jsonl", "-")
	for action, n := range map[string]int{`"report.sign"`: 2, `"fhir.deliver"`: 2, `"report.review"`: 2} {
		if got := strings.Count(trail, action); got < n {
			t.Errorf("%d %s records in the audit trail, want %d", got, action, n)
		}
	}
	files, _ := filepath.Glob(filepath.Join(s.data, "*"))
	for _, f := range append(files, filepath.Join(s.data, "server.log")) {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			continue
		}
		if b, _ := os.ReadFile(f); strings.Contains(string(b), family) || strings.Contains(string(b), mrn) {
			t.Errorf("%s holds the patient's name or MRN", filepath.Base(f))
		}
	}
	if strings.Contains(trail, family) || strings.Contains(trail, mrn) {
		t.Error("the audit trail holds the patient's name or MRN")
	}

	// (a) What the EHR holds, read with a plain HTTP client: the stand-in
	// restarted on its journal with open FHIR endpoints (no client
	// registered, so no token is needed).
	stopEHR()
	stopEHR = startEHR(t, ehrAddr, ehrDir)
	ehrGet := func(query string) fhirBundle {
		t.Helper()
		code, body := getWith(t, http.DefaultClient, ehrBase+"/"+query, "")
		if code != 200 {
			t.Fatalf("EHR %s: %d %s", query, code, body)
		}
		return parseBundle(t, body)
	}
	if b := ehrGet("DiagnosticReport"); b.Total != 2 {
		t.Errorf("the EHR holds %d DiagnosticReports, want 2 (one per report): %+v", b.Total, b)
	}
	for _, id := range []string{r1, r2} {
		b := ehrGet("DiagnosticReport?identifier=" + url.QueryEscape("urn:clinomics:report|"+id+"/DiagnosticReport") + "&_include=DiagnosticReport:result")
		if b.Total != 1 || !b.hasVariant(hgvs) {
			t.Errorf("the EHR's report %s: %d matches, variant observation (69548-6, %s) included: %v", id, b.Total, hgvs, b.hasVariant(hgvs))
		}
	}
	if b := ehrGet("Patient"); b.Total != 1 {
		t.Errorf("the EHR holds %d patients, want 1 (the second bundle's conditional create matches the first's)", b.Total)
	}
}

// personToken makes a personal API token owned by the user login (as
// POST /api/v1/tokens does for someone signed in), with one role.
func personToken(t *testing.T, s *sandbox, login string, role auth.Role) string {
	t.Helper()
	ctx := context.Background()
	st, err := catalog.Open(ctx, filepath.Join(s.data, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := []auth.Grant{{Role: role, Scope: "site:main"}}
	tok, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: login,
		Owner: &auth.Principal{Kind: auth.KindUser, ID: login, Grants: g}, Expires: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// startEHR starts the EHR stand-in on addr over the journal in dir and
// waits until it listens; it returns a func that kills it (SIGKILL).
func startEHR(t *testing.T, addr, dir string, extra ...string) func() {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"fhir", "standin", "--listen", addr, "--data", dir}, extra...)...)
	logf, _ := os.OpenFile(filepath.Join(dir, "standin.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	cmd.Stderr = logf
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() }) }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "listening") {
		stop()
		b, _ := os.ReadFile(filepath.Join(dir, "standin.log"))
		t.Fatalf("the EHR stand-in did not start: %q %v\n%s", line, err, b)
	}
	go io.Copy(io.Discard, out)
	return stop
}

// mllpReceiver is the npm simple-hl7 receiver and what it got.
type mllpReceiver struct {
	addr string
	mu   sync.Mutex
	msgs []string
}

func startMLLPReceiver(t *testing.T, node string) *mllpReceiver {
	t.Helper()
	cmd := exec.Command(node, "../../scripts/node/hl7-listen.mjs", "--impl", "simple-hl7", "--port", "0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	dec := json.NewDecoder(stdout)
	var first struct{ Listening int }
	if err := dec.Decode(&first); err != nil || first.Listening == 0 {
		t.Fatalf("the MLLP receiver did not start: %v", err)
	}
	r := &mllpReceiver{addr: fmt.Sprintf("127.0.0.1:%d", first.Listening)}
	go func() {
		for {
			var line struct {
				Message string `json:"message"`
			}
			if err := dec.Decode(&line); err != nil {
				return
			}
			r.mu.Lock()
			r.msgs = append(r.msgs, line.Message)
			r.mu.Unlock()
		}
	}()
	return r
}

// wait returns the first message received that match accepts.
func (r *mllpReceiver) wait(t *testing.T, deadline time.Time, match func(string) bool) string {
	t.Helper()
	for {
		r.mu.Lock()
		for _, m := range r.msgs {
			if match(m) {
				r.mu.Unlock()
				return m
			}
		}
		n := len(r.msgs)
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the MLLP receiver did not get the message (%d others received)", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// outboxRow is a row of `clinomics fhir outbox --json`.
type outboxRow struct {
	ID, State, LastError string
	Attempts             int
}

// outboxItem is the EHR outbox item of report id, as `clinomics fhir
// outbox --state` lists it in any of its states.
func outboxItem(t *testing.T, s *sandbox, id string) outboxRow {
	t.Helper()
	for _, state := range []string{catalog.OutboxPending, catalog.OutboxDelivered, catalog.OutboxDead} {
		out, errs, code := s.run(nil, "fhir", "outbox", "--state", state, "--json")
		if code != 0 {
			t.Fatalf("fhir outbox: %s", errs)
		}
		var rows []outboxRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("fhir outbox --json: %v\n%s", err, out)
		}
		for _, r := range rows {
			if strings.HasPrefix(r.ID, "fhir-"+id+"-") {
				return r
			}
		}
	}
	return outboxRow{}
}

// waitOutbox polls `clinomics fhir outbox` until report id's bundle is
// in state (with an error holding errWant, if given).
func waitOutbox(t *testing.T, s *sandbox, id, state string, deadline time.Time, errWant ...string) outboxRow {
	t.Helper()
	for {
		it := outboxItem(t, s, id)
		if it.State == state && (len(errWant) == 0 || strings.Contains(it.LastError, errWant[0])) {
			return it
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.data, "server.log"))
			t.Fatalf("report %s's bundle: %+v, want %s %v\nserver log:\n%s", id, it, state, errWant, log)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func getWith(t *testing.T, c *http.Client, u, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "application/fhir+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// fhirBundle is the part of a searchset Bundle the test reads.
type fhirBundle struct {
	Total int `json:"total"`
	Entry []struct {
		Search   struct{ Mode string } `json:"search"`
		Resource struct {
			ResourceType string `json:"resourceType"`
			Identifier   []struct{ System, Value string }
			Code         struct {
				Coding []struct{ System, Code string }
			}
			Component []struct {
				Code struct {
					Coding []struct{ Code string }
				}
				ValueCodeableConcept struct {
					Coding []struct{ Code, Display string }
				}
			}
		} `json:"resource"`
	} `json:"entry"`
}

func parseBundle(t *testing.T, body string) fhirBundle {
	t.Helper()
	var b fhirBundle
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("not a Bundle: %v\n%s", err, body)
	}
	return b
}

// hasReport: a DiagnosticReport matched with our identifier of report id.
func (b fhirBundle) hasReport(id string) bool {
	for _, e := range b.Entry {
		if e.Resource.ResourceType != "DiagnosticReport" || e.Search.Mode != "match" {
			continue
		}
		for _, i := range e.Resource.Identifier {
			if strings.HasPrefix(i.Value, id+"/") {
				return true
			}
		}
	}
	return false
}

// hasVariant: an included Observation coded LOINC 69548-6 (a variant)
// with hgvs as its c.HGVS (48004-6) component.
func (b fhirBundle) hasVariant(hgvs string) bool {
	for _, e := range b.Entry {
		r := e.Resource
		if r.ResourceType != "Observation" || e.Search.Mode != "include" || len(r.Code.Coding) == 0 ||
			r.Code.Coding[0].System != "http://loinc.org" || r.Code.Coding[0].Code != "69548-6" {
			continue
		}
		for _, c := range r.Component {
			if len(c.Code.Coding) > 0 && c.Code.Coding[0].Code == "48004-6" {
				for _, v := range c.ValueCodeableConcept.Coding {
					if v.Code == hgvs || v.Display == hgvs {
						return true
					}
				}
			}
		}
	}
	return false
}
