package main

import (
	"context"
	"io"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
)

func newMCPCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Reach MCP servers configured as providers",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "stdio <provider>",
		Short: "Bridge an MCP client that launches stdio servers to a provider's MCP endpoint",
		Long: "Reads JSON-RPC messages on stdin and writes the server's on stdout, carrying them to and from the " +
			"provider's upstream (an MCP server's Streamable HTTP endpoint) with the provider's token; a token the " +
			"server refuses is refreshed and the message resent. Logs go to stderr; stdout is the protocol. " +
			"Configure it in an MCP client as the command `tokenhost mcp stdio <provider>`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withHost(func(ctx context.Context, h *core.Host) error {
				local := &mcp.IOTransport{Reader: io.NopCloser(cmd.InOrStdin()), Writer: stdoutCloser{g.stdout}}
				return bridgeStdio(ctx, h, args[0], local, g.logger())
			})
		},
	})
	return cmd
}

// stdoutCloser is the command's stdout as the io.WriteCloser the SDK's IOTransport takes; closing it closes
// the process's stdout only when that is what it is.
type stdoutCloser struct{ w io.Writer }

func (s stdoutCloser) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s stdoutCloser) Close() error {
	if f, ok := s.w.(*os.File); ok && f == os.Stdout {
		return f.Close()
	}
	return nil
}
