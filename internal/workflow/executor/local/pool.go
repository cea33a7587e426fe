package local

import (
	"context"
	"sync"

	"github.com/clinomics/clinomics/internal/workflow/executor"
)

// pool hands out threads and memory first come, first served: a large job
// at the head of the queue is not starved by small ones behind it.
type pool struct {
	mu      sync.Mutex
	free    executor.Resources
	waiters []*waiter
}

type waiter struct {
	threads, mem int
	ready        chan struct{}
}

func newPool(r executor.Resources) *pool { return &pool{free: r} }

func (p *pool) acquire(ctx context.Context, threads, mem int) error {
	p.mu.Lock()
	if len(p.waiters) == 0 && p.fits(threads, mem) {
		p.take(threads, mem)
		p.mu.Unlock()
		return nil
	}
	w := &waiter{threads: threads, mem: mem, ready: make(chan struct{})}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		select {
		case <-w.ready: // granted while we were cancelled: give it back
			p.free.Threads += threads
			p.free.MemoryMB += mem
			p.grant()
		default:
			for i, x := range p.waiters {
				if x == w {
					p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
					break
				}
			}
			p.grant()
		}
		return ctx.Err()
	}
}

func (p *pool) release(threads, mem int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free.Threads += threads
	p.free.MemoryMB += mem
	p.grant()
}

func (p *pool) fits(threads, mem int) bool {
	return threads <= p.free.Threads && mem <= p.free.MemoryMB
}

func (p *pool) take(threads, mem int) {
	p.free.Threads -= threads
	p.free.MemoryMB -= mem
}

// grant wakes waiters in order while the head fits.
func (p *pool) grant() {
	for len(p.waiters) > 0 && p.fits(p.waiters[0].threads, p.waiters[0].mem) {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.take(w.threads, w.mem)
		close(w.ready)
	}
}
