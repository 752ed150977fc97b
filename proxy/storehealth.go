package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenhost/tokenhost/core"
)

// The shared store's health in /readyz and /metrics. A host whose store is unavailable still serves every
// request (it fetches its own tokens), so it stays ready: /readyz answers 200 and says "store":
// "unavailable since ..." so that an operator sees the fleet has split, without a load balancer taking
// every host out of service because Redis went away.

// addStore adds the store's health to a /readyz body when the host shares tokens through a store.
func (px *proxy) addStore(body map[string]any) {
	if st := px.h.StoreStatus(); st.Configured {
		body["store"] = "ok"
		if !st.Up {
			body["store"] = "unavailable"
			body["store_unavailable_since"] = st.Since.UTC()
		}
	}
}

// collectStore exports tokenhost_store_up when the host shares tokens through a store.
func collectStore(ch chan<- prometheus.Metric, h *core.Host) {
	st := h.StoreStatus()
	if !st.Configured {
		return
	}
	up := 0.0
	if st.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descs().storeUp, prometheus.GaugeValue, up)
}
