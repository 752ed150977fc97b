package sdk

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/tokenhost/tokenhost/internal/pluginrpc"
	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

const errorDomain = "tokenhost"

// grpcServer adapts a Source to the generated gRPC server interface (plugin side).
type grpcServer struct {
	pb.UnimplementedSourceServer
	impl    Source
	storage pluginStorage
}

func (s *grpcServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	opts := map[string]any{}
	if req.GetOptions() != nil {
		opts = req.GetOptions().AsMap()
	}
	if err := s.storage.offer(s.impl, req.GetStorageBrokerId()); err != nil {
		return nil, toStatus(err)
	}
	info, err := s.impl.Configure(ctx, opts)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{Info: &pb.Info{
		Name: info.Name, Version: info.Version, Upstream: info.Upstream, AllowedHosts: info.AllowedHosts,
		Header: info.Header, Scheme: info.Scheme, Mode: info.Mode, MaxFetchMillis: info.MaxFetch.Milliseconds(), NoTokenCache: info.NoTokenCache,
		UsesStorage: info.UsesStorage, IdentityFrom: identityToPB(info.IdentityFrom),
	}}, nil
}

func (s *grpcServer) Token(ctx context.Context, _ *pb.TokenRequest) (*pb.TokenResponse, error) {
	t, err := s.impl.Token(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.TokenResponse{Token: tokenToPB(t)}, nil
}

func (s *grpcServer) Refresh(ctx context.Context, req *pb.RefreshRequest) (*pb.TokenResponse, error) {
	t, err := refreshRejected(ctx, s.impl, tokenFromPB(req.GetStale()), rejectionFromPB(req.GetRejection()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.TokenResponse{Token: tokenToPB(t)}, nil
}

// grpcClient is the host-side Source that calls a plugin over gRPC.
type grpcClient struct {
	c       pb.SourceClient
	broker  *plugin.GRPCBroker
	storage Storage // what UseStorage handed over, offered to the plugin at Configure; nil: none
}

// Configure configures the plugin, offering it the storage UseStorage handed over, if any.
func (c *grpcClient) Configure(ctx context.Context, options map[string]any) (Info, error) {
	return c.configure(ctx, options, c.storage)
}

func (c *grpcClient) configureID(ctx context.Context, options map[string]any, storageID uint32) (Info, error) {
	st, err := structpb.NewStruct(options)
	if err != nil {
		return Info{}, BadConfig("", "options cannot be sent to the plugin: %v", err)
	}
	resp, err := c.c.Configure(ctx, &pb.ConfigureRequest{Options: st, StorageBrokerId: storageID})
	if err != nil {
		return Info{}, fromStatus(ctx, err)
	}
	i := resp.GetInfo()
	return Info{Name: i.GetName(), Version: i.GetVersion(), Upstream: i.GetUpstream(), AllowedHosts: i.GetAllowedHosts(),
		Header: i.GetHeader(), Scheme: i.GetScheme(), Mode: i.GetMode(), MaxFetch: time.Duration(min(max(i.GetMaxFetchMillis(), 0), maxFetchMillis)) * time.Millisecond,
		NoTokenCache: i.GetNoTokenCache(), UsesStorage: i.GetUsesStorage(), IdentityFrom: identityFromPB(i.GetIdentityFrom())}, nil
}

func identityToPB(ids []IdentitySource) []*pb.IdentitySource {
	if len(ids) == 0 {
		return nil
	}
	out := make([]*pb.IdentitySource, len(ids))
	for i, id := range ids {
		out[i] = &pb.IdentitySource{File: id.File, Env: id.Env}
	}
	return out
}

func identityFromPB(ids []*pb.IdentitySource) []IdentitySource {
	if len(ids) == 0 {
		return nil
	}
	out := make([]IdentitySource, len(ids))
	for i, id := range ids {
		out[i] = IdentitySource{File: id.GetFile(), Env: id.GetEnv()}
	}
	return out
}

func (c *grpcClient) Token(ctx context.Context) (Token, error) {
	resp, err := c.c.Token(ctx, &pb.TokenRequest{})
	if err != nil {
		return Token{}, fromStatus(ctx, err)
	}
	return tokenFromPB(resp.GetToken()), nil
}

func (c *grpcClient) Refresh(ctx context.Context, stale Token) (Token, error) {
	return c.refresh(ctx, &pb.RefreshRequest{Stale: tokenToPB(stale)})
}

// RefreshRejected sends why along with the rejected token; a plugin that does not read it (an older one,
// or one without RejectionAware) answers as to Refresh.
func (c *grpcClient) RefreshRejected(ctx context.Context, rejected Token, why Rejection) (Token, error) {
	return c.refresh(ctx, &pb.RefreshRequest{Stale: tokenToPB(rejected), Rejection: rejectionToPB(why)})
}

func (c *grpcClient) refresh(ctx context.Context, req *pb.RefreshRequest) (Token, error) {
	resp, err := c.c.Refresh(ctx, req)
	if err != nil {
		return Token{}, fromStatus(ctx, err)
	}
	return tokenFromPB(resp.GetToken()), nil
}

// rejectionToPB is why on the wire, its text cleaned and bounded; nil when why names no status.
func rejectionToPB(why Rejection) *pb.Rejection {
	if why.Status <= 0 || why.Status > 999 {
		return nil
	}
	return &pb.Rejection{Status: int32(why.Status), Challenge: cleanChallenge(why.Challenge)}
}

// rejectionFromPB is the Rejection the host sent, cleaned and bounded again (the plugin trusts no
// text it did not check); the zero Rejection when none was sent.
func rejectionFromPB(r *pb.Rejection) Rejection {
	if r == nil || r.GetStatus() <= 0 || r.GetStatus() > 999 {
		return Rejection{}
	}
	return Rejection{Status: int(r.GetStatus()), Challenge: cleanChallenge(r.GetChallenge())}
}

func tokenToPB(t Token) *pb.Token {
	return &pb.Token{Value: t.Value, Type: t.Type, ExpiryUnixNano: unixNano(t.Expiry), RefreshAtUnixNano: unixNano(t.RefreshAt), Headers: t.Headers}
}

func tokenFromPB(t *pb.Token) Token {
	if t == nil {
		return Token{}
	}
	return Token{Value: t.GetValue(), Type: t.GetType(), Expiry: fromUnixNano(t.GetExpiryUnixNano()),
		RefreshAt: fromUnixNano(t.GetRefreshAtUnixNano()), Headers: t.GetHeaders()}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

var kindCodes = map[Kind]codes.Code{
	KindReauthRequired: codes.Unauthenticated,
	KindUnavailable:    codes.Unavailable,
	KindBadConfig:      codes.InvalidArgument,
	KindInternal:       codes.Internal,
}

// toStatus turns a plugin error into a gRPC status that carries its Kind and Key.
func toStatus(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	var e *Error
	if !errors.As(err, &e) {
		e = internalError(err.Error())
	}
	st := status.New(kindCodes[e.Kind], e.Message)
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: string(e.Kind), Domain: errorDomain, Metadata: map[string]string{"key": e.Key}}); derr == nil {
		st = d
	}
	return st.Err()
}

// fromStatus turns a gRPC error back into the plugin's typed error, the caller's context error, or a
// pluginrpc.TransportError when the plugin never answered.
func fromStatus(ctx context.Context, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return &pluginrpc.TransportError{Err: err}
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			return &Error{Kind: Kind(info.GetReason()), Key: info.GetMetadata()["key"], Message: st.Message()}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch st.Code() {
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	}
	return &pluginrpc.TransportError{Err: err}
}

// maxFetchMillis caps the MaxFetch a plugin may state (a day), so that no value overflows a Duration.
const maxFetchMillis = int64(24 * time.Hour / time.Millisecond)
