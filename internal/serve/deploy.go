package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/compilejail"
	"github.com/wasmdest/wasmdest/internal/gueststore"
)

// deployState is what the server keeps of deployed guests: the store, and
// per tenant and name the loaded guest of the hash begin last resolved (so
// that the next begin does not load it again).
type deployState struct {
	store *gueststore.Store
	// compiling bounds uploads being compiled (each in a child process,
	// killed at its compile_timeout): one per tenant and GOMAXPROCS/2 in all.
	compiling chan struct{}
	// cacheDir is the compilation cache directory the compile children
	// share with the server ("" for none).
	cacheDir string
	mu       sync.Mutex
	busy     map[string]bool         // tenants with an upload compiling
	holds    map[string]*sharedGuest // "tenant/name" -> current guest
	// verdicts keeps the compile child's verdict on each module that
	// passed, by content hash and the limits it passed under: the verdict
	// on the same bytes under the same limits never changes, so describe
	// (or a deploy of the same bytes again) starts no child.
	verdicts map[verdictKey]*compilejail.Verdict
}

// verdictKey names a compile child's verdict: the module's content hash
// and the request's limits (a module that initialized within one memory
// cap or CPU budget may not within a smaller one).
type verdictKey struct {
	hash                  string
	guestMiB, compilerMiB int
	cpu                   time.Duration
}

// maxVerdicts bounds the verdict cache; past it, it starts over (a
// verdict is a few hundred bytes; this is only against unbounded growth
// on a server that sees many distinct uploads).
const maxVerdicts = 4096

func (d *deployState) init(loc string, s3 gueststore.S3Options) error {
	d.busy, d.holds = map[string]bool{}, map[string]*sharedGuest{}
	d.verdicts = map[verdictKey]*compilejail.Verdict{}
	d.compiling = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))
	if loc == "" {
		return nil
	}
	st, err := gueststore.OpenLocation(loc, s3)
	if err != nil {
		return err
	}
	d.store = st
	return nil
}

// wasmMagic is the header of every WebAssembly binary module, version 1.
var wasmMagic = []byte("\x00asm\x01\x00\x00\x00")

// deployCommand is the descriptor command of a DoPut that uploads a guest:
// CMD {"deploy": NAME}; the messages' data_body carry the module's bytes.
type deployCommand struct {
	Deploy string `json:"deploy"`
}

// chunkReader reads the data_body of a DoPut stream's messages in turn.
type chunkReader struct {
	stream flight.FlightService_DoPutServer
	buf    []byte
	n      int64
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		msg, err := c.stream.Recv()
		if err != nil {
			return 0, err // io.EOF at the end
		}
		c.buf = msg.DataBody
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	c.n += int64(n)
	return n, nil
}

// deployPut runs a DoPut whose descriptor is a deploy command.
func (s *Server) deployPut(stream flight.FlightService_DoPutServer, t *tenant, first *flight.FlightData) error {
	var cmd deployCommand
	if err := json.Unmarshal(first.FlightDescriptor.Cmd, &cmd); err != nil || cmd.Deploy == "" {
		return status.Errorf(codes.InvalidArgument, `a DoPut with a CMD descriptor uploads a guest: CMD {"deploy": NAME}, the module in the messages' data_body (%v)`, err)
	}
	body := &chunkReader{stream: stream, buf: first.DataBody}
	res, err := s.deploy(stream.Context(), t, cmd.Deploy, body)
	if err != nil {
		s.log.Warn("deploy refused", "tenant", t.cfg.Name, "guest", cmd.Deploy, "read_bytes", body.n, "error", err)
		return err
	}
	s.log.Info("guest deployed", "tenant", t.cfg.Name, "guest", res.Name, "hash", res.Hash, "bytes", res.Size, "previous", res.Previous)
	meta, _ := json.Marshal(res)
	return stream.Send(&flight.PutResult{AppMetadata: meta})
}

