package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// groupBody hands a request's body to each member a group tries: the caller's body to the first, a replay
// (the caller's GetBody, or a copy of at most the group's max_replay_bytes) to the next ones, rewritten
// where a member's model_map renames the model.
type groupBody struct {
	req   *http.Request
	limit int64
	buf   []byte // the whole body, once read (buffered for replay, or for a model_map)
	used  bool   // req.Body went to an attempt
	big   bool   // the body is larger than limit: it goes to one member only
}

// errNoReplay ends a group's failover when the body cannot be sent again.
var errNoReplay = errors.New("the request body is larger than max_replay_bytes and cannot be sent to another member")

func newGroupBody(req *http.Request, limit int64) groupBody {
	b := groupBody{req: req, limit: limit}
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return b
	}
	if req.ContentLength > limit {
		b.big = true
		return b
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	switch {
	case err != nil:
		req.Body = &prefixedBody{r: io.MultiReader(bytes.NewReader(buf), errReader{err}), c: req.Body}
		b.big = true
	case int64(len(buf)) > limit:
		req.Body = &prefixedBody{r: io.MultiReader(bytes.NewReader(buf), req.Body), c: req.Body}
		b.big = true
	default:
		req.Body.Close()
		b.buf = buf
	}
	return b
}

// empty reports whether the request has no body.
func (b *groupBody) empty() bool { return b.req.Body == nil || b.req.Body == http.NoBody }

// set gives out (a copy of the caller's request) the body for one attempt, renamed by modelMap; it fails
// when the body cannot be sent again.
func (b *groupBody) set(out *http.Request, modelMap map[string]string) error {
	if b.empty() {
		return nil
	}
	if len(modelMap) > 0 && b.buf == nil && !b.big {
		b.readAll()
	}
	if b.buf != nil {
		data := b.buf
		if len(modelMap) > 0 {
			data = renameModel(data, modelMap)
		}
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		return nil
	}
	if !b.used {
		b.used = true
		return nil // the caller's body and GetBody, as out copied them
	}
	if b.big || b.req.GetBody == nil {
		return errNoReplay
	}
	rc, err := b.req.GetBody()
	if err != nil {
		return errNoReplay
	}
	out.Body = rc
	return nil
}

// readAll reads a body that has a GetBody into buf, for a model_map; a body larger than the limit stays
// unread (and unrenamed).
func (b *groupBody) readAll() {
	rc := b.req.Body
	if b.used {
		var err error
		if rc, err = b.req.GetBody(); err != nil {
			b.big = true
			return
		}
	}
	buf, err := io.ReadAll(io.LimitReader(rc, b.limit+1))
	rc.Close()
	b.used = true
	if err != nil || int64(len(buf)) > b.limit {
		b.big = b.req.GetBody == nil
		return
	}
	b.buf = buf
}

// renameModel returns body with its top-level "model" string replaced as m maps it. Every other byte is
// kept as it was; a body that is not a JSON object, or names no mapped model, comes back as it is.
func renameModel(body []byte, m map[string]string) []byte {
	start, end, model, ok := modelSpan(body)
	if !ok {
		return body
	}
	to, ok := m[model]
	if !ok {
		return body
	}
	quoted, err := json.Marshal(to)
	if err != nil {
		return body
	}
	out := make([]byte, 0, len(body)-(end-start)+len(quoted))
	out = append(out, body[:start]...)
	out = append(out, quoted...)
	return append(out, body[end:]...)
}

// modelSpan finds the value of the top-level "model" key of a JSON object: its byte span and its text.
func modelSpan(body []byte) (start, end int, model string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, 0, "", false
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return 0, 0, "", false
		}
		after := int(dec.InputOffset())
		if key == "model" {
			v, err := dec.Token()
			s, isString := v.(string)
			if err != nil || !isString {
				return 0, 0, "", false
			}
			end = int(dec.InputOffset())
			start = after + bytes.IndexByte(body[after:end], '"')
			return start, end, s, true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return 0, 0, "", false
		}
	}
	return 0, 0, "", false
}
