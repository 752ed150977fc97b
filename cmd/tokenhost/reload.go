package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
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
	"github.com/tokenhost/tokenhost/internal/hostapi"
)

// reloadSettle is how long the watcher waits after the last change in the config file's directory before
// reading the file: editors and `kubectl` replace a file in several steps (truncate, write, rename).
const reloadSettle = 100 * time.Millisecond

// reloader reloads `tokenhost serve`'s configuration on SIGHUP and when the config file changes.
type reloader struct {
	h          *core.Host
	log        *slog.Logger
	path       string // the configuration file; "" for the embedded default
	needsTrust bool   // path was found in the working directory: each content loads only once trusted
	waitTrust  bool   // the last reload was refused because the content is not trusted
	last       [sha256.Size]byte
}

// watchReload reloads h's configuration until ctx ends: on SIGHUP always, and when the content of the
// configuration file changes (its directory is watched, so a file replaced by rename, as editors and
// Kubernetes ConfigMap volumes do, is seen too). A configuration that does not load is logged, key path
// by key path, and the running one stays. A working-directory file loads only with its new content
// trusted; the trust store's directory is watched too, so trusting the new content reloads it.
func watchReload(ctx context.Context, h *core.Host, log *slog.Logger) {
	r := &reloader{h: h, log: log, needsTrust: h.Config().NeedsTrust}
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
			err = w.Add(filepath.Dir(r.path))
			if store, serr := config.TrustStore(r.sources()); err == nil && serr == nil && r.needsTrust {
				err = w.Add(filepath.Dir(store))
			}
			if err != nil {
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

// reloadIfChanged reloads when the file's content differs from what was last loaded, or when content
// refused as untrusted has been trusted since.
func (r *reloader) reloadIfChanged() {
	data, err := os.ReadFile(r.path)
	if err != nil {
		return // a replace in progress; the next event or a SIGHUP reloads
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], r.last[:]) {
		r.reload("config file changed")
	} else if r.waitTrust && config.IsTrusted(r.sources(), r.path, data) {
		r.reload("config file trusted")
	}
}

// sources are the configuration sources of a reload: the file loaded at start, checked as it was then.
func (r *reloader) sources() config.Sources {
	return config.Sources{File: r.path, NeedsTrust: r.needsTrust, Environ: os.Environ(), Builtins: core.Builtins()}
}

// reload loads the configuration as at start and swaps it in, or logs why not.
func (r *reloader) reload(why string) {
	if data, err := os.ReadFile(r.path); err == nil && r.path != "" {
		r.last = sha256.Sum256(data)
	}
	cfg, err := config.Load(r.sources())
	r.waitTrust = errors.Is(err, config.ErrNotTrusted)
	if err == nil {
		var res core.Reloaded
		res, err = r.h.Reload(cfg)
		if err == nil {
			r.log.Info("configuration reloaded", "why", why, "generation", res.Generation, "added", res.Added, "changed", res.Changed, "removed", res.Removed, "unchanged", res.Unchanged,
				"groups_added", res.AddedGroups, "groups_changed", res.ChangedGroups, "groups_removed", res.RemovedGroups, "groups_unchanged", res.UnchangedGroups)
			if len(res.RestartNeeded) > 0 {
				r.log.Warn("restart needed: these settings changed but keep their running values until tokenhost serve restarts", "keys", res.RestartNeeded)
			}
			return
		}
	}
	r.log.Error("configuration reload failed; the running configuration stays", "why", why, "config", r.h.Config().Source, "generation", hostapi.Of(r.h).Generation())
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		r.log.Error("configuration problem", "problem", line)
	}
	if r.waitTrust {
		r.log.Warn("the changed configuration file is not trusted, so the running configuration stays; read the file, then run this command to load it", "config", r.path, "command", "tokenhost config trust "+r.path)
	}
}
