package proxy

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// callerTrace returns r's context carrying the caller's trace context (a W3C traceparent header, when the
// program installed a propagator; `tokenhost serve` does when it exports traces), so that the host's
// spans for this request nest under the caller's. Without a propagator it returns r's context as it is.
func callerTrace(r *http.Request) context.Context {
	return otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
}
