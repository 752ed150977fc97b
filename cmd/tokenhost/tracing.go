package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// tracingFlushTimeout bounds how long exiting waits for the last spans to reach the collector.
const tracingFlushTimeout = 5 * time.Second

// tracingEnabled reports whether the standard OpenTelemetry environment names an OTLP endpoint for traces.
func tracingEnabled() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// startTracing exports the host's spans with OTLP over HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, configured by the standard OTEL_* variables, and accepts
// W3C trace context from callers. With neither set it does nothing, and spans stay OpenTelemetry's no-op
// ones. The returned function flushes and stops the exporter.
func startTracing(ctx context.Context, log *slog.Logger) (stop func(), err error) {
	if !tracingEnabled() {
		return func() {}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: cannot set up the OTLP exporter from OTEL_EXPORTER_OTLP_*: %w; fix or unset OTEL_EXPORTER_OTLP_ENDPOINT", err)
	}
	res := resource.Default()
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		ours := resource.NewSchemaless(attribute.String("service.name", "tokenhost"), attribute.String("service.version", versionString()))
		if merged, err := resource.Merge(res, ours); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	log.Info("exporting traces with OTLP over HTTP", "endpoint", endpointForLog())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			log.Warn("tracing: the last spans could not be exported", "error", err.Error())
		}
	}, nil
}

// endpointForLog is the configured endpoint without anything after the host (a path or query may carry
// a key).
func endpointForLog() string {
	e := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if e == "" {
		e = os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" {
		return "(unparsable)"
	}
	return u.Scheme + "://" + u.Host
}
