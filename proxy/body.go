package proxy

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// errSuperseded ends a body reader of an attempt that a later attempt (a resend after a 401) replaced.
var errSuperseded = errors.New("request body taken over by a resend")

// errTooLarge is GetBody's answer once more than max_replay_bytes of the body went by.
var errTooLarge = errors.New("request body is larger than max_replay_bytes: it cannot be resent")

// replayBody streams an inbound request body to the upstream as it arrives, keeping a copy of at most
// limit bytes so the wrapper can resend the request once after a 401 (through GetBody). Nothing is read
// ahead: the upstream receives each chunk as soon as the client sends it. A resend replays the copy, then
// goes on reading the client's body where the first attempt stopped.
type replayBody struct {
	first replayReader // the first attempt's reader, allocated with the body
	src   io.Reader
	limit int64

	srcMu sync.Mutex // serialises reads of src

	mu   sync.Mutex // guards the fields below
	rec  []byte     // the first pos bytes of the body, while pos <= limit
	pos  int64      // bytes read from src so far
	over bool       // more than limit bytes went by: rec is dropped, no replay
	err  error      // src's final error (io.EOF at the end)
	gen  int        // the attempt whose reader may still read
}

// streamBody makes r's body stream with replay up to limit: it sets Body and GetBody. A body longer than
// limit by its Content-Length is left alone (the wrapper will not try to replay it).
func streamBody(r *http.Request, limit int64) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || r.ContentLength > limit {
		return
	}
	b := &replayBody{src: r.Body, limit: limit}
	b.first.b = b
	r.Body = &b.first
	r.GetBody = b.replay
}

// replay returns a reader for a new attempt, which makes every earlier attempt's reader stop.
func (b *replayBody) replay() (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return nil, errTooLarge
	}
	b.gen++
	return &replayReader{b: b, gen: b.gen}, nil
}

// replayReader is one attempt's view of the body: the recorded bytes it has not yet read, then src.
type replayReader struct {
	b   *replayBody
	gen int
	off int64
}

func (r *replayReader) Read(p []byte) (int, error) {
	if n, done, err := r.fromRecord(p); done {
		return n, err
	}
	b := r.b
	b.srcMu.Lock()
	defer b.srcMu.Unlock()
	if n, done, err := r.fromRecord(p); done { // another attempt may have read src meanwhile
		return n, err
	}
	n, err := b.src.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pos += int64(n)
	if !b.over && b.pos > b.limit {
		b.over, b.rec = true, nil
	} else if !b.over {
		b.rec = append(b.rec, p[:n]...)
	}
	if err != nil {
		b.err = err
	}
	r.off = b.pos
	if r.gen != b.gen {
		return 0, errSuperseded // the bytes are recorded for the attempt that took over
	}
	return n, err
}

// fromRecord answers a read without touching src when it can: done reports that it did.
func (r *replayReader) fromRecord(p []byte) (n int, done bool, err error) {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case r.gen != b.gen:
		return 0, true, errSuperseded
	case r.off < b.pos && (b.over || r.off >= int64(len(b.rec))):
		return 0, true, errTooLarge
	case r.off < b.pos:
		n = copy(p, b.rec[r.off:])
		r.off += int64(n)
		return n, true, nil
	case b.err != nil:
		return 0, true, b.err
	}
	return 0, false, nil
}

// Close does nothing: the server closes the client's body once the handler returns, and a resend may
// still need it after the first attempt's transport closed its reader.
func (r *replayReader) Close() error { return nil }
