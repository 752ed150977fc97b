// Command pluginweight measures how heavy tokenhost's plugin processes and its host are: for each built-in
// plugin (run as the tokenhost binary re-executed in plugin mode, as a host runs it) and for an external
// plugin binary, the cold start (exec until the go-plugin handshake line is read, and until Configure is
// answered) and the resident memory after Configure and one Token call; for the host, the time from exec
// until `tokenhost serve` listens and its idle resident memory. Every identity provider is a loopback
// fake from internal/fakes. bench/plugins.sh builds the programs and runs it; it is not run by CI.
//
// Usage: pluginweight [-rounds 20] [-env NAME=value,...] [-only name] label=tokenhost:external-plugin[:automtls] ...
//
// Each argument is one build to measure: a label, the tokenhost binary and a binary of examples/plugin;
// ":automtls" starts its plugins as a host did before it made their TLS credentials itself (go-plugin's
// AutoMTLS).
// Rounds are interleaved (each round starts every plugin of every build once, in turn) and the figures
// printed are medians, with the minimum and maximum beside them.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// sample is one start of one process.
type sample struct {
	handshake, configured time.Duration // from exec; for the host, configured is until it listens
	cpu                   time.Duration // the process's CPU time when its memory was read
	rss                   memory
}

// build is one pair of binaries to measure, and whether their host used go-plugin's AutoMTLS.
type build struct {
	label, tokenhost, external string
	autoMTLS                   bool
}

// extraEnv is added to every plugin's environment (-env); onlyName selects what is measured (-only).
var (
	extraEnv []string
	onlyName string
)

func main() {
	rounds := flag.Int("rounds", 20, "how many times to start each process")
	env := flag.String("env", "", "extra environment for every plugin process, comma-separated NAME=value pairs (e.g. GOGC=50)")
	flag.StringVar(&onlyName, "only", "", "measure only the processes whose names contain this (e.g. gateway, host)")
	flag.Parse()
	if *env != "" {
		extraEnv = strings.Split(*env, ",")
	}
	var builds []build
	for _, arg := range flag.Args() {
		label, paths, ok1 := strings.Cut(arg, "=")
		th, ext, ok2 := strings.Cut(paths, ":")
		ext, mode, _ := strings.Cut(ext, ":")
		if !ok1 || !ok2 || th == "" || ext == "" || (mode != "" && mode != "automtls") {
			fmt.Fprintf(os.Stderr, "pluginweight: %q is not label=tokenhost:external-plugin[:automtls]\n", arg)
			os.Exit(2)
		}
		builds = append(builds, build{label, th, ext, mode == "automtls"})
	}
	if len(builds) == 0 || *rounds < 1 {
		flag.Usage()
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "tokenhost-pluginweight-bin-")
	if err == nil {
		defer os.RemoveAll(dir)
		err = copyBinaries(dir, builds)
	}
	if err == nil {
		err = measure(builds, *rounds)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pluginweight:", err)
		os.Exit(1)
	}
}

// run is one process of one build to start in every round, and its samples.
type run struct {
	build   string
	target  target
	host    string // the tokenhost binary when this run is `tokenhost serve`
	samples []sample
}

