package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenhost/tokenhost/store"
)

// A write made under a lease (CompareAndSetFenced) is refused unless the lease still holds the writer's
// holder id and its fencing counter still holds the writer's fence. On one server, or the primary a
// Sentinel names, one script checks both and runs the compare-and-set: nothing can come between. A Redis
// Cluster lets a script touch the keys of one hash slot only, and a lease ({…:lease}, …:fence) and a value
// live in different slots, so there the check is a script of its own on the lease's slot, followed by the
// compare-and-set: a lease that runs out, and is taken by another holder, between the two steps is not
// noticed. The holder's renewal (every third of the lease time) leaves that gap only to a holder that
// stopped renewing for a whole lease time (a paused process) and writes in the same moment its lease runs
// out.
var (
	fencedCASScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
local cur = redis.call('GET', KEYS[3])
if cur then
  if redis.sha1hex(cur) ~= ARGV[3] then return 0 end
elseif ARGV[3] ~= '' then return 0 end
if tonumber(ARGV[5]) > 0 then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) else redis.call('SET', KEYS[3], ARGV[4]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1`)
	fenceScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
return 1`)
)

// CompareAndSetFenced implements store.Store.
func (s *Store) CompareAndSetFenced(ctx context.Context, l store.Lease, key, revision string, value []byte, ttl time.Duration) (bool, error) {
	if s.cluster {
		return s.fencedCASCluster(ctx, l, key, revision, value, ttl)
	}
	var n int
	err := s.call(ctx, "CAS", key, func(ctx context.Context) error {
		keys := append(s.leaseKeys(l.Key), s.prefix+key)
		var err error
		n, err = fencedCASScript.Run(ctx, s.c, keys, l.Holder, strconv.FormatInt(l.Fence, 10), revision, value, ttl.Milliseconds(), s.w.channel, key).Int()
		return err
	})
	switch {
	case err != nil:
		return false, err
	case n < 0:
		return false, lost(l, key)
	}
	return n == 1, nil
}

// fencedCASCluster is CompareAndSetFenced on a Redis Cluster: the fence check, then the compare-and-set.
func (s *Store) fencedCASCluster(ctx context.Context, l store.Lease, key, revision string, value []byte, ttl time.Duration) (bool, error) {
	var n int
	err := s.call(ctx, "FENCE", l.Key, func(ctx context.Context) error {
		var err error
		n, err = fenceScript.Run(ctx, s.c, s.leaseKeys(l.Key), l.Holder, strconv.FormatInt(l.Fence, 10)).Int()
		return err
	})
	switch {
	case err != nil:
		return false, err
	case n < 0:
		return false, lost(l, key)
	}
	return s.CompareAndSet(ctx, key, revision, value, ttl)
}

// lost is the error of a write to key refused because lease l is no longer its writer's.
func lost(l store.Lease, key string) error {
	return fmt.Errorf("redis CAS %s under lease %s (fence %d): %w (it ran out or a newer holder took it)", key, l.Key, l.Fence, store.ErrLeaseLost)
}
