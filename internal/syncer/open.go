// Package syncer runs a sync: Arrow tables in, through destination guests,
// with everything the destination spec promises that is not specific to one
// backend kept in the host: internal columns, write_mode, pk_mode,
// sync_group_id, migrate_mode, batching, delete-stale and the sync summary.
// A guest cannot skip any of it.
package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	pgcap "github.com/wasmdest/wasmdest/host/capability/postgres"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/placeholder"
)

// MaxMessageBytes bounds each Arrow IPC message body sent to a guest; larger
// records are sliced. It keeps guest memory flat: guest memory never shrinks
// (docs/background.md, "Memory").
const MaxMessageBytes = 64 << 20

// GuestDirEnv names the environment variable that says where builtin guests are.
const GuestDirEnv = "WASMDEST_GUEST_DIR"

// Env is what every destination of one sync shares.
type Env struct {
	Runtime *host.Runtime
	// SyncID fills {{SYNC_ID}}; SyncTime is the sync's start.
	SyncID     string
	SyncTime   time.Time
	SourceName string
	// GuestDirs are searched for builtin guests, before $WASMDEST_GUEST_DIR
	// and the "guests" directory beside the executable.
	GuestDirs []string
	Log       hclog.Logger
	// Capabilities are the capabilities this host can grant a destination's
	// guest (package host/capability: capability.Builtin()), opened from
	// the destination's configuration. A guest asking for another is
	// refused.
	Capabilities []host.Capability
	// LoadGuest, if set, returns the loaded guest of a .wasm path instead of
	// Runtime.LoadFile compiling it for every Open (a server keeps its
	// guests loaded). The guest must belong to Runtime.
	LoadGuest func(ctx context.Context, path string) (*host.Guest, error)
	// ObserveCall, if set, is told of every guest call of a destination
	// (host.PoolConfig.Observe).
	ObserveCall func(dest string, op abi.Op, took time.Duration, err error)
	// GuestLog, if set, receives the guests' logs (host.PoolConfig.Logger).
	GuestLog hclog.Logger
	// CallTimeout bounds each guest call (host.PoolConfig.CallTimeout); 0 means none.
	CallTimeout time.Duration
	// KeepGoing makes Sync.Run go on with the other tables after one
	// fails, instead of stopping (tables are independent: a failed table
	// never has its stale rows deleted).
	KeepGoing bool
	// LockWait bounds how long a sync in write_mode overwrite-delete-stale
	// into a PostgreSQL destination waits for another sync of the same
	// source and table to finish (see lock.go): 0 means DefaultLockWait, a
	// negative value refuses at once.
	LockWait time.Duration
	// Writers is how many batches of one destination may be written at
	// once, each by its own guest instance (for the postgres guest: its own
	// database connection). 0 or 1: one at a time, as the batches come.
	//
	// With more than one, a batch is written while the next is read and
	// batched. Batches of a table without a primary key (inserts: every
	// table in write_mode append) are spread over the writers, so they may
	// land in any order. Batches of a table with a primary key (upserts,
	// where the last write of a key must win) are spread too when the
	// guest lists abi.FeatureParallelUpserts, but a batch holding a key of
	// one being written waits for it (keyGate); for other guests they are
	// written one at a time and in order. Every batch of a table is
	// written before its delete-stale. Use it only with guests whose instances may write one
	// table side by side: the postgres guest, or the file guest when every
	// batch is a file of its own (not with no_rotate).
	Writers int
	// Shaped says the records were already shaped by a CloudQuery CLI (a
	// destination plugin's Write stream): they carry the internal columns,
	// with write_mode, pk_mode and sync_group_id applied to their keys. The
	// host then adds and changes nothing (schema.Options.AsIs), and
	// deletes stale rows only when asked (Session.DeleteStale), never by
	// itself at the end of a table.
	Shaped bool
}

