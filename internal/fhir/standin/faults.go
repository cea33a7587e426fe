package standin

import (
	"net/http"
	"strconv"
	"sync"
)

// Faults are injected failures: the next FailNext requests (any endpoint)
// get 503 with Retry-After, the next RejectTokens authenticated FHIR
// requests get 401 invalid_token though their token is good.
type Faults struct {
	mu                     sync.Mutex
	failNext, rejectTokens int
}

// Set replaces the counts.
func (f *Faults) Set(failNext, rejectTokens int) {
	f.mu.Lock()
	f.failNext, f.rejectTokens = max(failNext, 0), max(rejectTokens, 0)
	f.mu.Unlock()
}

func (f *Faults) takeFail() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 {
		f.failNext--
		return true
	}
	return false
}

func (f *Faults) takeReject() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rejectTokens > 0 {
		f.rejectTokens--
		return true
	}
	return false
}

func (f *Faults) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_faults" && f.takeFail() {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"unavailable (injected fault)"}]}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// control answers POST /_faults?fail=N&reject=M.
func (f *Faults) control(w http.ResponseWriter, r *http.Request) {
	fail, err1 := strconv.Atoi(r.URL.Query().Get("fail"))
	reject, err2 := strconv.Atoi(r.URL.Query().Get("reject"))
	if err1 != nil || err2 != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "use ?fail=N&reject=M"})
		return
	}
	f.Set(fail, reject)
	writeJSON(w, http.StatusOK, map[string]int{"fail": fail, "reject": reject})
}
