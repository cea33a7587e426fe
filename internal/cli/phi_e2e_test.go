package cli_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoPatientDataInLogsOrErrors sends marked patient data through the
// server's interfaces — request bodies, object paths, headers, upload
// contents, malformed and refused requests — with debug logging on, and
// searches every response and the server's log for the marker.
func TestNoPatientDataInLogsOrErrors(t *testing.T) {
	needTools(t)
	s := newSandbox(t, t.TempDir())
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	os.WriteFile(cfg, []byte("log:\n  level: debug\n"), 0o644)
	s.env = append(s.env, "CLINOMICS_CONFIG="+cfg)
	server, stop := startServer(t, s)
	const mark = "DOE^JANE^MRN4471"
	var responses bytes.Buffer
	send := func(method, path, body string, header ...string) {
		req, err := http.NewRequest(method, server+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := s.client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		responses.WriteString(method + " -> " + resp.Status + "\n")
		for k, v := range resp.Header {
			responses.WriteString(k + ": " + strings.Join(v, ",") + "\n")
		}
		responses.Write(b)
		responses.WriteString("\n")
	}
	fq := filepath.Join(t.TempDir(), "x.fastq")
	os.WriteFile(fq, []byte("@"+mark+"\nACGT\n+\nIIII\n"), 0o600)
	send("POST", "/api/v1/runs", `{"pipeline":"germline","sample":"`+mark+`","fastq":["/nope/`+mark+`_R1.fastq.gz"],"reference":"/nope/`+mark+`.fa","out":"/tmp/`+mark+`"}`)
	send("POST", "/api/v1/runs", `{"pipeline":"germline","sample":"S1","fastq":["`+fq+`"],"reference":"`+fq+`","out":"lake:results/`+mark+`","patient":"`+mark+`"}`)
	send("POST", "/api/v1/runs", `{"pipeline":"`+mark+`"}`)
	send("POST", "/api/v1/runs", `{"pipeline":"germline","`+mark+`":1}`)
	send("POST", "/api/v1/runs", `{"pipeline":"germline", "sample": `+mark+`}`)
	send("GET", "/api/v1/runs?sample="+mark+"&limit="+mark, "")
	send("GET", "/api/v1/runs/"+mark, "")
	send("GET", "/api/v1/objects/"+mark+"/x.fastq", "")
	send("GET", "/api/v1/objects?prefix="+mark, "")
	send("POST", "/api/v1/uploads", `{"path":"p/`+mark+`.fastq","size":22,"sha256":"`+strings.Repeat("0", 64)+`","patient":"`+mark+`"}`)
	send("POST", "/api/v1/uploads", `{"path":"p/ok.fastq","size":22,"sha256":"`+mark+`"}`)
	send("PATCH", "/api/v1/uploads/"+mark, "@"+mark+"\nACGT\n+\nIIII\n", "Upload-Offset", "0")
	send("POST", "/api/v1/tokens", `{"name":"`+mark+`","expires_days":1,"grants":["`+mark+`"]}`)
	send("DELETE", "/api/v1/tokens/"+mark, "")
	// Clinical reports: the content is patient data; none of it may reach a log or an error.
	send("POST", "/api/v1/reports", `{"Patient":{"ID":"p1","Family":"`+mark+`","MRN":"`+mark+`"},"Test":{"Name":"`+mark+`"}}`)
	send("POST", "/api/v1/reports", `{"Patient":{"ID":"`+mark+`"},"Test":{"Name":"t"}}`)
	send("POST", "/api/v1/reports", `{"Patient":{"ID":"p1","Family":`+mark+`}}`)
	send("POST", "/api/v1/reports", `{"Patient":{"ID":"p1","BirthDate":"`+mark+`"},"Test":{"Name":"t"}}`)
	send("POST", "/api/v1/reports", `{"`+mark+`":1}`)
	send("GET", "/api/v1/reports?patient="+mark+"&status="+mark, "")
	send("GET", "/api/v1/reports/"+mark+"/pdf", "")
	send("PUT", "/api/v1/reports/"+mark, `{"Patient":{"ID":"p1","Given":"`+mark+`"},"Test":{"Name":"t"}}`)
	send("POST", "/api/v1/reports/"+mark+"/amend", `{"reason":"`+mark+`"}`)
	send("GET", "/api/v1/"+mark, "")
	send("GET", "/api/v1/runs", "", "Authorization", "Bearer "+mark)
	send("GET", "/api/v1/runs", "", "Authorization", "Bearer clk_"+mark)
	send("GET", "/api/v1/objects/a", "", "X-Break-Glass-Reason", mark)
	stop()
	log, _ := os.ReadFile(filepath.Join(s.data, "server.log"))
	if !strings.Contains(string(log), "level=DEBUG") && !strings.Contains(string(log), "request") {
		t.Logf("server log:\n%s", log)
	}
	if strings.Contains(string(log), mark) || strings.Contains(string(log), "MRN4471") {
		t.Errorf("the server log holds the marker:\n%s", log)
	}
	if strings.Contains(responses.String(), "MRN4471") {
		t.Errorf("a response holds the marker:\n%s", responses.String())
	}
}
