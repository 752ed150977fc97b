package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/tokenhost/tokenhost/store"
)

// universalOptions turns a store URL into go-redis's UniversalOptions, which pick the client:
//
//   - redis://[user:password@]host:port[/db] or rediss:// (TLS): one server;
//   - ...?master_name=NAME[&addr=host:port...]: Sentinel, host:port being sentinels;
//   - ...?cluster=true or several addr= parameters: Cluster, host:port being seed nodes.
//
// The timeouts of cfg override any in the URL, so that no call waits on Redis longer than configured.
func universalOptions(cfg store.Config) (*redis.UniversalOptions, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return nil, errors.New("store.url must be a redis:// or rediss:// URL")
	}
	q := u.Query()
	var o redis.UniversalOptions
	switch {
	case q.Has("master_name"):
		f, err := redis.ParseFailoverURL(cfg.URL)
		if err != nil {
			return nil, urlError(err)
		}
		o = redis.UniversalOptions{Addrs: f.SentinelAddrs, MasterName: f.MasterName, Username: f.Username, Password: f.Password,
			SentinelUsername: f.SentinelUsername, SentinelPassword: f.SentinelPassword, DB: f.DB, TLSConfig: f.TLSConfig}
	case q.Has("cluster") || q.Has("addr"):
		q.Del("cluster")
		u.RawQuery = q.Encode()
		c, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, urlError(err)
		}
		o = redis.UniversalOptions{Addrs: c.Addrs, Username: c.Username, Password: c.Password, TLSConfig: c.TLSConfig, IsClusterMode: true}
	default:
		s, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, urlError(err)
		}
		o = redis.UniversalOptions{Addrs: []string{s.Addr}, Username: s.Username, Password: s.Password, DB: s.DB, TLSConfig: s.TLSConfig}
	}
	o.DialTimeout = cfg.DialTimeout
	o.ReadTimeout = cfg.OpTimeout
	o.WriteTimeout = cfg.OpTimeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = 1
	o.MinRetryBackoff = time.Millisecond
	o.MaxRetryBackoff = cfg.OpTimeout / 4
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &o, nil
}

// urlError reports a URL go-redis rejects without echoing the URL, which may hold a password.
func urlError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("store.url: %v (see docs/fleet.md for the accepted forms)", err)
}
