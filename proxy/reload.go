package proxy

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenhost/tokenhost/core"
)

// routeTransport sends a request through the transport of the provider the request acquired (the route in
// its context), so one reverse proxy serves every provider of every configuration generation.
type routeTransport struct{}

// RoundTrip forwards r through its route's provider wrapper.
func (routeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return r.Context().Value(routeKey{}).(route).ref.Transport().RoundTrip(r)
}

// generationCollector exports tokenhost_config_generation: 1 at start, one more per applied reload.
func generationCollector(h *core.Host) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tokenhost_config_generation",
		Help: "The configuration generation in effect: 1 at start, one more after each reload applied (SIGHUP or a change of the config file).",
	}, func() float64 { return float64(h.Generation()) })
}
