package core

import (
	"context"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogSlog adapts go-plugin's hclog.Logger to a log/slog logger, so a plugin's stderr lines (which
// go-plugin parses into levels) reach the host's logger tagged with the provider.
type hclogSlog struct {
	l    *slog.Logger
	name string
	args []any
}

func newHCLog(l *slog.Logger) hclog.Logger { return &hclogSlog{l: l} }

var _ hclog.Logger = (*hclogSlog)(nil)

func toSlogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Info, hclog.NoLevel, hclog.DefaultLevel:
		return slog.LevelInfo
	case hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (h *hclogSlog) Log(level hclog.Level, msg string, args ...any) {
	lvl := toSlogLevel(level)
	if h.name == "" {
		// go-plugin's own bookkeeping (process started, exited, killed) comes through the unnamed logger;
		// the host reports what matters in its errors, so this is debug detail. Plugin stderr lines come
		// through a logger named after the plugin and keep their level.
		lvl = slog.LevelDebug
	}
	if !h.l.Enabled(context.Background(), lvl) {
		return
	}
	all := make([]any, 0, len(h.args)+len(args))
	all = append(all, h.args...)
	all = append(all, args...)
	h.l.Log(context.Background(), lvl, msg, all...)
}

func (h *hclogSlog) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogSlog) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogSlog) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogSlog) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogSlog) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogSlog) enabled(level hclog.Level) bool {
	return h.l.Enabled(context.Background(), toSlogLevel(level))
}
func (h *hclogSlog) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *hclogSlog) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *hclogSlog) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *hclogSlog) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *hclogSlog) IsError() bool { return h.enabled(hclog.Error) }

func (h *hclogSlog) ImpliedArgs() []any { return h.args }
func (h *hclogSlog) With(args ...any) hclog.Logger {
	return &hclogSlog{l: h.l, name: h.name, args: append(append([]any{}, h.args...), args...)}
}
func (h *hclogSlog) Name() string                   { return h.name }
func (h *hclogSlog) Named(name string) hclog.Logger { return h.ResetNamed(name) }
func (h *hclogSlog) ResetNamed(name string) hclog.Logger {
	return &hclogSlog{l: h.l, name: name, args: h.args}
}
func (h *hclogSlog) SetLevel(hclog.Level) {}
func (h *hclogSlog) GetLevel() hclog.Level {
	for _, lv := range []hclog.Level{hclog.Trace, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(lv) {
			return lv
		}
	}
	return hclog.Off
}
func (h *hclogSlog) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(h.l.Handler(), slog.LevelInfo)
}
func (h *hclogSlog) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		h.l.Info(string(p))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// strayStdout receives what a plugin writes to its stdout after the handshake (go-plugin forwards it). A
// plugin must log to stderr instead; the host says so once per write, and never repeats what was written,
// which could be a token.
type strayStdout struct{ l *slog.Logger }

func (w strayStdout) Write(b []byte) (int, error) {
	w.l.Warn("the plugin wrote to stdout, which belongs to the plugin protocol; log with log/slog (stderr) instead", "bytes", len(b))
	return len(b), nil
}
