package core

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tokenhost/tokenhost/sdk"
)

// tracerName is the instrumentation scope of the host's spans.
const tracerName = "github.com/tokenhost/tokenhost/core"

// Span names and attributes. Spans are made only off the hot path (a token fetch, the plugin call, the
// retry after a rejection); with no tracer provider set they are OpenTelemetry's no-op spans.
const (
	spanFetch   = "tokenhost.token.fetch"
	spanRPC     = "tokenhost.plugin."
	spanRetry   = "tokenhost.retry"
	attrProv    = "tokenhost.provider"
	attrReason  = "tokenhost.reason"
	attrStatus  = "http.response.status_code"
	eventCrash  = "tokenhost.plugin.restart"
	attrAttempt = "tokenhost.attempt"
)

// newTracer returns the tracer of a host opened with tp (nil: the global provider, which is a no-op
// until a program sets one).
func newTracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return otel.Tracer(tracerName)
	}
	return tp.Tracer(tracerName)
}

// tracerOr returns t, or the global tracer when t is nil (a cache built without a host, in tests).
func tracerOr(t trace.Tracer) trace.Tracer {
	if t == nil {
		return otel.Tracer(tracerName)
	}
	return t
}

// endSpan records err (if any) on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// fetchContext returns the context a shared fetch runs in: a fresh one (the fetch must outlive the
// caller that started it) that carries only the caller's span, so the fetch's spans nest under it.
func fetchContext(caller context.Context) context.Context {
	return trace.ContextWithSpan(context.Background(), trace.SpanFromContext(caller))
}

// startRPC starts the span of one plugin call (Token or Refresh) of provider.
func startRPC(ctx context.Context, t trace.Tracer, provider, method string) (context.Context, trace.Span) {
	return tracerOr(t).Start(ctx, spanRPC+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String(attrProv, provider)))
}

// noteRestart marks ctx's span: the plugin crashed during a call, which is tried again on a new process.
func noteRestart(ctx context.Context, attempt int) {
	trace.SpanFromContext(ctx).AddEvent(eventCrash, trace.WithAttributes(attribute.Int(attrAttempt, attempt)))
}

// startFetch starts the span of one token fetch from the plugin, for reason.
func (c *tokenCache) startFetch(ctx context.Context, reason string) (context.Context, trace.Span) {
	return tracerOr(c.tracer).Start(ctx, spanFetch, trace.WithAttributes(attribute.String(attrProv, c.name), attribute.String(attrReason, reason)))
}

// startRetry starts the span of the refresh and resend after the upstream answered status.
func (t *transport) startRetry(ctx context.Context, status int) (context.Context, trace.Span) {
	return tracerOr(t.cache.tracer).Start(ctx, spanRetry, trace.WithAttributes(attribute.String(attrProv, t.provider), attribute.Int("tokenhost.rejected_status", status)))
}

// rpcMethod names the plugin call a fetch makes: Token when nothing is cached, Refresh otherwise.
func rpcMethod(stale *sdk.Token) string {
	if stale == nil {
		return "Token"
	}
	return "Refresh"
}
