package gemini

import (
	"slices"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// The token may reach Vertex AI's global and regional endpoints without any option, and only hosts
// under googleapis.com, named exactly.
func TestInfoAllowsVertexHostsByDefault(t *testing.T) {
	isolate(t)
	info, err := New().Configure(t.Context(), map[string]any{"source": SourceStatic, "token": "ya29.x-static-value"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"aiplatform.googleapis.com", "us-central1-aiplatform.googleapis.com", "europe-west4-aiplatform.googleapis.com", "asia-northeast1-aiplatform.googleapis.com", "us-east5-aiplatform.googleapis.com"} {
		if !slices.Contains(info.AllowedHosts, want) {
			t.Errorf("AllowedHosts lacks %s", want)
		}
	}
	for _, h := range info.AllowedHosts {
		if !validGoogleHost(h) || strings.Contains(h, "*") || !strings.HasSuffix(h, "-aiplatform.googleapis.com") && h != "aiplatform.googleapis.com" {
			t.Errorf("AllowedHosts holds %q, which is not a Vertex AI host", h)
		}
	}
	for _, bad := range []string{"evil-aiplatform.googleapis.com.attacker.com", "aiplatform.googleapis.com.evil", "googleapis.com"} {
		if slices.Contains(info.AllowedHosts, bad) {
			t.Errorf("AllowedHosts holds %q", bad)
		}
	}
	// An extra host already among them is reported once.
	info, err = New().Configure(t.Context(), map[string]any{"source": SourceStatic, "token": "ya29.x-static-value", "extra_hosts": []any{"us-central1-aiplatform.googleapis.com"}})
	if err != nil || len(info.AllowedHosts) != len(VertexHosts()) {
		t.Errorf("a repeated extra host: %d hosts, %v; want %d", len(info.AllowedHosts), err, len(VertexHosts()))
	}
}

// *.googleapis.com is a wildcard over a public suffix, which the host refuses from any plugin; the plugin
// refuses it at Configure with the option's path, instead of handing the host a host it would refuse.
func TestExtraHostsRefusesWildcardOverGoogleapis(t *testing.T) {
	isolate(t)
	_, err := New().Configure(t.Context(), map[string]any{"source": SourceStatic, "token": "ya29.x-static-value", "extra_hosts": []any{"generativelanguage.googleapis.com", "*.googleapis.com"}})
	wantKind(t, err, sdk.KindBadConfig)
	if !strings.Contains(err.Error(), "extra_hosts[1]") || !strings.Contains(err.Error(), "public suffix") {
		t.Errorf("error %q does not name extra_hosts[1] and the public suffix rule", err)
	}
}
