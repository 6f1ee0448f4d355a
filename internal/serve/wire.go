package serve

import (
	"encoding/json"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
)

// Flight action types.
const (
	ActionBegin  = "begin"
	ActionFinish = "finish"
	ActionAbort  = "abort"
)

// BeginRequest is the body of a "begin" action.
type BeginRequest struct {
	// Destination names one of the tenant's destinations.
	Destination string `json:"destination"`
	// SourceName fills _cq_source_name and scopes delete-stale.
	SourceName string `json:"source_name"`
	// SyncID fills {{SYNC_ID}}; "" makes one.
	SyncID string `json:"sync_id,omitempty"`
}

// BeginResult is the body of the result of "begin".
type BeginResult struct {
	// Sync is the handle that DoPut descriptors and "finish" name.
	Sync         string `json:"sync"`
	SyncID       string `json:"sync_id"`
	SyncTime     string `json:"sync_time"`
	Guest        string `json:"guest"`
	GuestVersion string `json:"guest_version"`
}

// SyncRequest is the body of "finish" and "abort".
type SyncRequest struct {
	Sync string `json:"sync"`
}

// Summary is the body of the result of "finish" (and "abort").
type Summary struct {
	Sync        string         `json:"sync"`
	SyncID      string         `json:"sync_id"`
	Destination string         `json:"destination"`
	Tables      []TableSummary `json:"tables"`
	DurationMS  int64          `json:"duration_ms"`
	Error       string         `json:"error,omitempty"`
}

// TableSummary is what one table of a sync got.
type TableSummary struct {
	Table string `json:"table"`
	// Rows, Bytes and Batches were written whole by the guest.
	Rows         int64             `json:"rows"`
	Bytes        int64             `json:"bytes"`
	Batches      int64             `json:"batches"`
	Migration    abi.MigrateAction `json:"migration,omitempty"`
	DeletedStale bool              `json:"deleted_stale,omitempty"`
	Error        string            `json:"error,omitempty"`
}

// PutResult is the app_metadata of the PutResult that ends a successful DoPut.
type PutResult struct {
	Table   string `json:"table"`
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"`
	Records int64  `json:"records"`
}

func decodeBody(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return status.Errorf(codes.InvalidArgument, "action body is not the JSON expected: %v", err)
	}
	return nil
}
