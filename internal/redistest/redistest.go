// Package redistest starts a real redis-server for tests: on a free loopback port, in a temporary
// directory, without persistence (StartPersistent: with an append-only file synced on every write). When redis-server is not installed a test is skipped, or fails under
// CI=true (.ci/run installs it).
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	// Addr is host:port on loopback.
	Addr    string
	bin     string
	dir     string
	persist bool // append-only file, fsync always: a SIGKILL loses nothing
	cluster bool // cluster mode, one node holding every hash slot
	cmd     *exec.Cmd
	done    chan struct{}
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Binary returns the path of redis-server, skipping the test (or failing it under CI=true) when absent.
func Binary(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"redis-server", "valkey-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "redis-server is not installed (apt-get install redis-server; .ci/run does it): the fleet tests need a real Redis"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start starts a redis-server for the test and stops it at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartPersistent is Start with persistence, as a fleet that keeps rotating sign-ins in Redis needs: every
// write is in the append-only file before Redis answers, so a server killed and restarted (Stop, Restart)
// comes back with its data.
func StartPersistent(t testing.TB) *Server {
	t.Helper()
	return start(t, true)
}

// StartCluster starts a redis-server in cluster mode as a Redis Cluster of one node that holds every hash
// slot: a client must speak the Cluster protocol to it, and a script that touches keys of two hash slots is
// refused (CROSSSLOT) as on any Cluster. Its URL for the redis store is URL() + "?cluster=true".
func StartCluster(t testing.TB) *Server {
	t.Helper()
	s := &Server{bin: Binary(t), dir: t.TempDir(), cluster: true}
	s.listen(t)
	s.Restart(t)
	t.Cleanup(s.Stop)
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(startGuard))
	r := bufio.NewReader(c)
	if got := command(t, c, r, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); len(got) != 1 || got[0] != "OK" {
		t.Fatalf("CLUSTER ADDSLOTSRANGE answered %q", got)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(strings.Join(command(t, c, r, "CLUSTER", "INFO"), ""), "cluster_state:ok") {
		<-tick.C // the node takes a moment to see its slots covered; the connection's deadline bounds this
	}
	return s
}

func start(t testing.TB, persist bool) *Server {
	t.Helper()
	s := &Server{bin: Binary(t), dir: t.TempDir(), persist: persist}
	s.listen(t)
	s.Restart(t)
	t.Cleanup(s.Stop)
	return s
}

// listen picks a free loopback port for the server.
func (s *Server) listen(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	ln.Close()
}

// startGuard bounds the wait for a started redis-server to answer (and a cluster node to cover its slots):
// a guard against a server that never comes up, long enough for a process start on a loaded machine.
const startGuard = time.Minute

// Restart starts the server again on the same port after Stop (or for the first time).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	aof := []string{"--appendonly", "no"}
	if s.persist {
		aof = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	if s.cluster {
		aof = append(aof, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	}
	s.cmd = exec.Command(s.bin, append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "",
		"--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log")}, aof...)...)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", s.bin, err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	ctx, cancel := context.WithTimeout(context.Background(), startGuard)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if ping(s.Addr) == nil {
			return
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			t.Fatalf("redis-server on %s exited at start; its log:\n%s", s.Addr, log)
		case <-ctx.Done():
			t.Fatalf("redis-server on %s did not answer PING within %s", s.Addr, startGuard)
		case <-tick.C:
		}
	}
}

// Stop kills the server (SIGKILL, like a crash) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// ping sends PING over a fresh connection and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %s", strconv.Quote(line))
	}
	return nil
}

// Dump returns every key of the server and every string value, one "key value" line each, as
// `redis-cli KEYS '*'` and `GET` would show them, for tests that check nothing is stored in clear.
func (s *Server) Dump(t testing.TB) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	keys := command(t, c, r, "KEYS", "*")
	var b strings.Builder
	for _, k := range keys {
		v := command(t, c, r, "TYPE", k)
		b.WriteString(k)
		if len(v) == 1 && v[0] == "string" {
			b.WriteString(" " + strings.Join(command(t, c, r, "GET", k), ""))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// command sends one command in RESP and returns the reply's strings (a bulk string, a simple string or
// an array of bulk strings).
func command(t testing.TB, c net.Conn, r *bufio.Reader, args ...string) []string {
	t.Helper()
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	return reply(t, r)
}

// reply reads one RESP2 reply.
func reply(t testing.TB, r *bufio.Reader) []string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil || len(line) < 3 {
		t.Fatalf("reading a Redis reply: %v", err)
	}
	body := strings.TrimSuffix(line[1:], "\r\n")
	switch line[0] {
	case '+':
		return []string{body}
	case '$':
		n, _ := strconv.Atoi(body)
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		return []string{string(buf[:n])}
	case '*':
		n, _ := strconv.Atoi(body)
		var out []string
		for range n {
			out = append(out, reply(t, r)...)
		}
		return out
	}
	t.Fatalf("unexpected Redis reply %q", line[:1])
	return nil
}
