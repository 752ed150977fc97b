package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
)

// geminiCLIWrite rewrites oauth_creds.json the way the Gemini CLI (0.61) does: in place, with no lock and no
// temporary file. It truncates, writes the first half and then the rest, so a reader in between meets an
// empty or half-written file. It returns the bytes written.
func geminiCLIWrite(t *testing.T, path, access, refresh string, expiry time.Time) []byte {
	t.Helper()
	data, err := json.MarshalIndent(map[string]any{
		"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
		"scope": fakes.GeminiScopes, "expiry_date": expiry.UnixMilli(),
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	half := len(data) / 2
	if _, err := f.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	return data
}

// A reader that meets oauth_creds.json half written (the Gemini CLI truncated it and has written part)
// reads it again and gets the whole sign-in instead of reporting a damaged file.
func TestHalfWrittenFileIsReadAgain(t *testing.T) {
	path := credsPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	whole := geminiCLIWrite(t, path, "ya29.whole", testRefresh, time.Now().Add(time.Hour))
	if err := os.WriteFile(path, whole[:len(whole)/2], 0o600); err != nil { // caught between the two writes
		t.Fatal(err)
	}
	reads := 0
	f, err := credfile.Read(t.Context(), path, func(data []byte) (*credsFile, error) {
		reads++
		if reads == 1 { // the CLI finishes its write while the reader pauses
			if err := os.WriteFile(path, whole, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return parseCreds(data)
	})
	if err != nil || f.accessToken != "ya29.whole" || reads != 2 {
		t.Fatalf("err %v after %d reads; want the whole sign-in on the second read", err, reads)
	}
}

// The Gemini CLI rewrites oauth_creds.json in place, 100 times, while tokenhost serves tokens from it
// on several goroutines: no call fails on a half-written file, and every token served is one the CLI wrote.
func TestInPlaceWriterRace(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	writeExpired(t, path, nil)
	src := configure(t, cliOptions(g, path, nil))
	// The first write, before any reader: from here on the file always holds a usable token.
	geminiCLIWrite(t, path, "ya29.cli-0", testRefresh, time.Now().Add(time.Hour))

	written := sync.Map{}
	written.Store("ya29.cli-0", true)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := src.Token(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if _, ok := written.Load(tok.Value); !ok {
					errs <- fmt.Errorf("served a token the CLI never wrote")
					return
				}
				runtime.Gosched() // a busy agent, not a spinning one: let the CLI finish its writes
			}
		}()
	}
	// The CLI's pace: a rewrite every 10 ms (a real CLI rewrites once per refresh), so every reader meets
	// the file being rewritten many times over, but not for the whole of its ~0.3 s of re-reads.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 1; i <= 100; i++ {
		<-tick.C
		tok := fmt.Sprintf("ya29.cli-%d", i)
		written.Store(tok, true)
		geminiCLIWrite(t, path, tok, testRefresh, time.Now().Add(time.Hour))
	}
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if g.Requests() != 0 {
		t.Errorf("%d token requests; the file always held a usable token", g.Requests())
	}
}

// The Gemini CLI stores a newer sign-in (in place) while tokenhost's refresh is at the token endpoint: the
// file is re-read before the write-back and the CLI's sign-in wins; tokenhost serves it from then on.
func TestCLIWriteDuringRefreshWins(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	writeExpired(t, path, map[string]any{"keep": "me"})
	src := configure(t, cliOptions(g, path, nil))
	release := g.Hold()
	done := make(chan error, 1)
	go func() {
		tok, err := src.Token(context.Background())
		if err == nil && !g.Valid(tok.Value) {
			err = fmt.Errorf("the refresh served a token the endpoint did not issue")
		}
		done <- err
	}()
	if err := g.WaitHeld(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	cli := geminiCLIWrite(t, path, "ya29.from-the-cli", "1//cli-refresh", time.Now().Add(time.Hour))
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(path); string(now) != string(cli) {
		t.Fatal("tokenhost's write-back replaced the newer sign-in the Gemini CLI stored")
	}
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != "ya29.from-the-cli" {
		t.Fatalf("next Token: %v; want the CLI's token", err)
	}
}
