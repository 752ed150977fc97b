package core

import (
	"context"
	"time"

	"github.com/tokenhost/tokenhost/store/seal"
)

// sealedStore encrypts values and hides key names before they reach a backend, so that nothing a shared
// store holds is a token in clear and its key names reveal provider names at most.
type sealedStore struct {
	inner Store
	kr    *seal.Keyring
}

func (s *sealedStore) Get(ctx context.Context, key string) (Item, error) {
	if err := checkKey(key); err != nil {
		return Item{}, err
	}
	it, err := s.inner.Get(ctx, seal.HideName(key))
	if err != nil {
		return Item{}, err
	}
	return s.open(key, it)
}

func (s *sealedStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	sealed, err := s.kr.Seal(key, value)
	if err != nil {
		return err
	}
	return s.inner.Set(ctx, seal.HideName(key), sealed, ttl)
}

func (s *sealedStore) CompareAndSet(ctx context.Context, key, rev string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	sealed, err := s.kr.Seal(key, value)
	if err != nil {
		return false, err
	}
	return s.inner.CompareAndSet(ctx, seal.HideName(key), rev, sealed, ttl)
}

func (s *sealedStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.inner.Delete(ctx, seal.HideName(key))
}

func (s *sealedStore) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, bool, error) {
	if err := checkKey(key); err != nil {
		return Lease{}, false, err
	}
	l, ok, err := s.inner.Acquire(ctx, seal.HideName(key)+":lease", ttl)
	l.Key = key
	return l, ok, err
}

func (s *sealedStore) Release(ctx context.Context, l Lease) error {
	l.Key = seal.HideName(l.Key) + ":lease"
	return s.inner.Release(ctx, l)
}

func (s *sealedStore) Wait(ctx context.Context, key, rev string) (Item, error) {
	if err := checkKey(key); err != nil {
		return Item{}, err
	}
	it, err := s.inner.Wait(ctx, seal.HideName(key), rev)
	if err != nil {
		return Item{}, err
	}
	return s.open(key, it)
}

func (s *sealedStore) Close() error { return s.inner.Close() }

// open decrypts an item read from the backend; an absent item stays absent.
func (s *sealedStore) open(key string, it Item) (Item, error) {
	if it.Rev == "" {
		return it, nil
	}
	v, err := s.kr.Open(key, it.Value)
	if err != nil {
		return Item{}, err
	}
	return Item{Value: v, Rev: it.Rev}, nil
}
