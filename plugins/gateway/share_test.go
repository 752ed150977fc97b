package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// rotatingServer is a token endpoint whose refresh tokens are single-use and rotate; it counts refreshes
// and can hold them until released.
type rotatingServer struct {
	*httptest.Server
	mu      sync.Mutex
	live    string // the one refresh token that works
	n       int
	refused int // invalid_grant answers
	hold    chan struct{}
	arrived chan struct{}
}

func newRotatingServer(t *testing.T, first string) *rotatingServer {
	s := &rotatingServer{live: first, arrived: make(chan struct{}, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		s.arrived <- struct{}{}
		if s.hold != nil {
			<-s.hold
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != s.live {
			s.refused++
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		s.n++
		s.live = fmt.Sprintf("rt-%d", s.n)
		json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("at-%d", s.n), "refresh_token": s.live, "expires_in": 3600})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *rotatingServer) refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// TestHelperRefreshProcess is not a test: it is the second process of TestTwoProcessesRefreshOnce.
func TestHelperRefreshProcess(t *testing.T) {
	if os.Getenv("GATEWAY_HELPER_STORE") == "" {
		t.Skip("helper process only")
	}
	src := New()
	if _, err := src.Configure(context.Background(), map[string]any{"grant": grantRefreshToken, "token_url": os.Getenv("GATEWAY_HELPER_URL"),
		"client_id": "cli", "store": os.Getenv("GATEWAY_HELPER_STORE")}); err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("ready")
	tok, err := src.Refresh(context.Background(), sdk.Token{Value: os.Getenv("GATEWAY_HELPER_STALE")})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("token", tok.Value)
}

// Two processes sharing one stored sign-in whose token was rejected refresh it once: the lock is held
// across the refresh, and the second re-reads the file under it and finds the first's token.
func TestTwoProcessesRefreshOnce(t *testing.T) {
	srv := newRotatingServer(t, "rt-0")
	srv.hold = make(chan struct{})
	store := filepath.Join(t.TempDir(), "shared.json")
	if err := os.WriteFile(store, mustJSON(t, signIn{Version: storeVersion, RefreshToken: "rt-0", AccessToken: "at-0",
		Expiry: time.Now().Add(time.Hour)}), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRefreshProcess$")
		cmd.Env = append(os.Environ(), "GATEWAY_HELPER_STORE="+store, "GATEWAY_HELPER_URL="+srv.URL, "GATEWAY_HELPER_STALE=at-0")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() && sc.Text() != "ready" {
		}
		return cmd, sc
	}
	a, aOut := start()
	<-srv.arrived // a holds the lock and is at the token endpoint
	b, bOut := start()
	close(srv.hold)
	tokens := map[string]bool{}
	for _, p := range []struct {
		cmd *exec.Cmd
		out *bufio.Scanner
	}{{a, aOut}, {b, bOut}} {
		var last string
		for p.out.Scan() {
			if line := p.out.Text(); strings.HasPrefix(line, "token ") || strings.HasPrefix(line, "error ") {
				last = line
			}
		}
		p.cmd.Wait()
		if !strings.HasPrefix(last, "token ") {
			t.Fatalf("helper process: %q", last)
		}
		tokens[strings.TrimPrefix(last, "token ")] = true
	}
	if srv.refreshes() != 1 || len(tokens) != 1 || !tokens["at-1"] {
		t.Fatalf("%d refreshes, tokens %v; want one refresh whose token both processes use", srv.refreshes(), tokens)
	}
	if si := readStore(t, store); si.RefreshToken != "rt-1" {
		t.Errorf("stored refresh token is not the rotated one")
	}
}

// A refresh token given in the config starts the sign-in; the rotated one is stored and wins afterwards.
func TestRefreshTokenSeed(t *testing.T) {
	srv := newRotatingServer(t, "seed-rt")
	store := filepath.Join(t.TempDir(), "s.json")
	src := configure(t, map[string]any{"grant": grantRefreshToken, "token_url": srv.URL, "client_id": "cli", "refresh_token": "seed-rt", "store": store})
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != "at-1" {
		t.Fatalf("first token: %v", err)
	}
	src2 := configure(t, map[string]any{"grant": grantRefreshToken, "token_url": srv.URL, "client_id": "cli", "refresh_token": "seed-rt", "store": store})
	tok2, err := src2.Refresh(t.Context(), tok)
	if err != nil || tok2.Value != "at-2" {
		t.Fatalf("a second source must use the stored, rotated refresh token, not the spent seed: %v", err)
	}
}
