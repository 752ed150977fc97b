package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TestTracingExportsWithOTLPWhenTheEndpointIsSet points the OTLP exporter at a loopback collector: a span
// made through the global tracer reaches it as an OTLP/HTTP protobuf POST to /v1/traces on stop.
func TestTracingExportsWithOTLPWhenTheEndpointIsSet(t *testing.T) {
	got := make(chan *http.Request, 8)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- r
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	defer otel.SetTracerProvider(noop.NewTracerProvider())
	stop, err := startTracing(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
		t.Fatalf("global tracer provider is %T, want the SDK's", otel.GetTracerProvider())
	}
	_, span := otel.Tracer("test").Start(context.Background(), "one")
	span.End()
	stop() // flushes
	select {
	case r := <-got:
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Fatalf("collector got %s %s (%s), want an OTLP/HTTP protobuf POST to /v1/traces", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
	default:
		t.Fatal("the collector received nothing after stop flushed the exporter")
	}
}

// TestTracingIsOffWithoutAnEndpoint checks that with no OTLP endpoint nothing is set up: the global
// provider stays the no-op one.
func TestTracingIsOffWithoutAnEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	before := otel.GetTracerProvider()
	stop, err := startTracing(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if otel.GetTracerProvider() != before {
		t.Fatalf("tracing without an endpoint replaced the global provider with %T", otel.GetTracerProvider())
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); ok {
		t.Fatal("an SDK tracer provider is installed without an endpoint")
	}
}
