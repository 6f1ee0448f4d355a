// Package cqplugin serves one wasmdest destination guest over CloudQuery's
// plugin protocol v3 (docs/cloudquery.md), so that a CloudQuery CLI syncs
// into it as into any destination plugin: dialled at an address
// (registry: grpc) or started as an executable (registry: local).
//
// The semantics are internal/syncer's, through a syncer.Session per Write
// stream, with Env.Shaped set: the CLI has already added the internal
// columns and adjusted the keys, so the host adds and changes nothing.
// migrate_table messages are planned together (as `wasmdest run` plans
// every table before any DDL), each with its own migrate_force; inserts go
// through the host's batching into the guest, each batch whole or not at
// all; delete runs the guest's delete-stale with the message's source name
// and sync time once every batch of its table is written; delete_record
// runs the guest's optional delete_record operation.
package cqplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/cqplugin/pb"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// ProtocolVersion is the plugin protocol version served (GetVersions).
const ProtocolVersion = 3

// MaxMessageBytes bounds one gRPC message either way: CloudQuery's CLI
// receives messages of up to 200 MiB and sends records of its batches.
const MaxMessageBytes = 200 << 20

// Config says what a Server serves.
type Config struct {
	// GuestPath is the destination guest's .wasm file.
	GuestPath string
	// Env is the environment every sync starts from: Runtime, Log,
	// OpenPostgres, Writers, CallTimeout, GuestLog. A Write stream sets
	// SyncID (Init's invocation id, else a new UUID), SyncTime, LoadGuest
	// and Shaped in its own copy.
	Env syncer.Env
	// Directory is the host directory granted to a guest with the
	// filesystem capability; "" means the current directory.
	Directory string
}

// Server is a CloudQuery destination plugin backed by one guest. Register
// it on a grpc.Server made with ServerOptions.
type Server struct {
	pb.UnimplementedPluginServer
	pb.UnimplementedDiscoveryServer

	cfg Config
	log hclog.Logger
	// guest is set, or loadErr, before loaded is closed.
	guest   *host.Guest
	loadErr error
	loaded  chan struct{}

	mu           sync.Mutex
	dest         *config.Destination // the configured destination; nil before Init
	invocationID string
	closed       bool

	// writing is held by the running Write stream: one sync at a time.
	writing sync.Mutex
}

// New returns the server of a guest, which it starts loading (compiling a
// large guest without a warm cache takes a while; the server answers
// discovery meanwhile, and every other call waits for the load).
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Env.Runtime == nil {
		return nil, errors.New("cqplugin: no runtime")
	}
	if _, err := os.Stat(cfg.GuestPath); err != nil {
		return nil, fmt.Errorf("guest: %w", err)
	}
	log := cfg.Env.Log
	if log == nil {
		log = hclog.NewNullLogger()
		cfg.Env.Log = log
	}
	s := &Server{cfg: cfg, log: log, loaded: make(chan struct{})}
	go func() {
		defer close(s.loaded)
		start := time.Now()
		s.guest, s.loadErr = cfg.Env.Runtime.LoadFile(context.WithoutCancel(ctx), cfg.GuestPath)
		if s.loadErr != nil {
			log.Error("loading the guest failed", "guest", cfg.GuestPath, "error", s.loadErr)
			return
		}
		log.Info("guest loaded", "guest", s.guest.Name(), "version", s.guest.Manifest().Version, "took", time.Since(start).Round(time.Millisecond).String())
	}()
	return s, nil
}

// Guest waits for the guest to load and returns it.
func (s *Server) Guest(ctx context.Context) (*host.Guest, error) {
	select {
	case <-s.loaded:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if s.loadErr != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "the guest could not be loaded: %v", s.loadErr)
	}
	return s.guest, nil
}

// ServerOptions are the grpc.Server options the protocol needs: message
// sizes as CloudQuery's CLI sends and receives them.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes)}
}

// Register registers the plugin and discovery services on g.
func (s *Server) Register(g *grpc.Server) {
	pb.RegisterPluginServer(g, s)
	pb.RegisterDiscoveryServer(g, s)
}

// GetVersions answers the CLI's discovery call: protocol v3.
func (s *Server) GetVersions(context.Context, *pb.GetVersions_Request) (*pb.GetVersions_Response, error) {
	return &pb.GetVersions_Response{Versions: []int32{ProtocolVersion}}, nil
}

// GetName returns the guest's name.
func (s *Server) GetName(ctx context.Context, _ *pb.GetName_Request) (*pb.GetName_Response, error) {
	if _, err := s.Guest(ctx); err != nil {
		return nil, err
	}
	return &pb.GetName_Response{Name: s.guest.Manifest().Name}, nil
}

// GetVersion returns the guest's version, as "v1.2.3".
func (s *Server) GetVersion(ctx context.Context, _ *pb.GetVersion_Request) (*pb.GetVersion_Response, error) {
	if _, err := s.Guest(ctx); err != nil {
		return nil, err
	}
	v := s.guest.Manifest().Version
	if v != "" && !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return &pb.GetVersion_Response{Version: v}, nil
}