func measure(builds []build, rounds int) error {
	targets, cleanup, err := newTargets()
	defer cleanup()
	if err != nil {
		return err
	}
	var runs []*run
	for _, t := range targets {
		for _, b := range builds {
			t := t
			t.exe, t.autoMTLS = b.tokenhost, b.autoMTLS
			if t.external {
				t.exe = b.external
			}
			runs = append(runs, &run{build: b.label, target: t})
		}
	}
	for _, b := range builds {
		runs = append(runs, &run{build: b.label, target: target{name: "host (serve, idle)"}, host: b.tokenhost})
	}
	runs = slices.DeleteFunc(runs, func(r *run) bool { return !strings.Contains(r.target.name, onlyName) })
	for range rounds {
		for _, r := range runs {
			var s sample
			err := warm(r.target.exe, r.host)
			if err != nil {
				return err
			}
			if r.host != "" {
				s, err = startHost(r.host)
			} else {
				s, err = startPlugin(r.target)
			}
			if err != nil {
				return fmt.Errorf("%s (%s): %w", r.target.name, r.build, err)
			}
			r.samples = append(r.samples, s)
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "process\tbuild\thandshake ms\tconfigured ms\tCPU ms\tVmRSS MiB\tRssAnon MiB\tRssFile MiB\tPss MiB\tPrivate MiB\t\n")
	for _, r := range runs {
		rs := r.samples
		handshake := ms(rs, func(s sample) time.Duration { return s.handshake })
		if r.host != "" {
			handshake = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.target.name, r.build, handshake,
			ms(rs, func(s sample) time.Duration { return s.configured }),
			ms(rs, func(s sample) time.Duration { return s.cpu }),
			mib(rs, func(s sample) int { return s.rss.total }),
			mib(rs, func(s sample) int { return s.rss.anon }),
			mib(rs, func(s sample) int { return s.rss.file }),
			mib(rs, func(s sample) int { return s.rss.pss }),
			mib(rs, func(s sample) int { return s.rss.private }))
	}
	w.Flush()
	fmt.Printf("\n%d interleaved rounds; median (min–max). For the host, \"configured\" is exec until serve listens.\n"+
		"CPU ms: the process's CPU time after Configure and one Token (the host: after one /healthz).\n", rounds)
	if onlyName != "" {
		return nil
	}
	return measureServed(builds, targets, rounds)
}

// measureServed starts `tokenhost serve --eager` with the four built-ins rounds times per build
// (interleaved) and prints each process's memory while they all run.
func measureServed(builds []build, targets []target, rounds int) error {
	samples := map[string]map[string][]sample{} // build -> process -> samples
	for range rounds {
		for _, b := range builds {
			if err := warm(b.tokenhost); err != nil {
				return err
			}
			res, err := startServed(b.tokenhost, targets)
			if err != nil {
				return fmt.Errorf("serve --eager (%s): %w", b.label, err)
			}
			if samples[b.label] == nil {
				samples[b.label] = map[string][]sample{}
			}
			for name, s := range res {
				samples[b.label][name] = append(samples[b.label][name], s)
			}
		}
	}
	fmt.Printf("\nside by side: tokenhost serve --eager with the four built-ins started\n\n")
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "process\tbuild\tVmRSS MiB\tRssAnon MiB\tPss MiB\tPrivate MiB\t\n")
	for _, name := range []string{"host", "gateway", "codex", "gemini", "azure"} {
		for _, b := range builds {
			rs := samples[b.label][name]
			if len(rs) == 0 {
				continue
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t\n", name, b.label,
				mib(rs, func(s sample) int { return s.rss.total }),
				mib(rs, func(s sample) int { return s.rss.anon }),
				mib(rs, func(s sample) int { return s.rss.pss }),
				mib(rs, func(s sample) int { return s.rss.private }))
		}
	}
	w.Flush()
	fmt.Printf("\n%d interleaved rounds; median (min–max).\n", rounds)
	return nil
}

// copyBinaries copies every build's programs into dir and points the builds at the copies. How much of a
// program's file-backed memory is resident depends on how its file entered the page cache (the kernel
// maps cached pages around each page a process touches, by whole folios; a file the linker wrote and
// the same bytes copied with write(2) differ by megabytes), so every program measured gets the same
// history: written here, once, by the same code, in the 128 KiB writes of cp(1).
func copyBinaries(dir string, builds []build) error {
	cp := func(src, name string) (string, error) {
		in, err := os.Open(src)
		if err != nil {
			return "", err
		}
		defer in.Close()
		dst := filepath.Join(dir, name)
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
		if err != nil {
			return "", err
		}
		_, err = io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, make([]byte, 128<<10)) // 128 KiB writes, as cp(1)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return dst, err
	}
	for i := range builds {
		var err error
		if builds[i].tokenhost, err = cp(builds[i].tokenhost, fmt.Sprintf("tokenhost-%d", i)); err != nil {
			return err
		}
		if builds[i].external, err = cp(builds[i].external, fmt.Sprintf("external-%d", i)); err != nil {
			return err
		}
	}
	return nil
}

// warm reads the programs about to start, so that their pages are in the page cache however long ago they
// were built: the kernel maps cached pages around each page a process touches (fault-around), so a
// program's file-backed resident memory depends on how much of it is cached.
func warm(paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ms formats the median and range of one duration of the samples, in milliseconds.
func ms(ss []sample, f func(sample) time.Duration) string {
	vs := make([]float64, len(ss))
	for i, s := range ss {
		vs[i] = float64(f(s).Microseconds()) / 1000
	}
	return spread(vs)
}

// mib formats the median and range of one memory figure (KiB) of the samples, in MiB.
func mib(ss []sample, f func(sample) int) string {
	vs := make([]float64, len(ss))
	for i, s := range ss {
		vs[i] = float64(f(s)) / 1024
	}
	return spread(vs)
}

// spread formats the median of vs with its minimum and maximum.
func spread(vs []float64) string {
	slices.Sort(vs)
	med := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return fmt.Sprintf("%.1f (%.1f–%.1f)", med, vs[0], vs[len(vs)-1])
}
