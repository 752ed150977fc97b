package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
)

// reloadSettle is how long the watcher waits after the last change in the config file's directory before
// reading the file: editors and `kubectl` replace a file in several steps (truncate, write, rename).
const reloadSettle = 100 * time.Millisecond

// reloader reloads `tokenhost serve`'s configuration on SIGHUP and when the config file changes.
type reloader struct {
	h    *core.Host
	log  *slog.Logger
	path string // the configuration file; "" for the embedded default
	last [sha256.Size]byte
}

// watchReload reloads h's configuration until ctx ends: on SIGHUP always, and when the content of the
// configuration file changes (its directory is watched, so a file replaced by rename, as editors and
// Kubernetes ConfigMap volumes do, is seen too). A configuration that does not load is logged, key path
// by key path, and the running one stays.
func watchReload(ctx context.Context, h *core.Host, log *slog.Logger) {
	r := &reloader{h: h, log: log}
	if src := h.Config().Source; src != config.EmbeddedSource {
		r.path = src
		if data, err := os.ReadFile(src); err == nil {
			r.last = sha256.Sum256(data)
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var w *fsnotify.Watcher
	if r.path != "" {
		var err error
		if w, err = fsnotify.NewWatcher(); err == nil {
			if err = w.Add(filepath.Dir(r.path)); err != nil {
				w.Close()
			}
		}
		if err != nil {
			log.Warn("cannot watch the configuration file; reload with SIGHUP instead", "config", r.path, "error", err.Error())
			w = nil
		}
	}
	go r.loop(ctx, hup, w)
}

// loop serves reload triggers until ctx ends.
func (r *reloader) loop(ctx context.Context, hup chan os.Signal, w *fsnotify.Watcher) {
	defer signal.Stop(hup)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload("SIGHUP")
		case <-events:
			// Any change in the directory may be the file (a rename over it, a ConfigMap's ..data swap):
			// once things settle, the content decides.
			settle.Reset(reloadSettle)
		case err := <-errs:
			r.log.Warn("watching the configuration file failed; reload with SIGHUP", "config", r.path, "error", err.Error())
		case <-settle.C:
			r.reloadIfChanged()
		}
	}
}

// reloadIfChanged reloads when the file's content differs from what was last loaded.
func (r *reloader) reloadIfChanged() {
	data, err := os.ReadFile(r.path)
	if err != nil {
		return // a replace in progress; the next event or a SIGHUP reloads
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], r.last[:]) {
		r.reload("config file changed")
	}
}

// reload loads the configuration as at start and swaps it in, or logs why not.
func (r *reloader) reload(why string) {
	src := config.Sources{File: r.path, Environ: os.Environ(), Builtins: core.Builtins()}
	if data, err := os.ReadFile(r.path); err == nil && r.path != "" {
		r.last = sha256.Sum256(data)
	}
	cfg, err := config.Load(src)
	if err == nil {
		var res core.Reloaded
		res, err = r.h.Reload(cfg)
		if err == nil {
			r.log.Info("configuration reloaded", "why", why, "generation", res.Generation, "added", res.Added, "changed", res.Changed, "removed", res.Removed, "unchanged", res.Unchanged)
			if len(res.RestartNeeded) > 0 {
				r.log.Warn("restart needed: these settings changed but keep their running values until tokenhost serve restarts", "keys", res.RestartNeeded)
			}
			return
		}
	}
	r.log.Error("configuration reload failed; the running configuration stays", "why", why, "config", r.h.Config().Source, "generation", r.h.Generation())
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		r.log.Error("configuration problem", "problem", line)
	}
}
