package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core/config"
)

// newTrustCmds returns `config trust` and `config untrust`.
func newTrustCmds(g *globals) []*cobra.Command {
	trust := &cobra.Command{
		Use:   "trust [file]",
		Short: "Allow a tokenhost.yaml in the working directory to be used, as it is now (default ./tokenhost.yaml); read it first",
		Long: "A tokenhost.yaml in the working directory may have been written by someone else, and a configuration " +
			"runs plugins and commands and sends tokens where it says, so it is used only once trusted. This records " +
			"the file's absolute path and the SHA-256 of its content under $XDG_STATE_HOME/tokenhost/; after any " +
			"change it must be trusted again.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path, sum, err := config.Trust(g.sources(""), fileArg(args))
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "trusted %s (sha256 %s); it is used from its directory until its content changes\n", path, sum)
			return err
		},
	}
	untrust := &cobra.Command{
		Use:   "untrust [file]",
		Short: "Stop trusting a configuration file (default ./tokenhost.yaml)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path, removed, err := config.Untrust(g.sources(""), fileArg(args))
			if err != nil {
				return err
			}
			if !removed {
				_, err = fmt.Fprintf(g.stdout, "%s was not trusted\n", path)
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s is no longer trusted\n", path)
			return err
		},
	}
	return []*cobra.Command{trust, untrust}
}

// fileArg returns the optional file argument, "" when there is none.
func fileArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return ""
}
