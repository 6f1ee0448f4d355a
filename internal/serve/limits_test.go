package serve

import (
	"context"
	"testing"
	"time"
)

// TestSchedulerFairness: with every slot taken, a tenant that queued one
// stream is admitted before a tenant that queued many earlier, and no tenant
// runs past its own limit.
func TestSchedulerFairness(t *testing.T) {
	s := newScheduler(2)
	ctx := context.Background()
	var releases []func()
	for i := 0; i < 2; i++ { // "hog" takes both slots
		r, err := s.acquire(ctx, "hog", 3)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	order := make(chan string, 10)
	wait := func(tenant string, limit int) {
		go func() {
			r, err := s.acquire(ctx, tenant, limit)
			if err != nil {
				t.Error(err)
				return
			}
			order <- tenant
			time.Sleep(50 * time.Millisecond)
			r()
		}()
		time.Sleep(20 * time.Millisecond) // queue in this order
	}
	wait("hog", 3)
	wait("hog", 3)
	wait("small", 1)
	releases[0]() // one slot frees: hog runs 1, small 0: small goes first
	if got := <-order; got != "small" {
		t.Fatalf("first admitted: %s, want small", got)
	}
	releases[1]()
	if got := <-order; got != "hog" {
		t.Fatalf("second admitted: %s", got)
	}
	if got := <-order; got != "hog" {
		t.Fatalf("third admitted: %s", got)
	}
	if s.waiting() != 0 {
		t.Fatal("waiters left")
	}
}

// TestSchedulerTenantLimit: a tenant never runs more than its limit, even
// with free slots; a cancelled waiter leaves the queue.
func TestSchedulerTenantLimit(t *testing.T) {
	s := newScheduler(10)
	r, err := s.acquire(context.Background(), "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.acquire(ctx, "a", 1); err == nil {
		t.Fatal("a second stream of a tenant limited to 1 was admitted")
	}
	if s.waiting() != 0 {
		t.Fatal("the cancelled waiter is still queued")
	}
	r()
	r2, err := s.acquire(context.Background(), "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	r2()
}

// TestBucket: a bucket lets its capacity through at once, then throttles.
func TestBucket(t *testing.T) {
	b := newBucket(6000) // 100 a second
	ctx := context.Background()
	start := time.Now()
	if err := b.take(ctx, 6000); err != nil {
		t.Fatal(err)
	}
	if err := b.take(ctx, 50); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Fatalf("50 tokens past capacity at 100/s took %v", d)
	}
	var unlimited *bucket
	if err := unlimited.take(ctx, 1<<40); err != nil {
		t.Fatal(err)
	}
}

// TestPenalties: consecutive hard failures delay a tenant's next stream
// more and more; a success forgets them; other tenants are not delayed.
func TestPenalties(t *testing.T) {
	p := newPenalties()
	ctx := context.Background()
	p.failed("bad")
	p.failed("bad")
	start := time.Now()
	if err := p.wait(ctx, "good"); err != nil || time.Since(start) > 50*time.Millisecond {
		t.Fatal("another tenant waited")
	}
	if err := p.wait(ctx, "bad"); err != nil || time.Since(start) < 1500*time.Millisecond {
		t.Fatalf("after two failures, waited %v, want 2s", time.Since(start))
	}
	p.succeeded("bad")
	start = time.Now()
	if p.wait(ctx, "bad"); time.Since(start) > 50*time.Millisecond {
		t.Fatal("a success did not clear the penalty")
	}
}
