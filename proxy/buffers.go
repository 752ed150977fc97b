package proxy

import "sync"

// copyBufSize is the size of the buffer a reverse proxy copies a response body through (httputil's own).
const copyBufSize = 32 << 10

// copyBuffers lends the reverse proxies their copy buffers, which httputil.ReverseProxy otherwise
// allocates (and the garbage collector then clears) for every response: two thirds of the bytes a
// proxied request allocates. Buffers are kept as array pointers, so lending one allocates nothing.
type copyBuffers struct{ pool sync.Pool }

// Get returns a buffer of copyBufSize bytes.
func (c *copyBuffers) Get() []byte {
	if b, ok := c.pool.Get().(*[copyBufSize]byte); ok {
		return b[:]
	}
	return new([copyBufSize]byte)[:]
}

// Put takes back a buffer Get returned.
func (c *copyBuffers) Put(b []byte) {
	if len(b) == copyBufSize {
		c.pool.Put((*[copyBufSize]byte)(b))
	}
}

// buffers is shared by every route's reverse proxy.
var buffers = &copyBuffers{}
