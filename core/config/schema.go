package config

import (
	"cmp"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/v2"

	"github.com/tokenhost/tokenhost/sdk/optval"
)

// The raw* types mirror the file's schema for koanf's Unmarshal (mapstructure). Pointers tell an absent or
// null key (nil: use the default) from a given one; byteSize and statusCode steer the decode hook; each
// Unknown collects the keys the schema does not know, for "did you mean" messages.
type (
	rawConfig struct {
		Server    rawServer      `koanf:"server"`
		Store     rawStore       `koanf:"store"`
		Providers map[string]any `koanf:"providers"`
		Groups    map[string]any `koanf:"groups"`
		Unknown   map[string]any `koanf:",remain"`
	}
	rawServer struct {
		Listen            string         `koanf:"listen"`
		APIKeys           []string       `koanf:"api_keys"`
		ShutdownGrace     *time.Duration `koanf:"shutdown_grace"`
		AllowedOrigins    []string       `koanf:"allowed_origins"`
		TLS               rawServerTLS   `koanf:"tls"`
		InsecurePlaintext *bool          `koanf:"insecure_plaintext"`
		Unknown           map[string]any `koanf:",remain"`
	}
	rawServerTLS struct {
		CertFile string         `koanf:"cert_file"`
		KeyFile  string         `koanf:"key_file"`
		Unknown  map[string]any `koanf:",remain"`
	}
	rawProvider struct {
		Plugin              string         `koanf:"plugin"`
		SHA256              string         `koanf:"sha256"`
		Upstream            string         `koanf:"upstream"`
		AllowedHosts        []string       `koanf:"allowed_hosts"`
		Header              string         `koanf:"header"`
		Scheme              string         `koanf:"scheme"`
		RefreshBefore       *time.Duration `koanf:"refresh_before"`
		RetryStatuses       []statusCode   `koanf:"retry_statuses"`
		MinRefreshInterval  *time.Duration `koanf:"min_refresh_interval"`
		MaxIdleConnsPerHost *int           `koanf:"max_idle_conns_per_host"`
		MaxReplayBytes      *byteSize      `koanf:"max_replay_bytes"`
		Breaker             rawBreaker     `koanf:"breaker"`
		FetchTimeout        *time.Duration `koanf:"fetch_timeout"`
		TLS                 rawTLS         `koanf:"tls"`
		Env                 []string       `koanf:"env"`
		Shared              *bool          `koanf:"shared"`
		Options             options        `koanf:"options"`
		Unknown             map[string]any `koanf:",remain"`
	}
	rawTLS struct {
		CertFile string         `koanf:"cert_file"`
		KeyFile  string         `koanf:"key_file"`
		CAFile   string         `koanf:"ca_file"`
		Unknown  map[string]any `koanf:",remain"`
	}
	rawBreaker struct {
		Failures *int           `koanf:"failures"`
		OpenFor  *time.Duration `koanf:"open_for"`
		Unknown  map[string]any `koanf:",remain"`
	}
)

// options is a provider's options block; decoding it resolves its secret indirections (see d.options).
type options map[string]any

// byteSize is a size in bytes, parsed by optval.Size.
type byteSize int64

// statusCode is an HTTP status code (100-599).
type statusCode int

var (
	durationType   = reflect.TypeFor[time.Duration]()
	sizeType       = reflect.TypeFor[byteSize]()
	statusType     = reflect.TypeFor[statusCode]()
	statusListType = reflect.TypeFor[[]statusCode]()
	optionsType    = reflect.TypeFor[options]()
)

// unmarshal decodes k into a rawConfig, the providers left as written for decodeProvider. Every value that
// does not fit is recorded with its key path and in d.failed, so that later checks do not pile a second
// message onto it; the rest of the configuration is decoded anyway.
func (d *decoder) unmarshal(k *koanf.Koanf) rawConfig {
	var raw rawConfig
	conf := koanf.UnmarshalConf{DecoderConfig: decoderConfig(nil, decodeHook)}
	d.decodeErrors("", k.UnmarshalWithConf("", &raw, conf))
	return raw
}

