package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/tokenhost/tokenhost/internal/pluginrpc"
	"github.com/tokenhost/tokenhost/sdk"
)

// startPlugin starts t as a host does (go-plugin over gRPC with mutual TLS, from pluginrpc.HostTLS or AutoMTLS;
// an environment of PATH and HOME plus what t needs), configures it, asks it for one token, reads its
// memory and stops it. The cold start counts from the moment the host starts making its TLS credentials.
func startPlugin(t target) (sample, error) {
	home, err := os.MkdirTemp("", "tokenhost-pluginweight-home-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(home)
	cmd := exec.Command(t.exe)
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}, t.env...), extraEnv...)
	var s sample
	start := time.Now()
	conf := &plugin.ClientConfig{
		HandshakeConfig:  pluginrpc.Handshake,
		VersionedPlugins: pluginrpc.HostPlugins(),
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         t.autoMTLS,
		Logger:           hclog.NewNullLogger(),
		Stderr:           io.Discard,
		StartTimeout:     time.Minute,
	}
	if !t.autoMTLS {
		tlsConf, release, err := pluginrpc.HostTLS(cmd)
		if err != nil {
			return s, err
		}
		defer release()
		conf.TLSConfig = tlsConf
	}
	client := plugin.NewClient(conf)
	defer client.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rpc, err := client.Client()
	if err != nil {
		return s, err
	}
	s.handshake = time.Since(start)
	raw, err := rpc.Dispense(pluginrpc.PluginName)
	if err != nil {
		return s, err
	}
	src, ok := raw.(sdk.Source)
	if !ok {
		return s, fmt.Errorf("dispensed %T, not a token source", raw)
	}
	if _, err := src.Configure(ctx, t.options); err != nil {
		return s, fmt.Errorf("configure: %w", err)
	}
	s.configured = time.Since(start)
	if _, err := src.Token(ctx); err != nil {
		return s, fmt.Errorf("token: %w", err)
	}
	if s.cpu, err = cpuTime(cmd.Process.Pid); err != nil {
		return s, err
	}
	s.rss, err = readMemory(cmd.Process.Pid)
	return s, err
}

// hostConfig is the configuration `tokenhost serve` runs with: one provider, never started (serve starts
// plugins on first use), so what is measured is the host alone.
const hostConfig = `providers:
  corp:
    plugin: gateway
    upstream: http://127.0.0.1:9/v1
    options:
      grant: client_credentials
      token_url: http://127.0.0.1:9/token
      client_id: bench
      client_secret_env: BENCH_SECRET
`

// startHost starts `tokenhost serve` on a loopback port, waits until it listens (configured: when it
// printed that it serves), asks /healthz once, reads its memory and stops it.
func startHost(tokenhost string) (sample, error) {
	home, err := os.MkdirTemp("", "tokenhost-pluginweight-host-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(home)
	conf := filepath.Join(home, "tokenhost.yaml")
	if err := os.WriteFile(conf, []byte(hostConfig), 0o600); err != nil {
		return sample{}, err
	}
	cmd := exec.Command(tokenhost, "serve", "--config", conf, "--listen", "127.0.0.1:0", "--log-level", "error")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "BENCH_SECRET=" + gatewaySecret}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	var s sample
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return s, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return s, fmt.Errorf("reading its first line: %w", err)
	}
	s.configured = time.Since(start)
	_, rest, _ := strings.Cut(line, "://")
	addr, _, _ := strings.Cut(rest, " ")
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return s, fmt.Errorf("GET /healthz (from %q): %w", line, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if s.cpu, err = cpuTime(cmd.Process.Pid); err != nil {
		return s, err
	}
	s.rss, err = readMemory(cmd.Process.Pid)
	return s, err
}

// memory is a process's resident memory in KiB: the whole (VmRSS), anonymous (heap, stacks, runtime) and
// file-backed (the mapped binary), its proportional share (Pss, which divides pages shared with other
// processes, e.g. the binary's text when the host and its plugins are the same executable) and what it
// alone holds (Private_Clean + Private_Dirty, the memory its exit would free).
type memory struct{ total, anon, file, pss, private int }

// cpuTime returns the CPU time the threads of process pid have run so far (from /proc/<pid>/task/*/schedstat,
// in nanoseconds): unlike the time from exec, it hardly depends on what else the machine runs.
func cpuTime(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no schedstat for process %d: %v", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(data))
		if len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total, nil
}

func readMemory(pid int) (memory, error) {
	var m memory
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return m, err
	}
	rollup, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return m, err
	}
	var clean, dirty int
	fields := map[string]*int{"VmRSS:": &m.total, "RssAnon:": &m.anon, "RssFile:": &m.file, "Pss:": &m.pss,
		"Private_Clean:": &clean, "Private_Dirty:": &dirty}
	for _, line := range strings.Split(string(status)+string(rollup), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && fields[f[0]] != nil {
			*fields[f[0]], _ = strconv.Atoi(f[1])
		}
	}
	m.private = clean + dirty
	if m.total == 0 {
		return m, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
	}
	return m, nil
}
