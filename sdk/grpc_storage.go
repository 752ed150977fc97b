package sdk

import (
	"context"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/tokenhost/tokenhost/sdk/proto"
)

// storageServer serves a host's Storage to a plugin over the go-plugin broker (host side).
type storageServer struct {
	pb.UnimplementedHostStorageServer
	st Storage
}

func (s *storageServer) Get(ctx context.Context, req *pb.StorageGetRequest) (*pb.StorageItem, error) {
	if err := CheckStorageKey(req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	v, rev, err := s.st.Get(ctx, req.GetKey())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.StorageItem{Value: v, Rev: rev}, nil
}

func (s *storageServer) CompareAndSet(ctx context.Context, req *pb.StorageCASRequest) (*pb.StorageCASResponse, error) {
	if err := CheckStorageKey(req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	ok, err := s.st.CompareAndSet(ctx, req.GetKey(), req.GetRev(), req.GetValue())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.StorageCASResponse{Stored: ok}, nil
}

func (s *storageServer) Delete(ctx context.Context, req *pb.StorageDeleteRequest) (*pb.StorageDeleteResponse, error) {
	if err := CheckStorageKey(req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	if err := s.st.Delete(ctx, req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.StorageDeleteResponse{}, nil
}

// storageClient is the plugin's view of the host's Storage: calls over the broker connection, whose
// errors come back as the host's typed errors (Unavailable while the fleet store cannot be reached).
type storageClient struct{ c pb.HostStorageClient }

func (s *storageClient) Get(ctx context.Context, key string) ([]byte, string, error) {
	it, err := s.c.Get(ctx, &pb.StorageGetRequest{Key: key})
	if err != nil {
		return nil, "", fromStatus(ctx, err)
	}
	return it.GetValue(), it.GetRev(), nil
}

func (s *storageClient) CompareAndSet(ctx context.Context, key, rev string, value []byte) (bool, error) {
	r, err := s.c.CompareAndSet(ctx, &pb.StorageCASRequest{Key: key, Rev: rev, Value: value})
	if err != nil {
		return false, fromStatus(ctx, err)
	}
	return r.GetStored(), nil
}

func (s *storageClient) Delete(ctx context.Context, key string) error {
	if _, err := s.c.Delete(ctx, &pb.StorageDeleteRequest{Key: key}); err != nil {
		return fromStatus(ctx, err)
	}
	return nil
}

// UseStorage keeps st to offer the plugin at its next Configure: the host hands a plugin process storage
// as it does a Source in its own process.
func (c *grpcClient) UseStorage(st Storage) { c.storage = st }

// configure sends Configure, first serving st on a new broker id when the host offers storage.
func (c *grpcClient) configure(ctx context.Context, options map[string]any, st Storage) (Info, error) {
	var id uint32
	if st != nil && c.broker != nil {
		id = c.broker.NextId()
		go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(opts...)
			pb.RegisterHostStorageServer(s, &storageServer{st: st})
			return s
		})
	}
	info, err := c.configureID(ctx, options, id)
	if id == 0 {
		info.UsesStorage = false
	}
	return info, err
}

// pluginStorage is the plugin side's connection to the storage its host serves, dialled at Configure.
type pluginStorage struct {
	broker *plugin.GRPCBroker
	mu     sync.Mutex
	conn   *grpc.ClientConn
}

// offer dials the host's storage on id and hands it to impl when impl uses storage; id 0 offers none.
func (p *pluginStorage) offer(impl Source, id uint32) error {
	u, ok := impl.(StorageUser)
	if !ok || id == 0 || p.broker == nil {
		return nil
	}
	conn, err := p.broker.Dial(id)
	if err != nil {
		return Unavailable("cannot reach the storage the host offers: %v", err)
	}
	p.mu.Lock()
	old := p.conn
	p.conn = conn
	p.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	u.UseStorage(&storageClient{c: pb.NewHostStorageClient(conn)})
	return nil
}
