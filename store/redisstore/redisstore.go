// Package redisstore is the "redis" backend of store.Store: a blank import registers it, after which a
// configuration's `store: {backend: redis}` shares access tokens, refresh leases and hints across a fleet
// of hosts. It talks to one server, a Sentinel-managed primary or a Cluster through go-redis's
// UniversalClient (Valkey speaks the same protocol).
//
// The backend stores bytes as store.Open hands them over; Open seals every value (AES-256-GCM) and hashes
// every key name first, so what Redis holds reveals provider names at most. Leases are SET NX PX with a
// random holder id and a fencing counter beside them, renewed with PEXPIRE while the holder id still
// matches; a write made under a lease checks the holder and the fence in the same script as its
// compare-and-set (fence.go); changed keys are announced on one pub/sub channel, and every call runs under
// the configured operation timeout.
package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenhost/tokenhost/store"
)

func init() {
	store.Register("redis", Open)
	// go-redis logs connection failures itself, on stderr; every failure reaches the caller as an error
	// that names the operation and the key, so its own lines are dropped.
	redis.SetLogger(quiet{})
}

// quiet is a go-redis logger that drops every line.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Store is a store.Store on Redis.
type Store struct {
	c       redis.UniversalClient
	prefix  string
	op      time.Duration
	w       *watcher
	cluster bool // a Redis Cluster: a script may not touch a lease and a value together (see fence.go)
}

// Open connects to the Redis that cfg.URL names; it does not wait for Redis to answer, so a host starts
// (and works alone) while Redis is down.
func Open(cfg store.Config) (store.Store, error) {
	o, err := universalOptions(cfg)
	if err != nil {
		return nil, err
	}
	c := redis.NewUniversalClient(o)
	_, cluster := c.(*redis.ClusterClient)
	s := &Store{c: c, prefix: cfg.KeyPrefix, op: cfg.OpTimeout, cluster: cluster}
	s.w = newWatcher(c, s.prefix+"changes", cfg.OpTimeout)
	return s, nil
}

// scripts run the multi-step operations atomically on the server.
var (
	casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  if redis.sha1hex(cur) ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then return 0 end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) else redis.call('SET', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`)
	acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
return 0`)
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)
)

// rev is the revision of a stored value: the SHA-1 of its bytes, which the CAS script computes alike.
func rev(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// call runs f under the operation timeout and describes its error.
func (s *Store) call(ctx context.Context, op, key string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.op)
	defer cancel()
	if err := f(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return describe(op, key, err)
	}
	return nil
}

// describe wraps a Redis error; anything but a reply from the server means Redis is unavailable.
func describe(op, key string, err error) error {
	var reply redis.Error
	if errors.As(err, &reply) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("redis %s %s: %w", op, key, err)
	}
	return fmt.Errorf("redis %s %s: %w: %w (the host works alone until Redis answers again)", op, key, store.ErrUnavailable, err)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.Item, error) {
	var it store.Item
	err := s.call(ctx, "GET", key, func(ctx context.Context) error {
		b, err := s.c.Get(ctx, s.prefix+key).Bytes()
		if err == nil {
			it = store.Item{Value: b, Rev: rev(b)}
		}
		return err
	})
	return it, err
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.call(ctx, "SET", key, func(ctx context.Context) error {
		_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, s.prefix+key, value, ttl)
			p.Publish(ctx, s.w.channel, key)
			return nil
		})
		return err
	})
}

// CompareAndSet implements store.Store.
func (s *Store) CompareAndSet(ctx context.Context, key, revision string, value []byte, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.call(ctx, "CAS", key, func(ctx context.Context) error {
		n, err := casScript.Run(ctx, s.c, []string{s.prefix + key}, revision, value, ttl.Milliseconds(), s.w.channel, key).Int()
		ok = n == 1
		return err
	})
	return ok, err
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.call(ctx, "DEL", key, func(ctx context.Context) error {
		_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, s.prefix+key)
			p.Publish(ctx, s.w.channel, key)
			return nil
		})
		return err
	})
}

// leaseKeys returns the Redis keys of a lease and of its fencing counter, hash-tagged into one Cluster slot.
func (s *Store) leaseKeys(key string) []string {
	k := s.prefix + "{" + key + "}"
	return []string{k, k + ":fence"}
}

// Acquire implements store.Store.
func (s *Store) Acquire(ctx context.Context, key string, ttl time.Duration) (store.Lease, bool, error) {
	if ttl < time.Millisecond {
		return store.Lease{}, false, fmt.Errorf("lease %s: the lease time must be at least 1ms", key)
	}
	l := store.Lease{Key: key, Holder: newHolder()}
	err := s.call(ctx, "ACQUIRE", key, func(ctx context.Context) error {
		n, err := acquireScript.Run(ctx, s.c, s.leaseKeys(key), l.Holder, ttl.Milliseconds()).Int64()
		l.Fence = n
		return err
	})
	if err != nil || l.Fence == 0 {
		return store.Lease{}, false, err
	}
	return l, true, nil
}

// Release implements store.Store.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	return s.call(ctx, "RELEASE", l.Key, func(ctx context.Context) error {
		return releaseScript.Run(ctx, s.c, s.leaseKeys(l.Key)[:1], l.Holder).Err()
	})
}

// Renew implements store.Store: PEXPIRE, only while the lease still holds the caller's holder id.
func (s *Store) Renew(ctx context.Context, l store.Lease, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("lease %s: the lease time must be at least 1ms", l.Key)
	}
	var ok bool
	err := s.call(ctx, "RENEW", l.Key, func(ctx context.Context) error {
		n, err := renewScript.Run(ctx, s.c, s.leaseKeys(l.Key)[:1], l.Holder, ttl.Milliseconds()).Int()
		ok = n == 1
		return err
	})
	return ok, err
}

// Wait implements store.Store: it registers for the key's announcements, then compares the revision, then
// waits for an announcement or the poll interval (which covers expiries and a subscription that is down).
func (s *Store) Wait(ctx context.Context, key, revision string) (store.Item, error) {
	s.w.start(ctx)
	for {
		changed := s.w.register(key)
		it, err := s.Get(ctx, key)
		if err != nil || it.Rev != revision {
			return it, err
		}
		t := time.NewTimer(pollEvery)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return store.Item{}, fmt.Errorf("waiting for %s to change: %w", key, ctx.Err())
		}
		t.Stop()
	}
}

// pollEvery is how often Wait re-reads a key without an announcement.
const pollEvery = time.Second

// Close implements store.Store.
func (s *Store) Close() error {
	s.w.close()
	return s.c.Close()
}
