package core

import "net/http"

// replaced holds the header values a member's credential replaced when the wrapper set it in a group's
// request in place (a nil value: the header was absent), in the order set. The first few are held inline,
// so that a request that fails over to no other member keeps them without allocating.
type replaced struct {
	n    int
	kv   [4]headerKV
	rest []headerKV
}

// add records one header's value before it is replaced.
func (r *replaced) add(key string, value []string) {
	if r.n < len(r.kv) {
		r.kv[r.n] = headerKV{key: key, value: value}
		r.n++
		return
	}
	r.rest = append(r.rest, headerKV{key: key, value: value})
}

// restored returns a copy of h with the values r holds put back, the first recorded for a key last so
// that it wins.
func (r *replaced) restored(h http.Header) http.Header {
	c := h.Clone()
	if c == nil {
		c = make(http.Header)
	}
	put := func(kv headerKV) {
		if kv.value == nil {
			delete(c, kv.key)
		} else {
			c[kv.key] = kv.value
		}
	}
	for i := len(r.rest) - 1; i >= 0; i-- {
		put(r.rest[i])
	}
	for i := r.n - 1; i >= 0; i-- {
		put(r.kv[i])
	}
	return c
}
