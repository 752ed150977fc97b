package core

import (
	"net/http"
	"testing"
)

// A request through a group whose first member takes it allocates exactly what the same request to the
// member directly does: the member's wrapper makes the one copy that carries both the member's URL and
// its credential.
func TestGroupAllocatesNoMoreThanItsMember(t *testing.T) {
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	instant := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	h := groupBenchHost(t, instant, "https://api.example.com") // no base path: none to join to the caller's
	allocs := map[string]float64{}
	for _, c := range []struct{ handle, url string }{
		{"p", "https://api.example.com/chat/completions?stream=true"},
		{"g", GroupBaseURL("g") + "/chat/completions?stream=true"},
	} {
		p, err := h.Provider(c.handle)
		if err != nil {
			t.Fatal(err)
		}
		rt := p.Transport()
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		req.Header.Set("Accept", "application/json")
		if _, err := rt.RoundTrip(req); err != nil { // the plugin started and the token cached
			t.Fatal(err)
		}
		allocs[c.handle] = testing.AllocsPerRun(200, func() {
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
		})
	}
	if allocs["g"] != allocs["p"] {
		t.Fatalf("a request allocates %v through the group and %v to its member directly; want the same (profile with go test -bench BenchmarkGroup/hotpath -memprofile)", allocs["g"], allocs["p"])
	}
}
