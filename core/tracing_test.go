package core

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/internal/pluginrpc"
	"github.com/tokenhost/tokenhost/sdk"
)

// endedSpans is a span processor that hands every ended span to a channel, so a test can wait for the
// span of a background refresh without sleeping.
type endedSpans chan sdktrace.ReadOnlySpan

func (e endedSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (e endedSpans) OnEnd(s sdktrace.ReadOnlySpan)                   { e <- s }
func (e endedSpans) Shutdown(context.Context) error                  { return nil }
func (e endedSpans) ForceFlush(context.Context) error                { return nil }

// next returns the next ended span named name, skipping others.
func (e endedSpans) next(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // hang guard only
	defer cancel()
	for {
		select {
		case s := <-e:
			if s.Name() == name {
				return s
			}
		case <-ctx.Done():
			t.Fatalf("no span %s ended", name)
		}
	}
}

// openTraced opens a host whose provider "p" runs src in process and sends its spans to tp.
func openTraced(t *testing.T, src sdk.Source, upstreamURL string, tp *sdktrace.TracerProvider) *Host {
	t.Helper()
	pc := testProvider(upstreamURL)
	h, err := Open(context.Background(), Options{Config: &config.Config{Providers: []*config.Provider{pc}, Source: "test"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), InProcess: map[string]sdk.Source{pc.Name: src}, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// TestSpansCarryTheReasonAndNestUnderTheCaller follows one provider through a cold fetch, a 401 and its
// retry, a refresh ahead and a fetch after expiry: each fetch is one span with its reason, around one
// plugin call span, and nests under the caller's own span when the caller's request carries one.
func TestSpansCarryTheReasonAndNestUnderTheCaller(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	ended := make(endedSpans, 64)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSpanProcessor(ended))
	clk := newClock()
	src := newFakeSource(time.Hour, clk.now)
	up := newUpstream(t, bearerValid(src))
	h := openTraced(t, src, up.URL, tp)
	h.gen.Load().providers["p"].cache.now = clk.now
	c, _ := h.Client("p")

	// The agent's own span around its request.
	ctx, agent := tp.Tracer("agent").Start(context.Background(), "agent.turn")
	send := func() {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, up.URL+"/v1/chat", nil)
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request: %v %v", resp, err)
		}
		resp.Body.Close()
	}

	send()
	rpc, fetch := ended.next(t, "tokenhost.plugin.Token"), ended.next(t, spanFetch)
	if got := attr(fetch, attrReason); got != ReasonCold {
		t.Errorf("first fetch's reason = %q, want %q", got, ReasonCold)
	}
	if fetch.Parent().SpanID() != agent.SpanContext().SpanID() || fetch.SpanContext().TraceID() != agent.SpanContext().TraceID() {
		t.Errorf("the fetch span does not nest under the caller's span")
	}
	if rpc.Parent().SpanID() != fetch.SpanContext().SpanID() {
		t.Errorf("the plugin call span does not nest under the fetch span")
	}

	src.revokeAll()
	send()
	rpc, fetch = ended.next(t, "tokenhost.plugin.Refresh"), ended.next(t, spanFetch)
	retry := ended.next(t, spanRetry)
	if got := attr(fetch, attrReason); got != ReasonRejected {
		t.Errorf("fetch after the 401's reason = %q, want %q", got, ReasonRejected)
	}
	if retry.Parent().SpanID() != agent.SpanContext().SpanID() || fetch.Parent().SpanID() != retry.SpanContext().SpanID() || rpc.Parent().SpanID() != fetch.SpanContext().SpanID() {
		t.Errorf("want agent.turn > tokenhost.retry > fetch > plugin.Refresh")
	}
	if got := attr(retry, attrStatus); got != "200" {
		t.Errorf("retry span's resent status = %q, want 200", got)
	}

	clk.advance(59 * time.Minute) // inside refresh_before: served, and one background refresh
	send()
	fetch = ended.next(t, spanFetch)
	if got := attr(fetch, attrReason); got != ReasonAhead {
		t.Errorf("background fetch's reason = %q, want %q", got, ReasonAhead)
	}
	if st := h.Status()[0]; st.LastRefreshReason != ReasonAhead || st.LastRefresh.IsZero() {
		t.Errorf("Status: last refresh %v for %q, want now for %q", st.LastRefresh, st.LastRefreshReason, ReasonAhead)
	}

	clk.advance(2 * time.Hour) // past expiry: callers wait on one fetch
	send()
	if got := attr(ended.next(t, spanFetch), attrReason); got != ReasonExpired {
		t.Errorf("fetch after expiry's reason = %q, want %q", got, ReasonExpired)
	}
	agent.End()
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if v := kv.Value.Emit(); len(v) > 4 && v[:4] == "tok-" {
				t.Errorf("span %s carries a token in %s", s.Name(), kv.Key)
			}
		}
	}
}

