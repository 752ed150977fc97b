package core

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/stats"
)

// Latency's documentation lists the bucket bounds embedders read Buckets by (the bounds themselves live
// in internal/stats): the list must be the histogram's.
func TestLatencyDocListsTheBucketBounds(t *testing.T) {
	src, err := os.ReadFile("stats.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(strings.ReplaceAll(string(src), "//", "")), " ")
	var bounds []string
	for _, ub := range stats.FetchBuckets() {
		bounds = append(bounds, time.Duration(ub*float64(time.Second)).String())
	}
	want := "Buckets[i] counts the observations of at most the i-th of " + strings.Join(bounds[:len(bounds)-1], ", ") + " and " + bounds[len(bounds)-1] + " "
	if !strings.Contains(doc, want) {
		t.Errorf("Latency.Buckets' comment in stats.go does not list the bounds of internal/stats; want it to say %q", want)
	}
}