// GetSpecSchema returns the guest's JSON Schema of the nested spec.
func (s *Server) GetSpecSchema(ctx context.Context, _ *pb.GetSpecSchema_Request) (*pb.GetSpecSchema_Response, error) {
	if _, err := s.Guest(ctx); err != nil {
		return nil, err
	}
	if len(s.guest.Manifest().SpecSchema) == 0 {
		return &pb.GetSpecSchema_Response{}, nil
	}
	js := string(s.guest.Manifest().SpecSchema)
	return &pb.GetSpecSchema_Response{JsonSchema: &js}, nil
}

// GetTables answers a source's call with no tables: this is a destination.
func (s *Server) GetTables(context.Context, *pb.GetTables_Request) (*pb.GetTables_Response, error) {
	return &pb.GetTables_Response{}, nil
}

// destination makes the destination of a nested spec, validated against the
// guest's spec schema.
func (s *Server) destination(spec []byte) (*config.Destination, error) {
	m := s.guest.Manifest()
	d := &config.Destination{
		Name: m.Name, Registry: config.RegistryLocal, Path: s.cfg.GuestPath,
		WriteMode: writeMode(m.WriteModes), MigrateMode: abi.MigrateModeSafe, PKMode: abi.PKModeDefault,
		Directory: s.cfg.Directory, File: "spec", Spec: map[string]any{},
	}
	if len(strings.TrimSpace(string(spec))) > 0 {
		if err := json.Unmarshal(spec, &d.Spec); err != nil {
			return nil, fmt.Errorf("spec: not a JSON object: %w", err)
		}
		if d.Spec == nil {
			d.Spec = map[string]any{}
		}
	}
	if err := d.ValidateSpec(m.SpecSchema); err != nil {
		return nil, err
	}
	if _, err := d.Batch(abi.BatchLimits{}); err != nil {
		return nil, err
	}
	return d, nil
}

// writeMode is the write mode a guest is opened with. It only tells the
// guest how it is used: the CLI has shaped the keys already, and a guest
// upserts where a table has a primary key.
func writeMode(modes []abi.WriteMode) abi.WriteMode {
	for _, m := range []abi.WriteMode{abi.WriteModeOverwrite, abi.WriteModeOverwriteDeleteStale, abi.WriteModeAppend} {
		if len(modes) == 0 || slices.Contains(modes, m) {
			return m
		}
	}
	return modes[0]
}

// env returns a sync's environment.
func (s *Server) env() *syncer.Env {
	env := s.cfg.Env
	s.mu.Lock()
	env.SyncID = s.invocationID
	s.mu.Unlock()
	if env.SyncID == "" {
		env.SyncID = uuid.NewString()
	}
	env.SyncTime = time.Now().UTC().Truncate(time.Microsecond)
	env.Shaped = true
	g := s.guest
	env.LoadGuest = func(context.Context, string) (*host.Guest, error) { return g, nil }
	return &env
}

// open opens the destination of d: for a database, it connects.
func (s *Server) open(ctx context.Context, d *config.Destination) (*syncer.Destination, *syncer.Env, error) {
	env := s.env()
	od, err := syncer.Open(ctx, env, *d)
	if err != nil {
		return nil, nil, err
	}
	return od, env, nil
}

// Init validates the nested spec against the guest's schema and, unless
// no_connection, opens the destination once to check it.
func (s *Server) Init(ctx context.Context, req *pb.Init_Request) (*pb.Init_Response, error) {
	if _, err := s.Guest(ctx); err != nil {
		return nil, err
	}
	d, err := s.destination(req.GetSpec())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	if !req.GetNoConnection() {
		od, _, err := s.open(ctx, d)
		if err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "%v", err)
		}
		od.Close()
	}
	s.mu.Lock()
	s.dest, s.invocationID, s.closed = d, req.GetInvocationId(), false
	s.mu.Unlock()
	s.log.Info("initialised", "guest", s.guest.Name(), "version", s.guest.Manifest().Version, "no_connection", req.GetNoConnection())
	return &pb.Init_Response{}, nil
}

// TestConnection validates a spec and opens its destination.
func (s *Server) TestConnection(ctx context.Context, req *pb.TestConnection_Request) (*pb.TestConnection_Response, error) {
	if _, err := s.Guest(ctx); err != nil {
		return nil, err
	}
	d, err := s.destination(req.GetSpec())
	if err != nil {
		return &pb.TestConnection_Response{FailureCode: "INVALID_SPEC", FailureDescription: err.Error()}, nil
	}
	od, _, err := s.open(ctx, d)
	if err != nil {
		return &pb.TestConnection_Response{FailureCode: "CONNECTION_FAILED", FailureDescription: err.Error()}, nil
	}
	od.Close()
	return &pb.TestConnection_Response{Success: true}, nil
}

// configured returns the destination Init configured.
func (s *Server) configured() (*config.Destination, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dest == nil {
		return nil, status.Error(codes.FailedPrecondition, "the plugin is not initialised: call Init with the destination's spec first")
	}
	return s.dest, nil
}

// Close waits for a running Write to end (a Write flushes every batch
// before it returns) and forgets the configuration.
func (s *Server) Close(ctx context.Context, _ *pb.Close_Request) (*pb.Close_Response, error) {
	s.writing.Lock()
	defer s.writing.Unlock()
	s.mu.Lock()
	s.dest, s.closed = nil, true
	s.mu.Unlock()
	s.log.Info("closed")
	return &pb.Close_Response{}, nil
}