// Destination is one configured destination, ready to sync.
type Destination struct {
	Name            string
	Config          config.Destination
	Guest           *host.Guest
	Pool            *host.Pool
	SyncGroupID     string // expanded
	Batch           abi.BatchLimits
	close           []func()
	guestSourcePath string
	// poolConfig made Pool (for a late sync summary).
	poolConfig host.PoolConfig
	// lockDB is the database of the postgres capability, where syncs take
	// their table locks; nil without it.
	lockDB *pgxpool.Pool
	// writeSlots holds one token per batch being written (Env.Writers);
	// nil when batches are written one at a time, as they come.
	writeSlots chan struct{}
	// discarded is told of an instance of Pool that was discarded (the
	// Sync counts the rows it held as lost); set by New.
	discarded func(*Destination, *host.Instance)
}

// ResolveGuest returns the .wasm path of a configured destination's guest.
func ResolveGuest(d config.Destination, dirs []string) (string, error) {
	if d.Registry == config.RegistryLocal {
		return d.Path, nil
	}
	if d.Registry == config.RegistryDeployed {
		// Env.LoadGuest (wasmdest serve) resolves the name.
		return d.Path, nil
	}
	var tried []string
	search := slices.Clone(dirs)
	if env := os.Getenv(GuestDirEnv); env != "" {
		search = append(search, env)
	}
	if exe, err := os.Executable(); err == nil {
		search = append(search, filepath.Join(filepath.Dir(exe), "guests"))
	}
	for _, dir := range search {
		p := filepath.Join(dir, d.Path+".wasm")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("builtin guest %q not found (looked at %s): build it with `go tool task build` or set %s", d.Path, strings.Join(tried, ", "), GuestDirEnv)
}

// Expander returns the host's one placeholder function for this sync, as the
// expand host function and sync_group_id use it.
func (e *Env) Expander() func(abi.ExpandRequest) (string, error) {
	return func(r abi.ExpandRequest) (string, error) {
		return placeholder.Expand(r.Template, placeholder.Vars{SyncID: e.SyncID, Time: e.SyncTime, Table: r.Table, Format: r.Format})
	}
}

// Open loads a configured destination's guest, checks the configuration
// against its manifest (version, write mode, spec schema, capabilities) and
// makes its instance pool. Nothing is written.
func Open(ctx context.Context, env *Env, d config.Destination) (*Destination, error) {
	where := fmt.Sprintf("%s:%d: destination %q", d.File, d.Line, d.Name)
	wasm, err := ResolveGuest(d, env.GuestDirs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	load := env.Runtime.LoadFile
	if d.Registry == config.RegistryDeployed && env.LoadGuest == nil {
		return nil, fmt.Errorf("%s: registry %q names a guest deployed to wasmdest serve; only serve runs it", where, config.RegistryDeployed)
	}
	if env.LoadGuest != nil {
		load = env.LoadGuest
	}
	g, err := load(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	dest := &Destination{Name: d.Name, Config: d, Guest: g, guestSourcePath: wasm}
	fail := func(err error) (*Destination, error) {
		dest.Close()
		var ce *config.Error
		if errors.As(err, &ce) {
			return nil, err // it names the file, the line of the key and the destination
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	m := g.Manifest()
	if d.Version != "" && !abi.SameSemver(d.Version, m.Version) {
		return fail(fmt.Errorf("version %s asked for, but guest %s is version %s", d.Version, wasm, m.Version))
	}
	if len(m.WriteModes) > 0 && !slices.Contains(m.WriteModes, d.WriteMode) {
		return fail(fmt.Errorf("write_mode %q is not supported by guest %s, which supports %s", d.WriteMode, m.Name, abi.List(m.WriteModes)))
	}
	if d.MigrateMode == abi.MigrateModeForced && !g.HasFeature(abi.FeatureMigrateForced) {
		env.Log.Warn("guest cannot drop and recreate tables: migrate_mode forced has no effect on it", "destination", d.Name, "guest", m.Name)
	}
	if len(m.SpecSchema) > 0 {
		if err := d.ValidateSpec(m.SpecSchema); err != nil {
			return fail(err)
		}
	}
	b, err := d.Batch(m.BatchDefaults)
	if err != nil {
		return fail(err)
	}
	dest.Batch = b
	if d.SyncGroupID != "" {
		if dest.SyncGroupID, err = env.Expander()(abi.ExpandRequest{Template: d.SyncGroupID}); err != nil {
			return fail(fmt.Errorf("sync_group_id: %w", err))
		}
	}
	// The guest gets the spec without its secrets: those its manifest
	// lists and those of the capabilities it asks for.
	var caps []host.Capability
	secrets := slices.Clone(m.Secrets)
	for _, c := range m.Capabilities {
		i := slices.IndexFunc(env.Capabilities, func(hc host.Capability) bool { return hc.Name() == c })
		if i < 0 {
			return fail(fmt.Errorf("this host cannot give guests the %s capability", c))
		}
		caps = append(caps, env.Capabilities[i])
		secrets = append(secrets, env.Capabilities[i].SecretKeys()...)
	}
	spec := map[string]any{}
	for k, v := range d.Spec {
		if !slices.Contains(secrets, k) {
			spec[k] = v
		}
	}
	fsDir := d.Directory
	if fsDir == "" && slices.Contains(m.Capabilities, abi.CapFilesystem) {
		fsDir = "."
		dir, rel, ok, err := pathDirectory(spec["path"])
		if err != nil {
			return fail(err)
		}
		if ok {
			fsDir, spec["path"] = dir, rel
			env.Log.Info("granted the directory of the spec's absolute path", "destination", d.Name, "directory", dir, "path", rel)
		}
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return fail(fmt.Errorf("spec: %w", err))
	}
	if env.Writers > 1 {
		dest.writeSlots = make(chan struct{}, env.Writers)
	}
	pc := host.PoolConfig{
		Size:        max(1, env.Writers),
		CallTimeout: env.CallTimeout,
		Logger:      env.GuestLog,
		Expand:      env.Expander(),
		Init: &abi.InitRequest{
			Destination: d.Name, Spec: specJSON,
			WriteMode: d.WriteMode, MigrateMode: d.MigrateMode, PKMode: d.PKMode,
			SyncID: env.SyncID, SyncTime: abi.FormatTime(env.SyncTime), SourceName: env.SourceName,
			SyncGroupID: dest.SyncGroupID, MaxMessageBytes: MaxMessageBytes,
		},
	}
	if env.ObserveCall != nil {
		pc.Observe = func(op abi.Op, took time.Duration, err error) { env.ObserveCall(d.Name, op, took, err) }
	}
	pc.Discarded = func(in *host.Instance) {
		if dest.discarded != nil {
			dest.discarded(dest, in)
		}
	}
	for _, c := range caps {
		gr, err := c.Open(ctx, host.OpenRequest{Destination: d.Name, Spec: d.Spec, Directory: fsDir, Logger: env.Log, Manifest: &m})
		if err != nil {
			return fail(err)
		}
		if pool := pgcap.PoolOf(gr); pool != nil {
			dest.lockDB = pool // where syncs take their table locks (lock.go)
		}
		dest.close = append(dest.close, func() {
			if err := gr.Close(); err != nil {
				env.Log.Warn("close capability", "destination", d.Name, "capability", c.Name(), "error", err)
			}
		})
		pc.Grants = append(pc.Grants, gr)
	}
	dest.poolConfig = pc
	if dest.Pool, err = g.NewPool(pc); err != nil {
		return fail(err)
	}
	return dest, nil
}

// Close releases the destination's resources. It does not run OpClose: a
// sync does that when it finishes (see Run).
func (d *Destination) Close() {
	for i := len(d.close) - 1; i >= 0; i-- {
		d.close[i]()
	}
	d.close = nil
}
