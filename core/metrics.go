package core

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sony/gobreaker/v2"
)

// metrics are the host's Prometheus collectors. Counters the wrapper already keeps as atomics are read at
// scrape time, so serving a request adds no metric work beyond the proxy's own request counter.
type metrics struct {
	registry      *prometheus.Registry
	fetchSeconds  *prometheus.HistogramVec
	proxyRequests *prometheus.CounterVec
}

func newMetrics(h *Host) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		fetchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tokenhost_token_fetch_seconds",
			Help:    "Time to obtain a token from the provider's plugin (first fetch, refresh-ahead, refresh after rejection).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider", "result"}),
		proxyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenhost_proxy_requests_total",
			Help: "Requests the proxy answered, by provider and HTTP status.",
		}, []string{"provider", "code"}),
	}
	m.registry.MustRegister(m.fetchSeconds, m.proxyRequests, &statsCollector{h: h},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeFetch(provider string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.fetchSeconds.WithLabelValues(provider, result).Observe(d.Seconds())
}

var (
	descRefreshes = prometheus.NewDesc("tokenhost_refreshes_total", "Tokens fetched from the plugin, by result.", []string{"provider", "result"}, nil)
	descRejected  = prometheus.NewDesc("tokenhost_upstream_rejections_total", "Upstream responses with a status in retry_statuses.", []string{"provider"}, nil)
	descRetries   = prometheus.NewDesc("tokenhost_retries_total", "Requests resent once with a refreshed token.", []string{"provider"}, nil)
	descNoReplay  = prometheus.NewDesc("tokenhost_not_replayable_total", "Rejections returned as they were because the body could not be replayed.", []string{"provider"}, nil)
	descFailures  = prometheus.NewDesc("tokenhost_wrapper_failures_total", "Requests the wrapper ended with an error.", []string{"provider"}, nil)
	descBreaker   = prometheus.NewDesc("tokenhost_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", []string{"provider", "breaker"}, nil)
	descRestarts  = prometheus.NewDesc("tokenhost_plugin_restarts_total", "Plugin process starts after the first.", []string{"provider"}, nil)
	descExpiry    = prometheus.NewDesc("tokenhost_token_expiry_timestamp_seconds", "Expiry of the cached token (0: none or unknown).", []string{"provider"}, nil)
)

// statsCollector exports the providers' counters and states; it never touches a token.
type statsCollector struct{ h *Host }

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRefreshes, descRejected, descRetries, descNoReplay, descFailures, descBreaker, descRestarts, descExpiry} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.h.Status() {
		s, n := st.Stats, st.Name
		ch <- prometheus.MustNewConstMetric(descRefreshes, prometheus.CounterValue, float64(s.Refreshes), n, "ok")
		ch <- prometheus.MustNewConstMetric(descRefreshes, prometheus.CounterValue, float64(s.RefreshFailures), n, "error")
		ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(s.Rejected), n)
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(s.Retries), n)
		ch <- prometheus.MustNewConstMetric(descNoReplay, prometheus.CounterValue, float64(s.NotReplayable), n)
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(s.Failures), n)
		ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, breakerValue(st.UpstreamBreaker), n, "upstream")
		ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, breakerValue(st.TokenBreaker), n, "token")
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(max(s.PluginStarts-1, 0)), n)
		exp := 0.0
		if !st.Expiry.IsZero() {
			exp = float64(st.Expiry.Unix())
		}
		ch <- prometheus.MustNewConstMetric(descExpiry, prometheus.GaugeValue, exp, n)
	}
}

func breakerValue(state string) float64 {
	switch state {
	case gobreaker.StateHalfOpen.String():
		return 1
	case gobreaker.StateOpen.String():
		return 2
	}
	return 0
}

// Registry returns the host's Prometheus registry: provider counters, breaker states, token fetch
// latency, proxy requests, and the Go and process collectors.
func (h *Host) Registry() *prometheus.Registry { return h.metrics.registry }