// deploy validates and stores a tenant's upload under name.
func (s *Server) deploy(ctx context.Context, t *tenant, name string, body io.Reader) (*DeployResult, error) {
	st, err := s.deployable(t)
	if err != nil {
		return nil, err
	}
	if err := gueststore.CheckName(name); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "deploy: guest %v", err)
	}
	refs, err := st.Refs(t.cfg.Name)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "deploy %q: guest store: %v", name, err)
	}
	old := slices.IndexFunc(refs, func(r gueststore.Ref) bool { return r.Name == name })
	if old < 0 && len(refs) >= t.cfg.MaxGuests {
		return nil, status.Errorf(codes.ResourceExhausted, "deploy %q: tenant %q has %d guests, its max_guests: delete one first", name, t.cfg.Name, len(refs))
	}
	// The cap is checked while reading: a body past it is not read further.
	max := t.cfg.MaxModuleBytes
	wasm, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "deploy %q: reading the module: %v", name, err)
	}
	if int64(len(wasm)) > max {
		return nil, status.Errorf(codes.ResourceExhausted, "deploy %q: the module is over tenant %q's max_module_bytes of %d: refused after reading %d bytes", name, t.cfg.Name, max, len(wasm))
	}
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return nil, status.Errorf(codes.InvalidArgument, "deploy %q: not a WebAssembly module: it does not begin with \\0asm version 1 (%d bytes received)", name, len(wasm))
	}
	sum := sha256.Sum256(wasm)
	hash := hex.EncodeToString(sum[:])
	info, err := s.validate(ctx, t, name, hash, wasm)
	if err != nil {
		return nil, err
	}
	// Quota: the modules the tenant's references would name afterwards.
	next := gueststore.Ref{Name: name, Current: hash, Updated: time.Now().UTC()}
	if old >= 0 && refs[old].Current != hash {
		next.Previous = refs[old].Current
	} else if old >= 0 {
		next.Previous = refs[old].Previous
	}
	used := map[string]bool{}
	var total int64
	for i, r := range append(slices.Clone(refs), next) {
		if i == old {
			continue
		}
		for _, h := range []string{r.Current, r.Previous} {
			if h == "" || used[h] {
				continue
			}
			used[h] = true
			if h == hash {
				total += int64(len(wasm))
			} else if n, err := st.Size(h); err == nil {
				total += n
			}
		}
	}
	if total > t.cfg.MaxGuestBytes {
		return nil, status.Errorf(codes.ResourceExhausted, "deploy %q: tenant %q's guests would take %d bytes, over its max_guest_bytes of %d: delete a guest first", name, t.cfg.Name, total, t.cfg.MaxGuestBytes)
	}
	if _, err := st.PutBytes(wasm); err != nil {
		return nil, status.Errorf(codes.Internal, "deploy %q: %v", name, err)
	}
	var prev *gueststore.Ref
	if old >= 0 {
		prev = &refs[old]
	}
	if err := st.ReplaceRef(t.cfg.Name, prev, next); err != nil {
		return nil, refError("deploy", name, err)
	}
	return &DeployResult{Name: name, Hash: hash, Previous: next.Previous, Size: int64(len(wasm)), Guest: *info}, nil
}

// refError is the status of a failed reference write: Aborted when another
// deploy of the same name got there first (the client may retry).
func refError(op, name string, err error) error {
	if errors.Is(err, gueststore.ErrConflict) {
		return status.Errorf(codes.Aborted, "%s %q: %v", op, name, err)
	}
	return status.Errorf(codes.Internal, "%s %q: %v", op, name, err)
}

// deployable returns the store if tenant t may deploy.
func (s *Server) deployable(t *tenant) (*gueststore.Store, error) {
	if !t.cfg.MayDeploy {
		return nil, status.Errorf(codes.PermissionDenied, "tenant %q may not deploy guests (may_deploy in the tenants file)", t.cfg.Name)
	}
	if s.deploys.store == nil {
		return nil, status.Error(codes.FailedPrecondition, "this server keeps no deployed guests: start it with --guest-store DIR (or s3://BUCKET/PREFIX)")
	}
	return s.deploys.store, nil
}

