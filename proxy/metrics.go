package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenhost/tokenhost/core"
)

// The proxy's Prometheus metrics. Counters the host already keeps are read from its stats snapshot at
// scrape time, so serving a request adds no metric work beyond the proxy's own request counter.

func newRequestCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokenhost_proxy_requests_total",
		Help: "Requests the proxy answered, by provider and HTTP status.",
	}, []string{"provider", "code"})
}

var (
	descFetch     = prometheus.NewDesc("tokenhost_token_fetch_seconds", "Time to obtain a token from the provider's plugin (first fetch, refresh-ahead, refresh after rejection).", []string{"provider", "result"}, nil)
	descFetches   = prometheus.NewDesc("tokenhost_first_fetches_total", "Tokens fetched from the plugin while the cache held none.", []string{"provider"}, nil)
	descRefreshes = prometheus.NewDesc("tokenhost_refreshes_total", "Tokens fetched from the plugin to replace the cached one (ok), and failed fetches (error).", []string{"provider", "result"}, nil)
	descRejected  = prometheus.NewDesc("tokenhost_upstream_rejections_total", "Upstream responses with a status in retry_statuses.", []string{"provider"}, nil)
	descRetries   = prometheus.NewDesc("tokenhost_retries_total", "Requests resent once with a refreshed token.", []string{"provider"}, nil)
	descNoReplay  = prometheus.NewDesc("tokenhost_not_replayable_total", "Rejections returned as they were because the body could not be replayed.", []string{"provider"}, nil)
	descFailures  = prometheus.NewDesc("tokenhost_wrapper_failures_total", "Requests the wrapper ended with an error.", []string{"provider"}, nil)
	descBreaker   = prometheus.NewDesc("tokenhost_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", []string{"provider", "breaker"}, nil)
	descRestarts  = prometheus.NewDesc("tokenhost_plugin_restarts_total", "Plugin process starts after the first.", []string{"provider"}, nil)
	descExpiry    = prometheus.NewDesc("tokenhost_token_expiry_timestamp_seconds", "Expiry of the cached token (0: none or unknown).", []string{"provider"}, nil)
)

// statsCollector exports the providers' counters, fetch latencies and states from the host's status
// snapshot; it never touches a token.
type statsCollector struct{ h *core.Host }

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFetch, descFetches, descRefreshes, descRejected, descRetries, descNoReplay, descFailures, descBreaker, descRestarts, descExpiry} {
		ch <- d
	}
	ch <- descStoreUp
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	collectStore(ch, c.h)
	for _, st := range c.h.Status() {
		s, n := st.Stats, st.Name
		fetchHistogram(ch, n, "ok", s.FetchOK)
		fetchHistogram(ch, n, "error", s.FetchFailed)
		ch <- prometheus.MustNewConstMetric(descFetches, prometheus.CounterValue, float64(s.Fetches), n)
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

// fetchHistogram exports one fetch-latency histogram once it has an observation, as a histogram vector
// creates a series on first use.
func fetchHistogram(ch chan<- prometheus.Metric, provider, result string, l core.Latency) {
	if l.Count == 0 {
		return
	}
	buckets := make(map[float64]uint64, len(core.FetchBuckets))
	for i, ub := range core.FetchBuckets {
		buckets[ub] = l.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(descFetch, l.Count, l.Sum.Seconds(), buckets, provider, result)
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
