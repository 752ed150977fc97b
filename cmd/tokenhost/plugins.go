package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
)

func newPluginsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "plugins",
		Short: "List built-in and configured plugins with their versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PLUGIN\tKIND\tVERSION\tUSED BY")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			h, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer h.Close()
			usedBy := map[string][]string{}
			var external []string
			for _, pc := range h.Config().Providers {
				if usedBy[pc.Plugin] == nil && core.BuiltinVersion(pc.Plugin) == "" {
					external = append(external, pc.Plugin)
				}
				usedBy[pc.Plugin] = append(usedBy[pc.Plugin], pc.Name)
			}
			for _, name := range core.Builtins() {
				fmt.Fprintf(tw, "%s\tbuilt-in\t%s\t%s\n", name, core.BuiltinVersion(name), list(usedBy[name]))
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
					fmt.Fprintf(tw, "%s\texternal\t%s\t%s\n", path, versions[path], list(usedBy[path]))
				}
			}
			return tw.Flush()
		},
	}
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
