package syncer

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/internal/arrowio"
)

// Session is a sync whose inputs arrive one at a time, possibly
// concurrently and over the network, instead of all at once as Run takes
// them: a server streams each table into it as its client sends it. The
// semantics are Run's, table by table: Stream plans and migrates its table
// (in migrate_mode safe an unsafe change fails that Stream before anything
// of it is written), batches and writes it, and after a successful input
// deletes the table's stale rows where the write mode asks for it (rows this
// sync wrote carry its sync time and are never stale). Finish writes the
// sync summaries for every table streamed, then ends the sync as Sync.Finish
// does.
type Session struct {
	*Sync
	planMu sync.Mutex // one table's plan and migration at a time
	mu     sync.Mutex
	tables []string
}

// NewSession starts a sync of env's destinations whose inputs come with Stream.
func NewSession(env *Env, dests []*Destination) *Session {
	s := &Session{Sync: New(env, dests)}
	s.start = time.Now()
	return s
}

// Stream syncs one input into every destination of the session and closes
// it. Streams of different tables may run at once; calls into one
// destination's guests are serialised by its pool.
func (s *Session) Stream(ctx context.Context, in Input) error {
	table := in.Table().Name
	s.planMu.Lock()
	targets, err := s.plan(ctx, []Input{in}, s.dests)
	s.planMu.Unlock()
	if err != nil {
		in.Close()
		return err
	}
	s.mu.Lock()
	if !slices.Contains(s.tables, table) {
		s.tables = append(s.tables, table)
	}
	s.mu.Unlock()
	return s.copyInput(ctx, in, targets[table])
}

// Finish writes the sync summaries of the destinations that ask for them
// (when summaries is true and every table streamed so far), then runs
// Sync.Finish. Call it once, after every Stream has returned.
func (s *Session) Finish(ctx context.Context, summaries bool) error {
	var err error
	if summaries {
		s.mu.Lock()
		var ins []Input
		for _, t := range s.tables {
			ins = append(ins, tableOnly{arrowio.Table{Name: t}})
		}
		s.mu.Unlock()
		err = s.sendSummaries(ctx, ins)
	}
	return errors.Join(err, s.Sync.Finish(ctx))
}

// tableOnly names a table for sendSummaries.
type tableOnly struct{ t arrowio.Table }

func (t tableOnly) Table() arrowio.Table { return t.t }
func (tableOnly) Next(context.Context) (arrow.RecordBatch, error) {
	return nil, errors.New("no records")
}
func (tableOnly) Close() error { return nil }
