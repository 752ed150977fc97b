package pluginrpc

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Serve runs this process as a tokenhost plugin speaking the given protocol version, serving what server
// returns, and returns when the host ends the process's session. sdk.Serve calls it with ProtocolVersion;
// a test serves another version to see how a host meets a plugin built against another sdk. It routes
// log/slog output to the host, bounds the process's memory and ends it once its host is gone.
func Serve(version int, server ServerFunc) {
	slog.SetDefault(NewLogger(os.Stderr))
	limitMemory()
	go exitWhenOrphaned(os.Getppid(), orphanCheckEvery)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  plugin.HandshakeConfig{ProtocolVersion: uint(version), MagicCookieKey: Handshake.MagicCookieKey, MagicCookieValue: Handshake.MagicCookieValue},
		VersionedPlugins: Plugins(version, server),
		GRPCServer:       plugin.DefaultGRPCServer,
		TLSProvider:      pluginTLS, // the credentials the host made (HostTLS), else go-plugin's AutoMTLS
		Logger:           hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Debug}),
	})
}

// orphanCheckEvery is how often a plugin checks that the host that started it is still alive.
const orphanCheckEvery = 500 * time.Millisecond

// exitWhenOrphaned ends the plugin process once its parent is gone (it was re-parented): a host killed
// with SIGKILL cannot stop its plugins, so they stop themselves.
func exitWhenOrphaned(parent int, every time.Duration) {
	if parent <= 1 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != parent {
			slog.Warn("the tokenhost host that started this plugin is gone; exiting")
			os.Exit(0)
		}
	}
}

// hclogTimeFormat is the timestamp layout go-plugin requires of a plugin's JSON log lines.
const hclogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// NewLogger returns a slog logger writing the JSON lines the host parses from a plugin's stderr.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				// go-plugin parses a line as a log entry only with hclog's exact timestamp layout.
				a.Key = "@timestamp"
				a.Value = slog.StringValue(a.Value.Time().Format(hclogTimeFormat))
			case slog.MessageKey:
				a.Key = "@message"
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			}
			return a
		},
	}))
}
