// Command codexcli plays the Codex CLI (0.169.0) refreshing its ChatGPT sign-in, with exactly the locking
// traced from the real CLI, so the end-to-end tests can race it against tokenhost on one auth.json:
//
//  1. read $CODEX_HOME/auth.json and redeem its refresh token at the token endpoint, holding no lock;
//  2. flock(auth.lock) in CODEX_HOME, waiting as long as it takes;
//  3. try flock(auth.json.lock, LOCK_EX|LOCK_NB) every 10 ms for 5 s; if it stays busy, throw the new
//     tokens away (the real CLI's behaviour, which loses the sign-in) and exit 3;
//  4. write auth.json from its own struct (fields it does not know are dropped) to a 0600 temporary file in
//     CODEX_HOME and rename it over auth.json; release both locks.
//
// It prints one line: "stored attempts=N" (N tries of auth.json.lock) and exits 0; "discarded attempts=N"
// and exits 3; "refused <code>" and exits 4 when the endpoint refused the refresh token (another program
// redeemed it first); "error <reason>" and exits 1 for anything else.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockTries and lockPause are how often and how far apart the CLI tries auth.json.lock.
const lockTries, lockPause = 500, 10 * time.Millisecond

// clientID is the Codex CLI's public OAuth client.
const clientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// authFile is the part of auth.json the CLI knows; anything else is dropped when it writes.
type authFile struct {
	AuthMode    string  `json:"auth_mode,omitempty"`
	APIKey      *string `json:"OPENAI_API_KEY"`
	Tokens      *tokens `json:"tokens"`
	LastRefresh string  `json:"last_refresh,omitempty"`
}

type tokens struct {
	IDToken      string  `json:"id_token"`
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	AccountID    *string `json:"account_id"`
}

func main() {
	home, tokenURL := os.Getenv("CODEX_HOME"), os.Getenv("CODEX_REFRESH_TOKEN_URL_OVERRIDE")
	if home == "" || tokenURL == "" {
		fail(errors.New("CODEX_HOME and CODEX_REFRESH_TOKEN_URL_OVERRIDE must be set"))
	}
	path := filepath.Join(home, "auth.json")
	var a authFile
	raw, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(raw, &a)
	}
	if err != nil || a.Tokens == nil {
		fail(fmt.Errorf("cannot read a sign-in from auth.json: %v", err))
	}

	code, fresh, err := redeem(tokenURL, a.Tokens.RefreshToken)
	switch {
	case err != nil:
		fail(err)
	case code != "":
		fmt.Println("refused", code)
		os.Exit(4)
	}

	dirLock, err := lockFile(filepath.Join(home, "auth.lock"))
	if err != nil {
		fail(err)
	}
	if err := syscall.Flock(dirLock, syscall.LOCK_EX); err != nil {
		fail(err)
	}
	fileLock, err := lockFile(path + ".lock")
	if err != nil {
		fail(err)
	}
	attempts := 0
	for {
		attempts++
		if err := syscall.Flock(fileLock, syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			break
		} else if !errors.Is(err, syscall.EWOULDBLOCK) {
			fail(err)
		}
		if attempts == lockTries {
			fmt.Printf("discarded attempts=%d\n", attempts)
			os.Exit(3)
		}
		time.Sleep(lockPause) // the pace of the real CLI's polling
	}

	a.Tokens.IDToken, a.Tokens.AccessToken, a.Tokens.RefreshToken = pick(fresh.IDToken, a.Tokens.IDToken), fresh.AccessToken, pick(fresh.RefreshToken, a.Tokens.RefreshToken)
	a.LastRefresh = time.Now().UTC().Format(time.RFC3339Nano)
	if err := write(home, path, &a); err != nil {
		fail(err)
	}
	_ = syscall.Flock(fileLock, syscall.LOCK_UN)
	_ = syscall.Flock(dirLock, syscall.LOCK_UN)
	fmt.Printf("stored attempts=%d\n", attempts)
}

// redeem posts the refresh grant; it returns the endpoint's error code when it refused the token.
func redeem(tokenURL, refreshToken string) (code string, t tokens, err error) {
	body, _ := json.Marshal(map[string]string{"client_id": clientID, "grant_type": "refresh_token", "refresh_token": refreshToken})
	resp, err := http.Post(tokenURL, "application/json", bytes.NewReader(body))
	if err != nil {
		return "", t, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", t, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return "", t, fmt.Errorf("token endpoint answered %d", resp.StatusCode)
		}
		return e.Error.Code, t, nil
	}
	err = json.Unmarshal(raw, &t)
	return "", t, err
}

// open keeps the lock files open (and so their locks held) until the process exits.
var keep []*os.File

// lockFile opens (creating, 0600) a lock file and returns its descriptor.
func lockFile(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	keep = append(keep, f)
	return int(f.Fd()), nil
}

// write replaces auth.json with a through a 0600 temporary file in dir.
func write(dir, path string, a *authFile) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".auth.json.codex-*")
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

func pick(v, old string) string {
	if v == "" {
		return old
	}
	return v
}

func fail(err error) {
	fmt.Println("error", err)
	os.Exit(1)
}
