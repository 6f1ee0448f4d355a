package serve

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	reg          *prometheus.Registry
	rows         *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	records      *prometheus.CounterVec
	batches      *prometheus.CounterVec
	guestErrors  *prometheus.CounterVec
	streamErrors *prometheus.CounterVec
	callSeconds  *prometheus.HistogramVec
	streams      *prometheus.GaugeVec
	syncs        *prometheus.GaugeVec
	logDropped   *prometheus.CounterVec
	authFailures prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	tg := []string{"tenant", "guest"}
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wasmdest_serve_rows_total", Help: "Rows received in DoPut streams."}, tg)
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wasmdest_serve_bytes_total", Help: "Arrow buffer bytes received in DoPut streams."}, tg)
	m.records = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wasmdest_serve_records_total", Help: "Arrow record batches received in DoPut streams."}, tg)
	m.batches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wasmdest_serve_batches_written_total", Help: "Batches the guests wrote (successful write calls)."}, tg)
	m.guestErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wasmdest_serve_guest_errors_total", Help: "Failed guest calls by kind: error, timeout, oom, trap, panic."}, append(tg, "kind"))
	m.streamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wasmdest_serve_request_errors_total", Help: "Failed Flight requests by gRPC code."}, []string{"tenant", "code"})
	m.callSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wasmdest_serve_guest_call_seconds", Help: "Guest call latency by operation.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14)}, append(tg, "op"))
	m.streams = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wasmdest_serve_streams", Help: "DoPut streams by state (running, waiting)."}, []string{"tenant", "state"})
	m.syncs = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wasmdest_serve_syncs_open", Help: "Open syncs."}, []string{"tenant"})
	m.logDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wasmdest_serve_guest_log_lines_dropped_total", Help: "Guest log lines dropped by the per-tenant log rate limit."}, []string{"tenant"})
	m.authFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "wasmdest_serve_auth_failures_total", Help: "Requests refused for a missing or invalid token."})
	m.reg.MustRegister(m.rows, m.bytes, m.records, m.batches, m.guestErrors, m.streamErrors, m.callSeconds, m.streams, m.syncs, m.logDropped, m.authFailures,
		&poolCollector{s: s}, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

var (
	instancesDesc = prometheus.NewDesc("wasmdest_serve_guest_instances", "Live guest instances.", []string{"tenant", "guest"}, nil)
	memoryDesc    = prometheus.NewDesc("wasmdest_serve_guest_memory_bytes", "Linear memory of live guest instances (as of their last call).", []string{"tenant", "guest"}, nil)
	tenantsDesc   = prometheus.NewDesc("wasmdest_serve_tenants", "Configured tenants.", nil, nil)
)

// poolCollector reports the instance pools of open syncs at scrape time.
type poolCollector struct{ s *Server }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- memoryDesc
	ch <- tenantsDesc
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	type k struct{ tenant, guest string }
	inst, mem := map[k]float64{}, map[k]float64{}
	c.s.mu.RLock()
	ntenants := len(c.s.tenants)
	for _, sy := range c.s.syncs {
		for _, d := range sy.dests {
			st := d.Pool.Stats()
			key := k{sy.gen.cfg.Name, d.Guest.Name()}
			inst[key] += float64(st.Instances)
			mem[key] += float64(st.MemoryBytes)
		}
	}
	c.s.mu.RUnlock()
	for key, v := range inst {
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, v, key.tenant, key.guest)
		ch <- prometheus.MustNewConstMetric(memoryDesc, prometheus.GaugeValue, mem[key], key.tenant, key.guest)
	}
	ch <- prometheus.MustNewConstMetric(tenantsDesc, prometheus.GaugeValue, float64(ntenants))
}
