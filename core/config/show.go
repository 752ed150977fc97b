package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/v2"

	"github.com/tokenhost/tokenhost/sdk"
)

// Show returns the effective configuration found through s — the file, then TOKENHOST_ environment
// overrides, then defaults — as YAML, every value followed by a comment saying where it came from ("file
// <path>", "env <NAME>", "default"). Secrets never appear: server.api_keys and secret-named options are
// shown as <redacted …>, naming the variable or file they come from, and so is the store's encryption key;
// the store URL is shown without its password. provider, when not "", limits the output to that provider or
// group.
// The configuration must be valid: its errors are returned as Load returns them.
func Show(s Sources, provider string) (string, error) {
	data, source, _, err := readConfig(s)
	if err != nil {
		return "", err
	}
	cfg, err := Parse(data, source, s)
	if err != nil {
		return "", err
	}
	if provider != "" && cfg.Provider(provider) == nil && cfg.Group(provider) == nil {
		return "", unknownName(cfg, provider)
	}
	vars, envPaths := envOverrides(s.Environ, &problems{})
	fileK, merged := koanf.New("."), koanf.New(".")
	_ = fileK.Load(bytesProvider(data), yaml.Parser())
	_ = merged.Load(bytesProvider(data), yaml.Parser())
	_ = merged.Load(envProvider(vars), nil)
	sh := &shower{origin: func(at string) string {
		if name, ok := envPaths[at]; ok {
			return "env " + name
		}
		if fileK.Exists(at) {
			return "file " + source
		}
		return "default"
	}, merged: merged}

	sh.b.WriteString("# effective configuration: " + source + ", then TOKENHOST_ environment overrides, then defaults\n")
	if provider == "" {
		sh.b.WriteString("server:\n")
		sh.walk(1, "server", reflect.TypeFor[rawServer](), reflect.ValueOf(cfg.Server))
		sh.store(cfg.Store)
	}
	if provider == "" || cfg.Provider(provider) != nil {
		sh.b.WriteString("providers:\n")
	}
	for _, p := range cfg.Providers {
		if provider != "" && p.Name != provider {
			continue
		}
		fmt.Fprintf(&sh.b, "  %s:\n", p.Name)
		sh.walk(2, keyPath("providers", p.Name), reflect.TypeFor[rawProvider](), reflect.ValueOf(*p))
	}
	if g := cfg.Group(provider); provider == "" || g != nil {
		gs := cfg.Groups
		if g != nil {
			gs = []*Group{g}
		}
		sh.groups(gs)
	}
	return sh.b.String(), nil
}

// shower renders configuration values with their origins.
type shower struct {
	b      strings.Builder
	origin func(at string) string
	merged *koanf.Koanf // the file and the environment overrides, before decoding: options as written
}

// walk renders the schema fields of rt (a raw* type, whose koanf tags are the file's keys) at path at, taking
// each value from the field of the same name in v (the validated configuration).
func (s *shower) walk(depth int, at string, rt reflect.Type, v reflect.Value) {
	for i := range rt.NumField() {
		f := rt.Field(i)
		key := f.Tag.Get("koanf")
		if key == "" || strings.HasPrefix(key, ",") || key == "providers" {
			continue
		}
		here := at + "." + key
		if key == "options" {
			s.options(depth, here)
			continue
		}
		field := v.FieldByName(f.Name)
		if !field.IsValid() {
			s.line(depth, key, "<not shown: no such setting>", here)
			continue
		}
		if ft := f.Type; ft.Kind() == reflect.Struct {
			fmt.Fprintf(&s.b, "%s%s:\n", indent(depth), key)
			s.walk(depth+1, here, ft, field)
			continue
		}
		if key == "api_keys" && field.Len() > 0 {
			s.line(depth, key, fmt.Sprintf("<redacted: %d keys>", field.Len()), here)
			continue
		}
		if field.Kind() == reflect.Slice && field.Len() == 0 {
			s.line(depth, key, "[]", here)
			continue
		}
		s.line(depth, key, render(field.Interface()), here)
	}
}

// options renders a provider's options block as written, secrets redacted.
func (s *shower) options(depth int, at string) {
	opts := s.merged.Get(at)
	m, _ := opts.(map[string]any)
	if len(m) == 0 {
		s.line(depth, "options", "{}", at)
		return
	}
	fmt.Fprintf(&s.b, "%soptions:\n", indent(depth))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		here := at + "." + k
		base, kind := secretRef(k)
		switch {
		case kind == "env":
			s.line(depth+1, base, fmt.Sprintf("<redacted from env %v>", m[k]), here)
		case kind == "file":
			s.line(depth+1, base, fmt.Sprintf("<redacted from file %v>", m[k]), here)
		case sdk.IsSecretKey(k):
			s.line(depth+1, k, "<redacted>", here)
		default:
			s.line(depth+1, k, render(redactNested(m[k])), here)
		}
	}
}

// line writes "key: value  # origin".
func (s *shower) line(depth int, key, value, at string) {
	fmt.Fprintf(&s.b, "%s%s: %s  # %s\n", indent(depth), key, value, s.origin(at))
}

func indent(depth int) string { return strings.Repeat("  ", depth) }

// render writes a value as YAML flow: durations as Go durations, lists and maps as JSON (which YAML reads).
func render(v any) string {
	switch x := v.(type) {
	case time.Duration:
		return x.String()
	case string:
		if x == "" {
			return `""`
		}
		b, _ := json.Marshal(x)
		if strings.ContainsAny(x, ":#{}[],&*!|>'\"%@`") || strings.TrimSpace(x) != x {
			return string(b)
		}
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// redactNested returns v with the values of secret-named keys inside it (at any depth) replaced.
func redactNested(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if sdk.IsSecretKey(strings.ReplaceAll(k, "-", "_")) { // header names such as x-api-key
				out[k] = "<redacted>"
			} else {
				out[k] = redactNested(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactNested(e)
		}
		return out
	}
	return v
}
