package proxy

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/internal/stats"
)

// The proxy's Prometheus metrics. Counters the host already keeps are read from its stats snapshot at
// scrape time, so serving a request adds no metric work beyond the proxy's own request counter.

func newRequestCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokenhost_proxy_requests_total",
		Help: "Requests the proxy answered, by provider and HTTP status.",
	}, []string{"provider", "code"})
}

// metricDescs are the descriptions of the metrics the collector exports, made on first use (not at package
// init, which every plugin process runs too).
type metricDescs struct {
	fetch     *prometheus.Desc
	fetches   *prometheus.Desc
	refreshes *prometheus.Desc
	rejected  *prometheus.Desc
	retries   *prometheus.Desc
	noReplay  *prometheus.Desc
	failures  *prometheus.Desc
	breaker   *prometheus.Desc
	restarts  *prometheus.Desc
	expiry    *prometheus.Desc
	storeUp   *prometheus.Desc
}

var descs = sync.OnceValue(func() *metricDescs {
	return &metricDescs{
		fetch:     prometheus.NewDesc("tokenhost_token_fetch_seconds", "Time to obtain a token from the provider's plugin (first fetch, refresh-ahead, refresh after rejection).", []string{"provider", "result"}, nil),
		fetches:   prometheus.NewDesc("tokenhost_first_fetches_total", "Tokens fetched from the plugin while the cache held none.", []string{"provider"}, nil),
		refreshes: prometheus.NewDesc("tokenhost_refreshes_total", "Tokens fetched from the plugin to replace the cached one (ok), and failed fetches (error).", []string{"provider", "result"}, nil),
		rejected:  prometheus.NewDesc("tokenhost_upstream_rejections_total", "Upstream responses with a status in retry_statuses.", []string{"provider"}, nil),
		retries:   prometheus.NewDesc("tokenhost_retries_total", "Requests resent once with a refreshed token.", []string{"provider"}, nil),
		noReplay:  prometheus.NewDesc("tokenhost_not_replayable_total", "Rejections returned as they were because the body could not be replayed.", []string{"provider"}, nil),
		failures:  prometheus.NewDesc("tokenhost_wrapper_failures_total", "Requests the wrapper ended with an error.", []string{"provider"}, nil),
		breaker:   prometheus.NewDesc("tokenhost_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", []string{"provider", "breaker"}, nil),
		restarts:  prometheus.NewDesc("tokenhost_plugin_restarts_total", "Plugin process starts after the first.", []string{"provider"}, nil),
		expiry:    prometheus.NewDesc("tokenhost_token_expiry_timestamp_seconds", "Expiry of the cached token (0: none or unknown).", []string{"provider"}, nil),
		storeUp:   prometheus.NewDesc("tokenhost_store_up", "1 while the shared store (fleet mode) answers, 0 while it is unavailable and this host fetches its own tokens; absent without a shared store.", nil, nil),
	}
})

// statsCollector exports the providers' counters, fetch latencies and states from the host's status
// snapshot; it never touches a token.
type statsCollector struct{ h *core.Host }

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	d := descs()
	for _, desc := range []*prometheus.Desc{d.fetch, d.fetches, d.refreshes, d.rejected, d.retries, d.noReplay, d.failures, d.breaker, d.restarts, d.expiry, d.storeUp} {
		ch <- desc
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	d := descs()
	collectStore(ch, c.h)
	for _, st := range c.h.Status() {
		s, n := st.Stats, st.Name
		fetchHistogram(ch, n, "ok", s.FetchOK)
		fetchHistogram(ch, n, "error", s.FetchFailed)
		ch <- prometheus.MustNewConstMetric(d.fetches, prometheus.CounterValue, float64(s.Fetches), n)
		ch <- prometheus.MustNewConstMetric(d.refreshes, prometheus.CounterValue, float64(s.Refreshes), n, "ok")
		ch <- prometheus.MustNewConstMetric(d.refreshes, prometheus.CounterValue, float64(s.RefreshFailures), n, "error")
		ch <- prometheus.MustNewConstMetric(d.rejected, prometheus.CounterValue, float64(s.Rejected), n)
		ch <- prometheus.MustNewConstMetric(d.retries, prometheus.CounterValue, float64(s.Retries), n)
		ch <- prometheus.MustNewConstMetric(d.noReplay, prometheus.CounterValue, float64(s.NotReplayable), n)
		ch <- prometheus.MustNewConstMetric(d.failures, prometheus.CounterValue, float64(s.Failures), n)
		ch <- prometheus.MustNewConstMetric(d.breaker, prometheus.GaugeValue, breakerValue(st.UpstreamBreaker), n, "upstream")
		ch <- prometheus.MustNewConstMetric(d.breaker, prometheus.GaugeValue, breakerValue(st.TokenBreaker), n, "token")
		ch <- prometheus.MustNewConstMetric(d.restarts, prometheus.CounterValue, float64(max(s.PluginStarts-1, 0)), n)
		exp := 0.0
		if !st.Expiry.IsZero() {
			exp = float64(st.Expiry.Unix())
		}
		ch <- prometheus.MustNewConstMetric(d.expiry, prometheus.GaugeValue, exp, n)
	}
}

// fetchHistogram exports one fetch-latency histogram once it has an observation, as a histogram vector
// creates a series on first use.
func fetchHistogram(ch chan<- prometheus.Metric, provider, result string, l core.Latency) {
	if l.Count == 0 {
		return
	}
	buckets := make(map[float64]uint64, stats.FetchBucketCount)
	for i, ub := range stats.FetchBuckets() {
		buckets[ub] = l.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(descs().fetch, l.Count, l.Sum.Seconds(), buckets, provider, result)
}

// breakerValue maps a breaker state name to the gauge value.
func breakerValue(state string) float64 {
	switch state {
	case "half-open":
		return 1
	case "open":
		return 2
	}
	return 0
}
