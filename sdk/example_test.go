package sdk_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// fixedKey is a complete plugin Source: it hands out the key its options name, valid for an hour. A
// real plugin asks its identity system in Token, and bypasses every cache of its own in Refresh.
type fixedKey struct{ key string }

// Configure reads the provider's options block; unknown or missing options are BadConfig errors naming
// the key, which the host reports as providers.<name>.options.<key>.
func (f *fixedKey) Configure(_ context.Context, raw map[string]any) (sdk.Info, error) {
	o := sdk.Options(raw)
	if err := o.Unknown("key"); err != nil {
		return sdk.Info{}, err
	}
	key, err := o.String("key", "")
	if err == nil && key == "" {
		err = sdk.BadConfig("key", "is required")
	}
	if err != nil {
		return sdk.Info{}, err
	}
	f.key = key
	return sdk.Info{Name: "fixed-key", Version: "1.0.0"}, nil
}

// Token returns the key.
func (f *fixedKey) Token(context.Context) (sdk.Token, error) {
	return sdk.Token{Value: f.key, Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

// Refresh has no cache to bypass.
func (f *fixedKey) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) { return f.Token(ctx) }

// A plugin is a program whose main hands its Source to Serve:
//
//	func main() { sdk.Serve(&fixedKey{}) }
//
// This package's test binary is such a program: its TestMain calls sdk.Serve when a host starts it as a
// plugin. The example starts it the way tokenhost does (a child process, the go-plugin handshake, mutual
// TLS, Configure over gRPC) and asks it for a token.
func ExampleServe() {
	self, err := os.Executable()
	if err != nil {
		fmt.Println(err)
		return
	}
	yaml := fmt.Sprintf("providers:\n  corp:\n    plugin: %s\n    upstream: https://llm.example.com/v1\n    options:\n      key: example-key\n", self)
	cfg, err := config.Parse([]byte(yaml), "example.yaml", config.Sources{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	host, err := core.Open(ctx, core.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer host.Close()

	corp, err := host.Provider("corp")
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := corp.Token(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("the configured key came back over gRPC:", tok.Value == "example-key")
	for _, st := range host.Status() {
		fmt.Printf("%s: %s %s in its own process: %v\n", st.Name, st.Info.Name, st.Info.Version, st.PID != 0 && st.PID != os.Getpid())
	}
	// Output:
	// the configured key came back over gRPC: true
	// corp: fixed-key 1.0.0 in its own process: true
}
