package sdk

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

// Login serves the plugin's interactive sign-in as a stream of prompts and one final result.
func (s *grpcServer) Login(_ *pb.LoginRequest, stream grpc.ServerStreamingServer[pb.LoginEvent]) error {
	i, ok := s.impl.(Interactive)
	if !ok {
		return status.Error(codes.Unimplemented, ErrNotInteractive.Error())
	}
	ui := UIFunc(func(_ context.Context, p Prompt) error {
		return stream.Send(&pb.LoginEvent{Event: &pb.LoginEvent_Prompt{Prompt: &pb.Prompt{
			Message: p.Message, Url: p.URL, UserCode: p.UserCode, Open: p.Open,
		}}})
	})
	res, err := i.Login(stream.Context(), ui)
	if err != nil {
		return toStatus(err)
	}
	return stream.Send(&pb.LoginEvent{Event: &pb.LoginEvent_Result{Result: &pb.LoginResult{
		Message: res.Message, ExpiryUnixNano: unixNano(res.Expiry),
	}}})
}

// Logout serves the plugin's Logout.
func (s *grpcServer) Logout(ctx context.Context, _ *pb.LogoutRequest) (*pb.LogoutResponse, error) {
	i, ok := s.impl.(Interactive)
	if !ok {
		return nil, status.Error(codes.Unimplemented, ErrNotInteractive.Error())
	}
	msg, err := i.Logout(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.LogoutResponse{Message: msg}, nil
}

// Login runs the plugin's sign-in, showing each prompt it streams through ui. A plugin without
// interactive sign-in (or one built before the contract had it) yields ErrNotInteractive.
func (c *grpcClient) Login(ctx context.Context, ui UI) (LoginResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.c.Login(ctx, &pb.LoginRequest{})
	if err != nil {
		return LoginResult{}, loginStatus(ctx, err)
	}
	for {
		ev, err := stream.Recv()
		switch {
		case errors.Is(err, io.EOF):
			return LoginResult{}, Internal("the plugin ended its sign-in without a result")
		case err != nil:
			return LoginResult{}, loginStatus(ctx, err)
		}
		if p := ev.GetPrompt(); p != nil {
			if err := ui.Show(ctx, Prompt{Message: p.GetMessage(), URL: p.GetUrl(), UserCode: p.GetUserCode(), Open: p.GetOpen()}); err != nil {
				return LoginResult{}, err
			}
			continue
		}
		if r := ev.GetResult(); r != nil {
			return LoginResult{Message: r.GetMessage(), Expiry: fromUnixNano(r.GetExpiryUnixNano())}, nil
		}
	}
}

// Logout asks the plugin to revoke and forget its stored sign-in.
func (c *grpcClient) Logout(ctx context.Context) (string, error) {
	resp, err := c.c.Logout(ctx, &pb.LogoutRequest{})
	if err != nil {
		return "", loginStatus(ctx, err)
	}
	return resp.GetMessage(), nil
}

// loginStatus is fromStatus, with UNIMPLEMENTED meaning the plugin has no interactive sign-in.
func loginStatus(ctx context.Context, err error) error {
	if status.Code(err) == codes.Unimplemented {
		return ErrNotInteractive
	}
	return fromStatus(ctx, err)
}
