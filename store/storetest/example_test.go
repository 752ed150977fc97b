package storetest_test

import (
	"testing"

	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// A backend's package runs the suite from a test function of its own, TestConformance(t *testing.T) { ... }
// in a _test.go file, giving Run a function that opens a fresh, empty store for each subtest (here the
// in-memory backend; a backend with a server gives each subtest a key prefix of its own). The package
// store runs it so against local, and store/redisstore against a redis-server.
func ExampleRun() {
	conformance := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			s, err := store.Open(store.Config{Backend: "local"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	}
	_ = conformance
}
