package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tradewind/tradewind/internal/buildinfo"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
// Unset, Version reads the commit the binary was built from.
var version string

// Version is this build's version: the -ldflags value, else the VCS revision Go
// stamped into the binary (with "-dirty" when the tree had changes), else "dev".
func Version() string { return buildinfo.Version(version) }

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Tradewind's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "tradewind", Version())
			return err
		},
	}
}
