package serve

import (
	"context"
	"sync"
	"time"
)

// bucket is a token bucket refilled at perMinute tokens a minute, holding at
// most perMinute. A zero perMinute is unlimited.
type bucket struct {
	mu        sync.Mutex
	perMinute float64
	tokens    float64
	last      time.Time
}

func newBucket(perMinute int64) *bucket {
	return &bucket{perMinute: float64(perMinute), tokens: float64(perMinute), last: time.Now()}
}

// take waits until n tokens are there and takes them. More than the bucket
// holds is taken when it is full, leaving it in debt, so that one large
// record is slowed, not refused.
func (b *bucket) take(ctx context.Context, n int64) error {
	if b == nil || b.perMinute == 0 || n <= 0 {
		return nil
	}
	for {
		b.mu.Lock()
		now := time.Now()
		b.tokens = min(b.perMinute, b.tokens+now.Sub(b.last).Minutes()*b.perMinute)
		b.last = now
		need := min(float64(n), b.perMinute)
		if b.tokens >= need {
			b.tokens -= float64(n)
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration((need - b.tokens) / b.perMinute * float64(time.Minute))
		b.mu.Unlock()
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// scheduler admits write streams: at most a tenant's own limit each, and at
// most slots in all. When streams wait for a slot, the next one goes to the
// waiting tenant with the fewest streams running, the longest waiting first
// among equals, so that a tenant that opens many streams cannot crowd out
// one that opens few.
type scheduler struct {
	mu      sync.Mutex
	slots   int
	running int
	tenants map[string]*tenantSlots
	queue   []*waiter
}

type tenantSlots struct {
	running, limit int
}

type waiter struct {
	tenant string
	ready  chan struct{}
}

func newScheduler(slots int) *scheduler {
	return &scheduler{slots: slots, tenants: map[string]*tenantSlots{}}
}

// acquire waits for a slot of tenant, whose own limit is limit. Call the
// returned release when the stream ends.
func (s *scheduler) acquire(ctx context.Context, tenant string, limit int) (release func(), err error) {
	s.mu.Lock()
	ts := s.tenants[tenant]
	if ts == nil {
		ts = &tenantSlots{}
		s.tenants[tenant] = ts
	}
	ts.limit = limit // the latest configuration wins
	w := &waiter{tenant: tenant, ready: make(chan struct{})}
	s.queue = append(s.queue, w)
	s.dispatch()
	s.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			s.mu.Lock()
			s.running--
			s.tenants[tenant].running--
			s.dispatch()
			s.mu.Unlock()
		})
	}
	select {
	case <-w.ready:
		return release, nil
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-w.ready: // admitted meanwhile: give it back
			s.mu.Unlock()
			release()
		default:
			for i, x := range s.queue {
				if x == w {
					s.queue = append(s.queue[:i], s.queue[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
		}
		return nil, ctx.Err()
	}
}

// dispatch admits waiters while slots are free. s.mu is held.
func (s *scheduler) dispatch() {
	for s.running < s.slots {
		best := -1
		for i, w := range s.queue {
			ts := s.tenants[w.tenant]
			if ts.running >= ts.limit {
				continue
			}
			if best < 0 || ts.running < s.tenants[s.queue[best].tenant].running {
				best = i // the queue is in arrival order: the first of equals waited longest
			}
		}
		if best < 0 {
			return
		}
		w := s.queue[best]
		s.queue = append(s.queue[:best], s.queue[best+1:]...)
		s.running++
		s.tenants[w.tenant].running++
		close(w.ready)
	}
}

// waiting returns how many streams wait, for metrics.
func (s *scheduler) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// penalties slow down tenants whose guests keep failing hard (stopped at
// their deadline, out of memory, trapped, panicked): after n such failures
// in a row, the tenant's next stream waits min(2^(n-1) s, maxPenalty) before
// it is admitted. A guest that spins burns a core until its deadline; without
// this its tenant could keep one or two cores busy forever by retrying.
type penalties struct {
	mu    sync.Mutex
	state map[string]*penalty
}

type penalty struct {
	strikes int
	until   time.Time
}

const maxPenalty = 30 * time.Second

func newPenalties() *penalties { return &penalties{state: map[string]*penalty{}} }

// failed records a hard failure of tenant's guest.
func (p *penalties) failed(tenant string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.state[tenant]
	if st == nil {
		st = &penalty{}
		p.state[tenant] = st
	}
	st.strikes++
	d := min(time.Second<<min(st.strikes-1, 10), maxPenalty)
	st.until = time.Now().Add(d)
}

// succeeded forgets tenant's failures.
func (p *penalties) succeeded(tenant string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.state, tenant)
}

// wait waits out tenant's penalty, if any.
func (p *penalties) wait(ctx context.Context, tenant string) error {
	p.mu.Lock()
	var d time.Duration
	if st := p.state[tenant]; st != nil {
		d = time.Until(st.until)
	}
	p.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