// TestFailedFetchSpanRecordsTheError checks that a fetch that fails ends its span with an error status.
func TestFailedFetchSpanRecordsTheError(t *testing.T) {
	ended := make(endedSpans, 16)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(ended))
	src := newFakeSource(time.Hour, time.Now)
	src.setFail(errReauth)
	up := newUpstream(t, bearerValid(src))
	h := openTraced(t, src, up.URL, tp)
	if _, err := h.token(context.Background(), "p"); err == nil {
		t.Fatal("Token succeeded with a failing source")
	}
	fetch := ended.next(t, spanFetch)
	if fetch.Status().Code.String() != "Error" || len(fetch.Events()) == 0 {
		t.Fatalf("failed fetch span: status %v, %d events; want Error with the error recorded", fetch.Status(), len(fetch.Events()))
	}
}

// BenchmarkHotPathTraced is BenchmarkHotPathOnly's tokenhost contender with an SDK tracer provider that
// samples everything: a request served from the cache makes no span, so it costs what it does with
// tracing off (compare with HotPathOnly/tokenhost), and the benchmark fails if any span was made.
func BenchmarkHotPathTraced(b *testing.B) {
	const tok = "bench-token-0123456789"
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(rec))
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	instant := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	h, p := newBenchHost(b, hosttest.StaticSource{Tok: tok}, "https://api.example.com")
	p.cache.tracer = tp.Tracer(tracerName)
	if _, err := h.token(context.Background(), "p"); err != nil {
		b.Fatal(err)
	}
	p.base = instant
	rt := p.newTransport(instant)
	before := len(rec.Started())
	b.Run("serial", func(b *testing.B) {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/x", nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rt.RoundTrip(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	if n := len(rec.Started()) - before; n != 0 {
		b.Fatalf("the hot path made %d spans; want none", n)
	}
}

// dropsFirstCall is a source whose first Token call fails as a lost plugin connection would.
type dropsFirstCall struct {
	*fakeSource
	dropped bool
}

func (d *dropsFirstCall) Token(ctx context.Context) (sdk.Token, error) {
	if !d.dropped {
		d.dropped = true
		return sdk.Token{}, &pluginrpc.TransportError{Err: context.Canceled}
	}
	return d.fakeSource.Token(ctx)
}

// TestPluginRestartIsAnEventOnThePluginCallSpan checks that a plugin call retried after the connection
// was lost carries a restart event on its span, and still succeeds.
func TestPluginRestartIsAnEventOnThePluginCallSpan(t *testing.T) {
	ended := make(endedSpans, 16)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(ended))
	src := &dropsFirstCall{fakeSource: newFakeSource(time.Hour, time.Now)}
	up := newUpstream(t, bearerValid(src.fakeSource))
	h := openTraced(t, src, up.URL, tp)
	if _, err := h.token(context.Background(), "p"); err != nil {
		t.Fatalf("Token after one lost connection: %v", err)
	}
	rpc := ended.next(t, "tokenhost.plugin.Token")
	var restarts int
	for _, ev := range rpc.Events() {
		if ev.Name == eventCrash {
			restarts++
		}
	}
	if restarts != 1 || !src.dropped {
		t.Fatalf("plugin call span has %d restart events, want 1", restarts)
	}
}