// decodeProvider decodes the provider entry v at path at, resolving the secrets of its options on the way.
// Fields decode in place, so a provider with a bad value keeps its good ones for the checks that follow.
func (d *decoder) decodeProvider(at string, v any) rawProvider {
	var r rawProvider
	hook := func(from, to reflect.Value) (any, error) {
		v, err := decodeHook(from, to)
		if m, ok := v.(map[string]any); ok && err == nil && to.Type() == optionsType {
			return d.options(at+".options", m), nil
		}
		return v, err
	}
	dec, err := mapstructure.NewDecoder(decoderConfig(&r, hook))
	if err == nil {
		err = dec.Decode(v)
	}
	d.decodeErrors(at, err)
	return r
}

// decoderConfig is the mapstructure configuration for the schema: exact key names, no weak conversions,
// hook (decodeHook, or one that wraps it) for every value.
func decoderConfig(result any, hook mapstructure.DecodeHookFuncValue) *mapstructure.DecoderConfig {
	return &mapstructure.DecoderConfig{
		DecodeHook: hook,
		MatchName:  func(key, field string) bool { return key == field }, // keys are case-sensitive
		TagName:    "koanf",
		Result:     result,
	}
}

// decodeHook converts a scalar to the type of the field it is decoded into, or says in the configuration's
// words why it cannot; mapstructure adds the field's name. Nulls never reach it.
func decodeHook(from, to reflect.Value) (any, error) {
	v := from.Interface()
	switch to.Type() {
	case durationType:
		return optval.Duration(v)
	case sizeType:
		n, err := optval.Size(v)
		return byteSize(n), err
	case statusType:
		n, err := optval.Int(v)
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("must be an HTTP status code (100-599), got %s", optval.Text(v))
		}
		return statusCode(n), nil
	case statusListType:
		if _, ok := v.([]any); !ok {
			return nil, fmt.Errorf("must be a list of HTTP status codes such as [401, 403], got %s", optval.TypeName(v))
		}
		return v, nil
	}
	switch to.Kind() {
	case reflect.String:
		switch v.(type) {
		case string:
		case map[string]any, map[any]any, []any:
			return nil, fmt.Errorf("must be a string, got %s", optval.TypeName(v))
		default:
			return nil, fmt.Errorf("must be a string, got %s (put it in quotes)", optval.TypeName(v))
		}
	case reflect.Int:
		return optval.Int(v)
	case reflect.Bool:
		return boolValue(v)
	case reflect.Slice:
		if _, ok := v.([]any); !ok {
			return nil, fmt.Errorf("must be a list of strings, got %s", optval.TypeName(v))
		}
	case reflect.Struct, reflect.Map:
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Errorf("must be a mapping, got %s", optval.TypeName(v))
		}
	}
	return v, nil
}

// decodeErrors records each error of a decode below path at with its key path, and marks the path failed.
func (d *decoder) decodeErrors(at string, err error) {
	if err == nil {
		return
	}
	de, ok := err.(*mapstructure.DecodeError)
	if !ok {
		// mapstructure joins the errors of each field and wraps the whole: walk down to every DecodeError.
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				d.decodeErrors(at, inner)
			}
		case interface{ Unwrap() error }:
			d.decodeErrors(at, e.Unwrap())
		default:
			d.p.add(cmp.Or(at, "configuration"), "cannot be decoded: %v", err)
		}
		return
	}
	path := de.Name()
	switch {
	case at == "":
	case path == "":
		path = at
	case path[0] == '[':
		path = at + path
	default:
		path = at + "." + path
	}
	d.failed[path] = true
	d.p.add(path, "%s", de.Unwrap())
}

// knownKeys lists the keys of a raw* type in declaration order.
func knownKeys(v any) []string {
	t := reflect.TypeOf(v)
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("koanf"), ","); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}
