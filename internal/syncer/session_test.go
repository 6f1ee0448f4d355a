package syncer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// TestSessionStreamsTablesConcurrently: tables streamed one at a time and at
// once into a Session are planned, written, delete-staled per table, and
// summarised once at Finish, as Run would.
func TestSessionStreamsTablesConcurrently(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, func(d *config.Destination) { d.SendSyncSummary = true }, nil)
	s := syncer.NewSession(env, []*syncer.Destination{d})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, table := range []string{"a", "b", "c"} {
		wg.Go(func() { errs[i] = s.Stream(ctx, input(table, users(table, 0, 1500), users(table, 1500, 700))) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// The same table again, later in the same sync: no migration, rows appended.
	if err := s.Stream(ctx, input("a", users("a", 2200, 10))); err != nil {
		t.Fatal(err)
	}
	got := ops(t, d)
	for _, table := range []string{"a", "b", "c"} {
		if n := count(got, "delete_stale "+table+" "); n < 1 {
			t.Errorf("no delete_stale of %s in %v", table, got)
		}
	}
	if err := s.Finish(ctx, true); err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, st := range s.Stats() {
		rows[st.Table] += st.Rows
	}
	want := map[string]int64{"a": 2210, "b": 2200, "c": 2200, syncer.SummaryTable: 1}
	for k, v := range want {
		if rows[k] != v {
			t.Errorf("table %s: %d rows, want %d (all: %v)", k, rows[k], v, rows)
		}
	}
}

// TestSessionStreamFailsAlone: a stream whose migration is unsafe fails
// before writing; the session goes on with other tables.
func TestSessionStreamFailsAlone(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, nil, changed(false))
	s := syncer.NewSession(env, []*syncer.Destination{d})
	ctx := context.Background()
	err := s.Stream(ctx, input("users", users("users", 0, 5)))
	if err == nil || !strings.Contains(err.Error(), "utf8 -> int64") {
		t.Fatalf("got %v, want an unsafe migration refused", err)
	}
	if err := s.Stream(ctx, input("new", users("new", 0, 5))); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(ops(t, d), func(op string) bool { return strings.HasPrefix(op, "write users") }) {
		t.Error("rows of the refused table were written")
	}
	if err := s.Finish(ctx, false); err != nil {
		t.Fatal(err)
	}
}

func count(ops []string, prefix string) int {
	n := 0
	for _, op := range ops {
		if strings.HasPrefix(op, prefix) {
			n++
		}
	}
	return n
}
