package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/wasmdest/wasmdest/internal/gueststore"
	"github.com/wasmdest/wasmdest/internal/serve"
)

// cmdServe runs `wasmdest serve`: multi-tenant hosting over Arrow Flight
// (internal/serve, docs/serve.md).
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommand("serve", "wasmdest serve --config TENANTS.toml [flags]\n       wasmdest serve --new-token",
		"Hosts tenants' guests over Arrow Flight: each tenant's token, destinations and limits come from\nthe tenants file (docs/serve.md). SIGHUP (or --watch) reloads it.", stdout, stderr)
	var c common
	c.register(fs.FlagSet)
	c.memoryMiB = serve.DefaultMemoryLimitMiB
	mem := fs.Lookup("memory-limit")
	mem.DefValue = fmt.Sprint(serve.DefaultMemoryLimitMiB)
	mem.Usage = "memory limit of each guest instance of a tenant that sets no memory_limit_mib, in MiB"
	cfgPath := fs.String("config", "", "tenants file (TOML, see docs/serve.md)")
	listen := fs.String("listen", "127.0.0.1:8815", "Arrow Flight (gRPC) address")
	httpAddr := fs.String("http", "127.0.0.1:8816", "address of /healthz and /metrics; \"\" for none")
	maxStreams := fs.Int("max-active-streams", 0, "DoPut streams running at once over all tenants, admitted fairly (0: 2 x GOMAXPROCS)")
	idle := fs.Duration("sync-idle-timeout", 10*time.Minute, "abort a sync with no stream for this long")
	maxMsg := fs.Int("max-message-bytes", serve.DefaultMaxMessageBytes, "largest gRPC message (one Flight record batch) accepted")
	guestLog := fs.Int("guest-log-rate", 100, "guest log lines per second per tenant; more are dropped and counted")
	watch := fs.Duration("watch", 0, "also reload when the tenants file changes, checking this often (0: only on SIGHUP)")
	guestStore := fs.String("guest-store", "", "where the guests tenants deploy (may_deploy) are kept: a directory, or s3://BUCKET/PREFIX; replicas share it; \"\" for none")
	storeEndpoint := fs.String("guest-store-endpoint", "", "S3-compatible server of an s3:// --guest-store, e.g. http://minio:9000 (\"\": AWS); credentials from the AWS default chain")
	storeRegion := fs.String("guest-store-region", "", "region of an s3:// --guest-store's bucket (\"\": the AWS default chain's, or us-east-1 with an endpoint)")
	storePathStyle := fs.Bool("guest-store-path-style", false, "address an s3:// --guest-store's bucket path-style (ENDPOINT/BUCKET/KEY), as most S3-compatible servers want")
	advertise := fs.String("advertise", "", "this replica's Flight location as clients reach it (grpc+tcp://HOST:PORT), for several replicas behind a load balancer")
	drain := fs.Duration("drain-timeout", 5*time.Minute, "on SIGTERM/SIGINT, refuse new syncs and wait this long for open ones to finish")
	newToken := fs.Bool("new-token", false, "print a new bearer token and the token_sha256 line for the tenants file, and exit")
	if _, err := fs.parseN(args, 0, ""); err != nil {
		return err
	}
	if *newToken {
		tok, sha := serve.NewToken()
		fmt.Fprintf(stdout, "token:        %s\ntoken_sha256 = %q\n", tok, sha)
		return nil
	}
	if *cfgPath == "" {
		return fs.fail("--config TENANTS.toml is required")
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// Guest code holds its thread until the call returns or, for an
		// untrusted tenant, its deadline stops it: more Ps than cores let the
		// OS share the cores with everyone else meanwhile (docs/serve.md,
		// "Measured": p95 of a neighbour's puts 106 ms -> 72 ms beside two
		// spinning guests on 2 cores).
		runtime.GOMAXPROCS(max(2*runtime.NumCPU(), 4))
	}
	opts := serve.Options{
		ConfigPath: *cfgPath, CacheDir: c.cacheDir, Cache: sharedCache, Log: log, LogOutput: stderr, LogLevel: log.GetLevel(), LogJSON: c.logFormat == "json",
		MemoryLimitMiB: int(c.memoryMiB), MaxActiveStreams: *maxStreams, SyncIdleTimeout: *idle, MaxMessageBytes: *maxMsg, GuestLogLinesPerSecond: *guestLog,
		GuestStore: *guestStore, Advertise: *advertise,
		GuestStoreS3: gueststore.S3Options{Endpoint: *storeEndpoint, Region: *storeRegion, PathStyle: *storePathStyle},
	}
	if !gueststore.IsS3(*guestStore) && (*storeEndpoint != "" || *storeRegion != "" || *storePathStyle) {
		return fs.fail("--guest-store-endpoint, --guest-store-region and --guest-store-path-style apply to an s3://BUCKET/PREFIX --guest-store only")
	}
	if c.guestDir != "" {
		opts.GuestDirs = []string{c.guestDir}
	}
	srv, err := serve.New(ctx, opts)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		srv.Close(ctx)
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.ServeFlight(lis) }()
	var hs *http.Server
	if *httpAddr != "" {
		hl, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			srv.Close(ctx)
			return err
		}
		hs = &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- hs.Serve(hl) }()
		log.Info("serving", "flight", lis.Addr().String(), "http", hl.Addr().String())
	} else {
		log.Info("serving", "flight", lis.Addr().String())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	var lastMod time.Time
	if *watch > 0 {
		t := time.NewTicker(*watch)
		defer t.Stop()
		tick = t.C
		if fi, err := os.Stat(*cfgPath); err == nil {
			lastMod = fi.ModTime()
		}
	}
	reload := func(why string) {
		log.Info("reloading tenants", "why", why)
		if err := srv.Reload(ctx); err != nil {
			log.Error("reload", "error", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			log.Info("draining: no new syncs, waiting for open ones", "timeout", *drain)
			dctx, dcancel := context.WithTimeout(context.Background(), *drain)
			if err := srv.Drain(dctx); err != nil {
				log.Warn("drain", "error", err)
			}
			dcancel()
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if hs != nil {
				hs.Shutdown(sctx)
			}
			return srv.Close(sctx)
		case <-hup:
			reload("SIGHUP")
		case <-tick:
			if fi, err := os.Stat(*cfgPath); err == nil && !fi.ModTime().Equal(lastMod) {
				lastMod = fi.ModTime()
				reload("file changed")
			}
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				continue
			}
			srv.Close(context.Background())
			return err
		}
	}
}
