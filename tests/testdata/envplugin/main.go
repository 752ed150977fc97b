// Command envplugin is an external tokenhost plugin for the end-to-end tests that reports the names (never
// the values) of the environment variables it was started with: its token is "env." followed by the
// sorted names joined with ".".
package main

import (
	"context"
	"os"
	"sort"
	"strings"

	"github.com/tokenhost/tokenhost/sdk"
)

type source struct{}

func (source) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "envplugin", Version: "0.0.1", Upstream: "https://llm.example.com/v1"}, nil
}

func (source) Token(context.Context) (sdk.Token, error) {
	var names []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	sort.Strings(names)
	return sdk.Token{Value: "env." + strings.Join(names, ".")}, nil
}

func (s source) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) { return s.Token(ctx) }

func main() { sdk.Serve(source{}) }
