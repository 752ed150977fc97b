package fakes

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestStrictCodexUpstream(t *testing.T) {
	u := NewStrictCodexUpstream(func(tok string) bool { return tok == "good" }, "acct-1")
	defer u.Close()
	post := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, u.URL()+"/responses", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer good")
		req.Header.Set("ChatGPT-Account-ID", "acct-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got struct {
			Detail string `json:"detail"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&got)
		return resp.StatusCode, got.Detail
	}
	for body, want := range map[string]string{
		`{"model":"m","input":[],"store":false,"stream":true}`:                                "Instructions are required",
		`{"model":"m","instructions":" ","input":[],"store":false,"stream":true}`:             "Instructions are required",
		`{"model":"m","instructions":"be brief","input":"hello","store":false,"stream":true}`: "Input must be a list",
		`{"model":"m","instructions":"be brief","store":false,"stream":true}`:                 "Input must be a list",
		`{"model":"m","instructions":"be brief","input":[],"stream":true}`:                    "Store must be set to false",
		`{"model":"m","instructions":"be brief","input":[],"store":true,"stream":true}`:       "Store must be set to false",
		`{"model":"m","instructions":"be brief","input":[],"store":false}`:                    "Stream must be set to true",
	} {
		if status, detail := post(body); status != http.StatusBadRequest || detail != want {
			t.Errorf("%s: %d %q, want 400 %q", body, status, detail, want)
		}
	}
	if status, _ := post(`{"model":"m","instructions":"be brief","input":[],"store":false,"stream":true}`); status != http.StatusOK {
		t.Errorf("a request the backend accepts: %d", status)
	}
	if u.Requests() != 1 {
		t.Errorf("%d requests reached the backend past the rules, want 1", u.Requests())
	}
}
