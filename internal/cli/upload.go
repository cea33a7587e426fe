package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/httpapi"
)

// uploadState remembers an unfinished upload so a rerun of the same
// command resumes it. Keyed by the file's absolute path, size and mtime.
type uploadState struct {
	File    string    `json:"file"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	SHA256  string    `json:"sha256"`
	Server  string    `json:"server"`
	Path    string    `json:"path"`
	ID      string    `json:"id"`
}

func stateFile(dir, abs string) string {
	h := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, "uploads", hex.EncodeToString(h[:8])+".json")
}

func uploadCmd(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "upload")
	server := clientFlags(fs, cfgPath)
	to := fs.String("to", "uploads", "lake folder to upload into")
	patient := fs.String("patient", "", "pseudonymous patient id the files belong to")
	quiet := fs.Bool("quiet", false, "no progress bar")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("name at least one file")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	c, err := newClient(ctx, server)
	if err != nil {
		return err
	}
	c.http.Timeout = 0 // bodies are large; requests are bounded by ctx and the server
	for _, f := range files {
		if err := uploadOne(ctx, e, c, cfg, f, *to, *patient, *quiet); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

func uploadOne(ctx context.Context, e *env, c *client, cfg *config.Config, file, to, patient string, quiet bool) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return err
	}
	sf := stateFile(cfg.DataDir, abs)
	var s uploadState
	if b, err := os.ReadFile(sf); err == nil && json.Unmarshal(b, &s) == nil &&
		(s.Size != st.Size() || !s.ModTime.Equal(st.ModTime()) || s.Server != c.base) {
		s = uploadState{} // the file changed: start over
	}
	if s.SHA256 == "" {
		if !quiet {
			fmt.Fprintf(e.stderr, "%s: computing sha256...\n", filepath.Base(abs))
		}
		sum, err := fileSHA256(abs)
		if err != nil {
			return err
		}
		s = uploadState{File: abs, Size: st.Size(), ModTime: st.ModTime(), SHA256: sum, Server: c.base, Path: path.Join(to, filepath.Base(abs))}
	}
	var view httpapi.UploadView
	if s.ID != "" {
		if err := c.do(ctx, "GET", "/api/v1/uploads/"+s.ID, nil, &view); err != nil {
			s.ID = "" // finished, cancelled or expired: start a new one
		}
	}
	if s.ID == "" {
		req := httpapi.UploadRequest{Path: s.Path, Size: s.Size, SHA256: s.SHA256, Patient: patient}
		if err := c.do(ctx, "POST", "/api/v1/uploads", req, &view); err != nil {
			return err
		}
		s.ID = view.ID
	} else if !quiet {
		fmt.Fprintf(e.stderr, "%s: resuming at byte %d of %d\n", filepath.Base(abs), view.Offset, s.Size)
	}
	if err := os.MkdirAll(filepath.Dir(sf), 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(s)
	if err := os.WriteFile(sf, b, 0o600); err != nil {
		return err
	}

	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	defer f.Close()
	var sent atomic.Int64
	sent.Store(view.Offset)
	bar := newByteProgress(e.stderr, filepath.Base(abs), s.Size, view.Offset, quiet)
	defer bar.stop()
	go bar.run(&sent)
	off := view.Offset
	failures := 0
	for {
		per := 8 * view.PartSize
		n := min(per, s.Size-off)
		body := &countingReader{r: io.NewSectionReader(f, off, n), n: &sent}
		req, err := http.NewRequestWithContext(ctx, "PATCH", c.base+"/api/v1/uploads/"+s.ID, body)
		if err != nil {
			return err
		}
		req.ContentLength = n
		req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := c.http.Do(req)
		if err == nil {
			var out httpapi.UploadView
			var problem struct{ Error string }
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK && json.Unmarshal(raw, &out) == nil:
				if out.Done {
					bar.finish()
					os.Remove(sf)
					fmt.Fprintf(e.stdout, "%s\tversion %s\t%d bytes\tsha256 %s\n", out.Path, out.Version, s.Size, out.SHA256)
					return nil
				}
				off, failures = out.Offset, 0
				sent.Store(off)
				continue
			case resp.StatusCode == http.StatusConflict, resp.StatusCode >= 500:
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			default:
				json.Unmarshal(raw, &problem)
				os.Remove(sf)
				return fmt.Errorf("server refused the upload: %s (HTTP %d)", problem.Error, resp.StatusCode)
			}
		}
		// Network error or server trouble: wait, ask where to resume, go on.
		failures++
		if failures > 5 || ctx.Err() != nil {
			return fmt.Errorf("upload interrupted (%v); run the same command again to resume", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("upload interrupted; run the same command again to resume")
		case <-time.After(time.Duration(failures) * time.Second):
		}
		if err := c.do(ctx, "GET", "/api/v1/uploads/"+s.ID, nil, &view); err != nil {
			continue
		}
		off = view.Offset
		sent.Store(off)
	}
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// byteProgress draws "name  bytes/total  pct  rate  time left" on one line.
type byteProgress struct {
	w      io.Writer
	name   string
	total  int64
	start  int64
	t0     time.Time
	quiet  bool
	done   chan struct{}
	closed atomic.Bool
}

func newByteProgress(w io.Writer, name string, total, start int64, quiet bool) *byteProgress {
	return &byteProgress{w: w, name: name, total: total, start: start, t0: time.Now(), quiet: quiet, done: make(chan struct{})}
}

func (p *byteProgress) run(sent *atomic.Int64) {
	if p.quiet {
		return
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.draw(sent.Load())
		}
	}
}

func (p *byteProgress) draw(n int64) {
	el := time.Since(p.t0).Seconds()
	rate := float64(n-p.start) / max(el, 0.001)
	left := "--:--"
	if rate > 0 {
		left = (time.Duration(float64(p.total-n)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(n) / float64(p.total)
	}
	fmt.Fprintf(p.w, "\r%-24.24s %9s / %-9s %5.1f%%  %9s/s  %s left   ", p.name, human(n), human(p.total), pct, human(int64(rate)), left)
}

func (p *byteProgress) finish() {
	if !p.quiet {
		p.draw(p.total)
		fmt.Fprintln(p.w)
	}
	p.stop()
}

func (p *byteProgress) stop() {
	if p.closed.CompareAndSwap(false, true) {
		close(p.done)
	}
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func init() {
	commands = append(commands, command{name: "upload", args: "FILE... [--to FOLDER] [--patient ID]", summary: "upload files to the server's lake: resumable, checksummed, with progress", run: uploadCmd})
}
