package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
)

func newPluginsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List built-in and configured plugins with their versions and pins",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PLUGIN\tKIND\tVERSION\tPIN\tUSED BY")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			h, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer h.Close()
			usedBy := map[string][]string{}
			pinned := map[string]bool{}
			var external []string
			for _, pc := range h.Config().Providers {
				if usedBy[pc.Plugin] == nil && core.BuiltinVersion(pc.Plugin) == "" {
					external = append(external, pc.Plugin)
				}
				usedBy[pc.Plugin] = append(usedBy[pc.Plugin], pc.Name)
				pinned[pc.Plugin] = pinned[pc.Plugin] || pc.SHA256 != ""
			}
			for _, name := range core.Builtins() {
				fmt.Fprintf(tw, "%s\tbuilt-in\t%s\t-\t%s\n", name, core.BuiltinVersion(name), list(usedBy[name]))
			}
			if len(external) > 0 {
				errs := h.Start(ctx)
				versions := map[string]string{}
				for _, st := range h.Status() {
					if st.Info.Version != "" {
						versions[st.Plugin] = st.Info.Version
					} else if err := errs[st.Name]; err != nil && versions[st.Plugin] == "" {
						versions[st.Plugin] = "? (" + oneLine(err.Error()) + ")"
					}
				}
				for _, path := range external {
					pin := "none"
					if pinned[path] {
						pin = "sha256"
					}
					fmt.Fprintf(tw, "%s\texternal\t%s\t%s\t%s\n", path, versions[path], pin, list(usedBy[path]))
				}
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "hash <path>",
		Short: "Print the sha256: line that pins a plugin binary in the config",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			sum, err := fileSHA256(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "sha256: %s\n", sum)
			return nil
		},
	})
	return cmd
}

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot hash the plugin: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return "", fmt.Errorf("cannot hash the plugin: %s is not a regular file", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("cannot hash the plugin: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	out := s[0]
	for _, x := range s[1:] {
		out += ", " + x
	}
	return out
}
