package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenhost/tokenhost/internal/hostapi"
)

// generationCollector exports tokenhost_config_generation: 1 at start, one more per applied reload.
func generationCollector(h hostapi.Host) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tokenhost_config_generation",
		Help: "The configuration generation in effect: 1 at start, one more after each reload applied (SIGHUP or a change of the config file).",
	}, func() float64 { return float64(h.Generation()) })
}
