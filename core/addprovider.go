package core

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/tokenhost/tokenhost/core/config"
)

// AddProvider adds the provider name to the running host, configured by block as a providers.<name> entry
// of the configuration file would be (plugin, upstream, options, …) and checked the same way, and returns
// its handle; the plugin starts on first use. A name the host already has is an error. A later Reload
// replaces the whole configuration, providers added here included.
func (h *Host) AddProvider(name string, block map[string]any) (*Provider, error) {
	h.reload.mu.Lock()
	defer h.reload.mu.Unlock()
	if h.reload.closed {
		return nil, errors.New("add provider: the host is closed")
	}
	old := h.gen.Load()
	if old.cfg.Provider(name) != nil {
		return nil, fmt.Errorf("add provider %s: a provider of that name is already configured (%s); choose another name",
			name, strings.Join(old.cfg.Names(), ", "))
	}
	if old.cfg.Group(name) != nil {
		return nil, fmt.Errorf("add provider %s: a group of that name is configured (groups.%s); choose another name", name, name)
	}
	pc, err := config.ParseProvider(name, block, config.Sources{Environ: os.Environ(), Builtins: Builtins()}, old.cfg.Store.Shared())
	if err != nil {
		return nil, fmt.Errorf("add provider %s: %w", name, err)
	}
	next := *old.cfg
	next.Providers = append(slices.Clip(old.cfg.Providers), pc)
	if _, err := h.reloadLocked(&next); err != nil {
		return nil, fmt.Errorf("add provider %s: %w", name, err)
	}
	return &Provider{h: h, name: name}, nil
}
