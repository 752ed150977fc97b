package proxy

import "testing"

// A copy buffer is as large as httputil's own, and lending one back and forth allocates nothing.
func TestCopyBuffersAreReusedWithoutAllocating(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	var c copyBuffers
	if b := c.Get(); len(b) != copyBufSize {
		t.Fatalf("buffer of %d bytes, want %d", len(b), copyBufSize)
	}
	if n := testing.AllocsPerRun(100, func() { c.Put(c.Get()) }); n != 0 {
		t.Fatalf("lending a buffer allocates %v times", n)
	}
	c.Put(make([]byte, 10)) // a foreign size is dropped, never lent out
	if b := c.Get(); len(b) != copyBufSize {
		t.Fatalf("after a foreign Put: buffer of %d bytes, want %d", len(b), copyBufSize)
	}
}
