// Package conf holds tokenhost's embedded default configuration and the commented example configurations
// shipped with it.
package conf

import "embed"

// Default is conf/tokenhost.yaml, the configuration used when no configuration file is found.
//
//go:embed tokenhost.yaml
var Default []byte

// Examples holds the commented example configurations, one per provider (*.example.yaml).
//
//go:embed *.example.yaml
var Examples embed.FS
