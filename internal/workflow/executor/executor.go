// Package executor runs one job (a bash script with a thread and memory
// request) somewhere: in a local process pool or on a Slurm cluster. Every
// backend passes the conformance suite in package executortest.
package executor

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Names of the files a backend writes into Job.Dir.
const (
	StdoutFile = "stdout.log"
	StderrFile = "stderr.log"
)

// ErrTransient marks a failure to run a job (not the job's own non-zero
// exit) that a retry may cure: a scheduler hiccup, a node failure.
var ErrTransient = errors.New("transient executor failure")

// ErrTooLarge is returned when a job asks for more threads or memory than
// the backend can ever provide.
var ErrTooLarge = errors.New("job exceeds executor capacity")

// Job is one unit of work.
type Job struct {
	ID       string // unique, filesystem- and scheduler-safe
	Script   string // bash script; run with "set -euo pipefail" semantics
	Dir      string // existing working directory, visible to the backend
	Threads  int    // cores requested, >= 1
	MemoryMB int    // memory requested, >= 0 (0: backend default)
	Env      []string
}

// Result is how a job ended once it ran.
type Result struct {
	ExitCode   int
	CPU        time.Duration // user + system time of the job's processes
	Wall       time.Duration
	StderrTail string // the last few lines of the job's stderr
}

// Resources is what a backend can run at once.
type Resources struct {
	Threads  int
	MemoryMB int
}

// Executor runs jobs.
type Executor interface {
	// Name identifies the backend ("local", "slurm").
	Name() string
	// Capacity is the largest job the backend accepts.
	Capacity() Resources
	// Run executes job and blocks until it ends. The job's stdout and
	// stderr go to Dir/StdoutFile and Dir/StderrFile. A job that ran and
	// exited non-zero returns a Result with that ExitCode and a nil error;
	// an error means the job could not be run or watched (wrapping
	// ErrTransient when a retry may help, ErrTooLarge when it never fits).
	// When ctx is done the job is killed and ctx.Err() is returned.
	Run(ctx context.Context, job Job) (Result, error)
}

// CheckFits returns an ErrTooLarge error when job asks for more than
// capacity; where names the capacity in the message ("this machine").
func CheckFits(job Job, capacity Resources, where string) error {
	threads := max(job.Threads, 1)
	if threads > capacity.Threads || job.MemoryMB > capacity.MemoryMB {
		return fmt.Errorf("%w: job %s asks for %d threads and %d MB, %s offers %d threads and %d MB",
			ErrTooLarge, job.ID, threads, job.MemoryMB, where, capacity.Threads, capacity.MemoryMB)
	}
	return nil
}