// validate compiles and initializes an upload in a child process under
// the tenant's limits (internal/compilejail: its memory_limit_mib +
// compile_memory_mib of memory, its compile_timeout of wall and CPU time),
// where it is checked as every guest is checked (host.Runtime.Load:
// exports, imports, ABI version, manifest); then its capabilities against
// the tenant's grant. The child compiles into the shared compilation cache,
// so that loading the guest at a begin is a cache hit.
func (s *Server) validate(ctx context.Context, t *tenant, name, hash string, wasm []byte) (*GuestInfo, error) {
	d := &s.deploys
	timeout := t.cfg.CompileTimeout.Duration
	req := compilejail.Request{Source: "upload " + name, GuestMemoryMiB: t.memoryMiB(s), CompilerMiB: t.cfg.CompileMemoryMiB,
		CPU: timeout, CacheDir: d.cacheDir, Nice: compileNice}
	key := verdictKey{hash: hash, guestMiB: req.GuestMemoryMiB, compilerMiB: req.CompilerMiB, cpu: req.CPU}
	d.mu.Lock()
	if v := d.verdicts[key]; v != nil {
		d.mu.Unlock()
		return s.grantVerdict(t, name, hash, v)
	}
	if d.busy[t.cfg.Name] {
		d.mu.Unlock()
		return nil, status.Errorf(codes.ResourceExhausted, "deploy %q: another upload of tenant %q is still compiling; try again when it ends", name, t.cfg.Name)
	}
	d.busy[t.cfg.Name] = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.busy, t.cfg.Name)
		d.mu.Unlock()
	}()
	deadline := time.Now().Add(timeout)
	wait := time.NewTimer(timeout)
	select {
	case d.compiling <- struct{}{}:
		wait.Stop()
	case <-wait.C:
		return nil, status.Errorf(codes.ResourceExhausted, "deploy %q: no compile slot free within compile_timeout %s", name, timeout)
	case <-ctx.Done():
		wait.Stop()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	// The child is gone when Inspect returns, whatever happened: the slot
	// is free at once.
	defer func() { <-d.compiling }()
	v, rep, err := compilejail.Inspect(ctx, compilejail.Options{Executable: s.opts.CompileExecutable, Timeout: time.Until(deadline)}, req, wasm)
	s.log.Info("upload compiled in a child process", "tenant", t.cfg.Name, "guest", name, "pid", rep.PID,
		"max_rss_mib", rep.MaxRSS>>20, "cpu", rep.CPU.Round(time.Millisecond), "wall", rep.Wall.Round(time.Millisecond), "error", err)
	var limit *compilejail.LimitError
	var refused *compilejail.RefusedError
	switch {
	case errors.As(err, &limit) && limit.Limit == compilejail.LimitMemory:
		return nil, status.Errorf(codes.ResourceExhausted, "deploy %q: compiling and initializing the module needed more than tenant %q's %d MiB (memory_limit_mib %d + compile_memory_mib %d): %v: refused",
			name, t.cfg.Name, req.GuestMemoryMiB+req.CompilerMiB, req.GuestMemoryMiB, req.CompilerMiB, err)
	case errors.As(err, &limit):
		return nil, status.Errorf(codes.DeadlineExceeded, "deploy %q: compiling and initializing the module took over tenant %q's compile_timeout of %s (%v; the child process compiling it was killed): refused",
			name, t.cfg.Name, timeout, err)
	case errors.As(err, &refused):
		return nil, status.Errorf(codes.InvalidArgument, "deploy %q: refused: %v", name, err)
	case ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	case err != nil:
		return nil, status.Errorf(codes.Internal, "deploy %q: %v", name, err)
	}
	d.mu.Lock()
	if len(d.verdicts) >= maxVerdicts {
		clear(d.verdicts)
	}
	d.verdicts[key] = v
	d.mu.Unlock()
	return s.grantVerdict(t, name, hash, v)
}

// grantVerdict is the GuestInfo of the verdict v on an upload for tenant
// t, or the error refusing it if it asks for capabilities t may never be
// granted.
func (s *Server) grantVerdict(t *tenant, name, hash string, v *compilejail.Verdict) (*GuestInfo, error) {
	info := verdictInfo(t, hash, v)
	if err := t.cfg.checkCapabilities(v.Name, v.Manifest.Capabilities); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "deploy %q: refused: %v (grant in the tenants file)", name, err)
	}
	return info, nil
}

// compileNice lowers the priority of the child compiling an upload: the
// server's streams come first.
const compileNice = 10

// memoryMiB is the memory cap of each of the tenant's guest instances.
func (t *tenant) memoryMiB(s *Server) int {
	if t.cfg.MemoryLimitMiB != 0 {
		return t.cfg.MemoryLimitMiB
	}
	return s.opts.MemoryLimitMiB
}

// verdictInfo is the GuestInfo of the compile child's verdict v on a
// module, for tenant t.
func verdictInfo(t *tenant, hash string, v *compilejail.Verdict) *GuestInfo {
	info := &GuestInfo{Hash: hash, Name: v.Name, Version: v.Version, ABIVersion: v.ABIVersion, HostABIVersion: abi.CurrentVersion.String(),
		Size: int64(v.Size), Imports: v.Imports, Asked: v.Manifest.Capabilities, Manifest: v.Manifest}
	for _, c := range v.Manifest.Capabilities {
		if t.cfg.granted(c) {
			info.Granted = append(info.Granted, c)
		}
	}
	return info
}

