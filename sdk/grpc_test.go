package sdk

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tokenhost/tokenhost/internal/pluginrpc"
	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

// scripted is a Source whose answers the test sets.
type scripted struct {
	opts  map[string]any
	tok   Token
	err   error
	stale Token
	block bool
}

func (s *scripted) Configure(_ context.Context, o map[string]any) (Info, error) {
	s.opts = o
	return Info{Name: "scripted", Version: "1.2.3", Upstream: "https://x.example", AllowedHosts: []string{"y.example"}, Header: "api-key", Mode: "m", MaxFetch: 75 * time.Second, NoTokenCache: true,
		IdentityFrom: append([]IdentitySource{IdentityFile("/home/u/.config/x.json")}, IdentityEnv("X_TOKEN", "X_*")...)}, s.err
}
func (s *scripted) Token(ctx context.Context) (Token, error) {
	if s.block {
		<-ctx.Done()
		return Token{}, ctx.Err()
	}
	return s.tok, s.err
}
func (s *scripted) Refresh(_ context.Context, stale Token) (Token, error) {
	s.stale = stale
	return s.tok, s.err
}

// dial serves src over an in-memory gRPC connection and returns the host-side Source.
func dial(t *testing.T, src Source) Source {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pb.RegisterSourceServer(srv, &grpcServer{impl: src})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &grpcClient{c: pb.NewSourceClient(conn)}
}

func TestTokenAndInfoSurviveTheHop(t *testing.T) {
	exp := time.Unix(1_900_000_000, 123456789)
	at := exp.Add(-time.Minute)
	src := &scripted{tok: Token{Value: "v", Type: "Bearer", Expiry: exp, RefreshAt: at, Headers: map[string]string{"ChatGPT-Account-ID": "a"}}}
	c := dial(t, src)
	info, err := c.Configure(context.Background(), map[string]any{"s": "x", "n": 3, "l": []any{"a"}, "m": map[string]any{"k": true}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "scripted" || info.Version != "1.2.3" || info.Header != "api-key" || info.AllowedHosts[0] != "y.example" || info.Mode != "m" || info.MaxFetch != 75*time.Second || !info.NoTokenCache {
		t.Fatalf("info = %+v", info)
	}
	if want := []IdentitySource{{File: "/home/u/.config/x.json"}, {Env: "X_TOKEN"}, {Env: "X_*"}}; !slices.Equal(info.IdentityFrom, want) {
		t.Fatalf("IdentityFrom = %+v, want %+v", info.IdentityFrom, want)
	}
	if src.opts["s"] != "x" || src.opts["n"] != float64(3) || src.opts["m"].(map[string]any)["k"] != true {
		t.Fatalf("options arrived as %#v", src.opts)
	}
	got, err := c.Refresh(context.Background(), Token{Value: "old", Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Expiry.Equal(exp) || !got.RefreshAt.Equal(at) || got.Headers["ChatGPT-Account-ID"] != "a" || got.Value != "v" {
		t.Fatalf("token = %+v", got)
	}
	if src.stale.Value != "old" || !src.stale.Expiry.Equal(exp) {
		t.Fatalf("stale token arrived as %+v", src.stale)
	}
	src.tok = Token{Value: "noexp"}
	if got, _ := c.Token(context.Background()); !got.Expiry.IsZero() || !got.RefreshAt.IsZero() {
		t.Fatal("a zero expiry did not stay zero")
	}
}

func TestErrorKindsSurviveTheHop(t *testing.T) {
	for _, want := range []*Error{
		{Kind: KindReauthRequired, Message: "sign in again with `x login`"},
		{Kind: KindUnavailable, Message: "endpoint answered 503"},
		{Kind: KindBadConfig, Key: "token_url", Message: "must be https"},
		{Kind: KindInternal, Message: "boom"},
	} {
		c := dial(t, &scripted{err: want})
		_, err := c.Token(context.Background())
		var got *Error
		if !errors.As(err, &got) || *got != *want {
			t.Fatalf("got %#v, want %#v", err, want)
		}
	}
	// A plain error becomes Internal with its message.
	_, err := dial(t, &scripted{err: errors.New("plain")}).Token(context.Background())
	if KindOf(err) != KindInternal || err.Error() != "plain" {
		t.Fatalf("plain error became %v (%s)", err, KindOf(err))
	}
}

func TestCancelledContextCrossesTheHop(t *testing.T) {
	c := dial(t, &scripted{block: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := c.Token(ctx); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestDeadConnectionIsATransportError(t *testing.T) {
	lis := bufconn.Listen(1 << 10)
	lis.Close()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = (&grpcClient{c: pb.NewSourceClient(conn)}).Token(context.Background())
	var te *pluginrpc.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TransportError", err)
	}
}

// The version Serve speaks is the one a host serves.
func TestProtocolVersionIsTheHosts(t *testing.T) {
	if ProtocolVersion != pluginrpc.ProtocolVersion || pluginrpc.Handshake.ProtocolVersion != ProtocolVersion {
		t.Fatalf("sdk speaks protocol %d, the host serves %d (handshake %d)", ProtocolVersion, pluginrpc.ProtocolVersion, pluginrpc.Handshake.ProtocolVersion)
	}
}
