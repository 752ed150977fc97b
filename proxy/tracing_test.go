package proxy

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
)

// TestProxyNestsTheHostsSpansUnderTheCallersTrace sends a request with a W3C traceparent header: with a
// propagator installed (as `tokenhost serve` does when exporting), the token fetch's span belongs to the
// caller's trace and has the caller's span as its parent.
func TestProxyNestsTheHostsSpansUnderTheCallersTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetTracerProvider(tp)
	defer otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	defer otel.SetTracerProvider(noop.NewTracerProvider())
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(up.URL)) // its spans go to the global provider set above
	px := proxyFor(t, h, Options{})

	ctx, caller := tp.Tracer("caller").Start(context.Background(), "agent.call")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, px.URL+"/p/x", nil)
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	caller.End()
	var fetch sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "tokenhost.token.fetch" {
			fetch = s
		}
	}
	if fetch == nil {
		t.Fatal("no token fetch span")
	}
	want := caller.SpanContext()
	if fetch.SpanContext().TraceID() != want.TraceID() || fetch.Parent().SpanID() != want.SpanID() {
		t.Fatalf("fetch span is in trace %s under %s; want trace %s under the caller's span %s",
			fetch.SpanContext().TraceID(), fetch.Parent().SpanID(), want.TraceID(), want.SpanID())
	}
}
