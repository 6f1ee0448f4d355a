package abi

// Arrow schema and field metadata keys, following the CloudQuery conventions.
const (
	MetaTableName      = "cq:table_name"
	MetaTableDesc      = "cq:table_description"
	MetaConstraintName = "cq:extension:constraint_name"
	MetaPrimaryKey     = "cq:extension:primary_key"
	MetaUnique         = "cq:extension:unique"
	MetaIncremental    = "cq:extension:incremental"
	MetaPKComponent    = "cq:extension:primary_key_component"
	MetaTrue           = "true"
)

// Internal columns the host adds to every table.
const (
	ColSyncTime    = "_cq_sync_time"
	ColSourceName  = "_cq_source_name"
	ColSyncGroupID = "_cq_sync_group_id"
	ColID          = "_cq_id"
	ColParentID    = "_cq_parent_id"
)

// Arrow extension type names the ABI recognises. The canonical ones come from
// the Arrow specification; the short ones are CloudQuery's.
const (
	ExtUUID          = "uuid"       // fixed_size_binary(16)
	ExtJSON          = "json"       // binary holding UTF-8 JSON
	ExtInet          = "inet"       // binary holding the text form
	ExtMAC           = "mac"        // binary holding the text form
	ExtCanonicalUUID = "arrow.uuid" // fixed_size_binary(16)
	ExtCanonicalJSON = "arrow.json" // utf8 holding JSON
)
