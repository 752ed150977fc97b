package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// server is a running `tokenhost serve` child.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *lineWatch
	done   chan error
}

// lineWatch collects a stream's lines and lets a test wait for one containing a string.
type lineWatch struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func watchLines(r io.Reader) *lineWatch {
	w := &lineWatch{added: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.mu.Unlock()
			select {
			case w.added <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

// wait blocks until a line containing s arrives, or fails the test at the hang guard.
func (w *lineWatch) wait(t *testing.T, s string) {
	t.Helper()
	guard := time.NewTimer(hangGuard)
	defer guard.Stop()
	for {
		w.mu.Lock()
		for _, l := range w.lines {
			if strings.Contains(l, s) {
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		select {
		case <-w.added:
		case <-guard.C:
			t.Fatalf("no line containing %q", s)
		}
	}
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return redact(strings.Join(w.lines, "\n"))
}

// startServe starts `tokenhost serve` on a free loopback port and returns once it is listening.
func startServe(t *testing.T, cfg string, env []string, args ...string) *server {
	t.Helper()
	return startServeIn(t, t.TempDir(), env, append([]string{"--config", cfg}, args...)...)
}

// startServeIn is startServe in the working directory dir, with only the arguments given.
func startServeIn(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	needBinaries(t)
	cmd := exec.Command(bins.tokenhost, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = childEnv(t, env...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: watchLines(stderr), done: make(chan error, 1)}
	out := watchLines(stdout)
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // as a user or supervisor stops it
		<-s.done
		checkNoStrays(t, "tokenhost serve")
	})
	out.wait(t, "serving")
	out.mu.Lock()
	line := out.lines[0]
	out.mu.Unlock()
	i := strings.Index(line, "http") // http:// or https://
	s.url = strings.Fields(line[i:])[0]
	return s
}

func TestServeWithOfficialOpenAISDK(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	s := startServe(t, cfg, env)
	client := openai.NewClient(option.WithBaseURL(s.url+"/corp"), option.WithAPIKey("not-the-upstream-key"))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "fake-model",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello proxy")},
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("non-streaming: %v\n%s", err, s.stderr)
	}
	if !strings.Contains(resp.Choices[0].Message.Content, "hello proxy") {
		t.Fatalf("answer %q", resp.Choices[0].Message.Content)
	}
	g.idp.RevokeAll() // the stream meets a 401 first and must recover
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("streaming: %v", err)
	}
	if chunks < 2 || !strings.Contains(acc.Choices[0].Message.Content, "hello proxy") {
		t.Fatalf("stream gave %d chunks, content %q", chunks, acc.Choices[0].Message.Content)
	}
}

func TestServeRefusesNonLoopbackWithoutKeys(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	r := tokenhost(t, cfg, env, "serve", "--listen", "0.0.0.0:0")
	if r.code == 0 || !strings.Contains(r.stderr, "api_keys") || !strings.Contains(r.stderr, "loopback") {
		t.Fatalf("want a refusal naming server.api_keys\n%s", r)
	}
}

func TestServeGracefulShutdownLetsStreamFinish(t *testing.T) {
	g := newGatewayFakes(t)
	release := make(chan struct{})
	var once sync.Once
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.idp.Valid(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")) {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: last\n\ndata: [DONE]\n\n")
	}))
	defer up.Close()
	defer once.Do(func() { close(release) })
	cfg := writeFile(t, "", "serve.yaml", fmt.Sprintf(`
server:
  shutdown_grace: 1m
providers:
  corp:
    plugin: gateway
    upstream: %s
    options:
      token_url: %s
      client_id: %s
      client_secret_env: CORP_SECRET
`, up.URL, g.idp.TokenURL(), g.clientID))
	s := startServe(t, cfg, []string{"CORP_SECRET=" + g.secret})
	resp, err := http.Post(s.url+"/corp/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); line != "data: first\n" {
		t.Fatalf("first line %q", line)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.stderr.wait(t, "shutting down")
	once.Do(func() { close(release) })
	rest, err := io.ReadAll(rd)
	if err != nil || !strings.Contains(string(rest), "data: last") || !strings.Contains(string(rest), "[DONE]") {
		t.Fatalf("stream after SIGTERM: %q %v", rest, err)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("serve exited with %v after SIGTERM, want 0\n%s", err, s.stderr)
	}
	s.done <- nil // for the cleanup's wait
}