// resolveDeployed returns the loaded guest of the hash a tenant's named
// guest is at now, with a reference for the sync that will run it.
func (s *Server) resolveDeployed(ctx context.Context, t *tenant, name string) (*sharedGuest, error) {
	st := s.deploys.store
	if st == nil {
		return nil, status.Error(codes.FailedPrecondition, "this server keeps no deployed guests: start it with --guest-store DIR (or s3://BUCKET/PREFIX)")
	}
	ref, err := st.Ref(t.cfg.Name, name)
	if errors.Is(err, gueststore.ErrNotFound) {
		return nil, status.Errorf(codes.FailedPrecondition, "no deployed guest %q: deploy it first", name)
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "guest %q: %v", name, err)
	}
	var sum [sha256.Size]byte
	hex.Decode(sum[:], []byte(ref.Current))
	key := t.cfg.Name + "/" + name
	d := &s.deploys
	cctx, cancel := context.WithTimeout(ctx, t.cfg.CompileTimeout.Duration)
	defer cancel()
	sg, err := s.acquireGuest(cctx, t.group, sum, name+"@"+ref.Current[:12], func() ([]byte, error) { return st.Get(ref.Current) })
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "guest %q (%s): %v", name, ref.Current, err)
	}
	if err := t.cfg.checkGrants(sg.g); err != nil {
		s.releaseGuest(sg)
		return nil, status.Errorf(codes.FailedPrecondition, "guest %q (%s): %v", name, ref.Current, err)
	}
	// Hold the current version for the next begins; let go of the one
	// held before, which closes once its last sync ends.
	d.mu.Lock()
	old := d.holds[key]
	var drop *sharedGuest
	if old != sg {
		s.mu.Lock()
		sg.refs++
		s.mu.Unlock()
		d.holds[key] = sg
		drop = old
	}
	d.mu.Unlock()
	if drop != nil {
		s.releaseGuest(drop)
	}
	return sg, nil
}

// dropHold lets go of the held version of a tenant's named guest.
func (s *Server) dropHold(tenant, name string) {
	d := &s.deploys
	d.mu.Lock()
	sg := d.holds[tenant+"/"+name]
	delete(d.holds, tenant+"/"+name)
	d.mu.Unlock()
	if sg != nil {
		s.releaseGuest(sg)
	}
}

// guestAction runs the guest management actions.
func (s *Server) guestAction(ctx context.Context, t *tenant, typ string, req GuestRequest) (any, error) {
	st, err := s.deployable(t)
	if err != nil {
		return nil, err
	}
	if typ == ActionListGuests {
		refs, err := st.Refs(t.cfg.Name)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "list guests: %v", err)
		}
		out := []GuestRef{}
		for _, r := range refs {
			n, _ := st.Size(r.Current)
			out = append(out, GuestRef{Name: r.Name, Hash: r.Current, Previous: r.Previous, Size: n, Updated: r.Updated})
		}
		return out, nil
	}
	ref, err := st.Ref(t.cfg.Name, req.Name)
	if errors.Is(err, gueststore.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "no guest %q", req.Name)
	}
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	switch typ {
	case ActionDescribeGuest:
		wasm, err := st.Get(ref.Current)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "describe %q: %v", req.Name, err)
		}
		n, _ := st.Size(ref.Current)
		info, err := s.validate(ctx, t, req.Name, ref.Current, wasm)
		if err != nil {
			return nil, err
		}
		return &DescribeResult{GuestRef: GuestRef{Name: ref.Name, Hash: ref.Current, Previous: ref.Previous, Size: n, Updated: ref.Updated}, Guest: *info}, nil
	case ActionDeleteGuest:
		if err := st.DeleteRef(t.cfg.Name, req.Name); err != nil {
			return nil, status.Errorf(codes.Internal, "delete %q: %v", req.Name, err)
		}
		s.dropHold(t.cfg.Name, req.Name)
		s.log.Info("guest deleted", "tenant", t.cfg.Name, "guest", req.Name)
		return GuestRef{Name: ref.Name, Hash: ref.Current, Previous: ref.Previous}, nil
	case ActionRollbackGuest:
		if ref.Previous == "" {
			return nil, status.Errorf(codes.FailedPrecondition, "guest %q has no previous version to roll back to", req.Name)
		}
		next := gueststore.Ref{Name: ref.Name, Current: ref.Previous, Previous: ref.Current, Updated: time.Now().UTC()}
		if err := st.ReplaceRef(t.cfg.Name, &ref, next); err != nil {
			return nil, refError("rollback", req.Name, err)
		}
		s.log.Info("guest rolled back", "tenant", t.cfg.Name, "guest", req.Name, "hash", next.Current, "from", next.Previous)
		n, _ := st.Size(next.Current)
		return GuestRef{Name: next.Name, Hash: next.Current, Previous: next.Previous, Size: n, Updated: next.Updated}, nil
	}
	return nil, status.Errorf(codes.InvalidArgument, "unknown guest action %q", typ)
}
