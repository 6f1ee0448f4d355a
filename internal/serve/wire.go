package serve

import (
	"encoding/json"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
)

// Flight action types.
const (
	ActionBegin  = "begin"
	ActionFinish = "finish"
	ActionAbort  = "abort"
	// Guest management (docs/serve.md, "Deploying guests"); a guest is
	// uploaded by DoPut with descriptor CMD {"deploy": NAME}.
	ActionListGuests    = "list_guests"
	ActionDescribeGuest = "describe_guest"
	ActionDeleteGuest   = "delete_guest"
	ActionRollbackGuest = "rollback_guest"
)

// GuestRequest is the body of describe_guest, delete_guest and rollback_guest.
type GuestRequest struct {
	Name string `json:"name"`
}

// GuestRef is a tenant's named guest: the hash new syncs run, and the one
// rollback_guest returns to.
type GuestRef struct {
	Name     string    `json:"name"`
	Hash     string    `json:"hash"`
	Previous string    `json:"previous,omitempty"`
	Size     int64     `json:"size,omitempty"`
	Updated  time.Time `json:"updated,omitzero"`
}

// GuestInfo is the verdict on a guest, as `wasmdest inspect` gives it: the
// checks of host.Runtime.Load passed, and what it asks for.
type GuestInfo struct {
	Hash           string `json:"hash"`
	Name           string `json:"name"`
	Version        string `json:"version"`
	ABIVersion     string `json:"abi_version"`
	HostABIVersion string `json:"host_abi_version"`
	Size           int64  `json:"size"`
	// Imports are the host functions it imports ("module.name").
	Imports []string `json:"imports"`
	// Asked are the capabilities its manifest asks for; Granted those of
	// them the tenant is granted (a deploy is refused unless all are).
	Asked    []abi.Capability `json:"capabilities_asked"`
	Granted  []abi.Capability `json:"capabilities_granted"`
	Manifest abi.Manifest     `json:"manifest"`
}

// DeployResult is the app_metadata of the PutResult of a deploy.
type DeployResult struct {
	Name     string    `json:"name"`
	Hash     string    `json:"hash"`
	Previous string    `json:"previous,omitempty"`
	Size     int64     `json:"size"`
	Guest    GuestInfo `json:"guest"`
}

// DescribeResult is the result of describe_guest.
type DescribeResult struct {
	GuestRef
	Guest GuestInfo `json:"guest"`
}

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
	// GuestHash is the SHA-256 of the module the sync runs, to its end.
	GuestHash string `json:"guest_hash"`
	// Location is the Flight location of the replica that owns the sync
	// ("" for a single replica); GetFlightInfo on the handle returns it too.
	Location string `json:"location,omitempty"`
}

// SyncRequest is the body of "finish" and "abort".
type SyncRequest struct {
	Sync string `json:"sync"`
}

// Summary is the body of the result of "finish" (and "abort").
type Summary struct {
	Sync        string `json:"sync"`
	SyncID      string `json:"sync_id"`
	Destination string `json:"destination"`
	// GuestHash is the SHA-256 of the guest module that wrote the sync.
	GuestHash  string         `json:"guest_hash"`
	Tables     []TableSummary `json:"tables"`
	DurationMS int64          `json:"duration_ms"`
	Error      string         `json:"error,omitempty"`
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
