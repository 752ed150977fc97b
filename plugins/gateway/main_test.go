package gateway

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the log lines of zitadel's example OP (which logs every request through slog's default
// logger) and the plugin's own out of test output.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
