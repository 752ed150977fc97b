package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startServed starts `tokenhost serve --eager` with every built-in of targets configured against the same
// fakes (serve starts each plugin and fetches a token from each before it listens), then reads the memory
// of the host and of each plugin process while they run side by side: the plugins are the host's own
// binary re-executed, so their text pages are shared with it, which Pss and Private show. It returns the
// samples by process name, the host's as "host".
func startServed(tokenhost string, targets []target) (map[string]sample, error) {
	home, err := os.MkdirTemp("", "tokenhost-pluginweight-served-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	yaml := "providers:\n"
	for _, t := range targets {
		if t.external {
			continue
		}
		opts := map[string]any{}
		for k, v := range t.options {
			if k == "client_secret" { // the host resolves <key>_env; a secret does not sit in the file
				name := "BENCH_" + strings.ToUpper(t.name) + "_SECRET"
				env = append(env, name+"="+v.(string))
				k, v = k+"_env", name
			}
			opts[k] = v
		}
		js, err := json.Marshal(opts) // YAML reads JSON
		if err != nil {
			return nil, err
		}
		yaml += fmt.Sprintf("  %s:\n    plugin: %s\n    upstream: http://127.0.0.1:9/v1\n    options: %s\n", t.name, t.name, js)
	}
	conf := filepath.Join(home, "tokenhost.yaml")
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(tokenhost, "serve", "--eager", "--config", conf, "--listen", "127.0.0.1:0", "--log-level", "error")
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		return nil, fmt.Errorf("serve --eager printed nothing: %v; stderr: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		return nil, fmt.Errorf("serve --eager: %s", stderr.String())
	}
	res := map[string]sample{"host": {configured: time.Since(start)}}
	pids, err := children(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	pids = append(pids, cmd.Process.Pid)
	for _, pid := range pids {
		name := "host"
		if pid != cmd.Process.Pid {
			environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
			if err != nil {
				return nil, err
			}
			for _, kv := range strings.Split(string(environ), "\x00") {
				if v, ok := strings.CutPrefix(kv, "TOKENHOST_BUILTIN_PLUGIN="); ok {
					name = v
				}
			}
		}
		s := res[name]
		if s.rss, err = readMemory(pid); err != nil {
			return nil, err
		}
		res[name] = s
	}
	return res, nil
}

// children returns the processes whose parent is pid.
func children(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it ended meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so count from the last ')'.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		if f := strings.Fields(rest); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out, nil
}
