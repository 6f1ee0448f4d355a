package syncer

import (
	"encoding/json"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/internal/batch"
)

type bufferWriter struct{ b []byte }

func (w *bufferWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func decodeJSON[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// sliceMessages returns recs sliced so that each piece's buffers take about
// max bytes at most (by average row size), retained for the caller.
func sliceMessages(recs []arrow.RecordBatch, max int64) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for _, r := range recs {
		size, rows := batch.RecordSize(r), r.NumRows()
		if size <= max || rows <= 1 {
			r.Retain()
			out = append(out, r)
			continue
		}
		per := max * rows / size
		if per < 1 {
			per = 1
		}
		for i := int64(0); i < rows; i += per {
			out = append(out, r.NewSlice(i, min(i+per, rows)))
		}
	}
	return out
}
