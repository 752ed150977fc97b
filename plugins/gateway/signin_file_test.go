package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A stored sign-in file keeps, across a login and a refresh, the fields this version does not know (a
// newer tokenhost's), while every field it does know is replaced, even by an empty value.
func TestFileStoreKeepsUnknownFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signin.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"refresh_token":"rt-old","scopes":["a"],"future_field":{"x":1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &fileStore{path: path}
	ctx := context.Background()
	unlock, err := s.lock(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := s.put(ctx, signIn{ClientID: "c1", AccessToken: "at-1"}); err != nil {
		t.Fatal(err)
	}
	cur, err := s.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.save(ctx, cur, signIn{ClientID: "c1", RefreshToken: "rt-2"})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var kept bytes.Buffer
	_ = json.Compact(&kept, m["future_field"])
	if kept.String() != `{"x":1}` {
		t.Errorf("the unknown field future_field is %q after a login and a refresh, want {\"x\":1}", kept.String())
	}
	for _, k := range []string{"scopes", "access_token"} {
		if _, ok := m[k]; ok {
			t.Errorf("the known field %s of an earlier sign-in stays beside the new one", k)
		}
	}
	if si, err := parseSignIn(data); err != nil || si.ClientID != "c1" || si.RefreshToken != "rt-2" {
		t.Errorf("the stored sign-in reads back wrong (client %q, err %v)", si.ClientID, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the stored sign-in's mode is not 0600 (%v)", err)
	}
}

// A stored sign-in in a directory other users can write (or, run as root, another user's) is neither
// read nor written: the error names the option store, the directory and the chmod that fixes it.
func TestFileStoreRefusesASharedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	s := &fileStore{path: filepath.Join(dir, "signin.json")}
	_, err := s.lock(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "store") || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "chmod go-w") {
		t.Fatalf("lock in a world-writable directory: %v; want an error naming store, %s and chmod go-w", err, dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Skipf("cannot give a directory to another user here: %v", err)
	}
	if _, err := s.lock(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "uid 4242") {
		t.Fatalf("lock in another user's directory: %v; want an error naming uid 4242", err)
	}
}
