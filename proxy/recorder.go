package proxy

import (
	"net/http"
	"sync"
)

// statusRecorder remembers the final status for the access log and metrics; Unwrap keeps flushing
// working for streamed responses. Recorders are reused (recorders) once their request is done.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// recorders holds statusRecorders between requests.
var recorders = sync.Pool{New: func() any { return new(statusRecorder) }}

// newRecorder returns a recorder for w, its status 200 until told otherwise; give it back with free.
func newRecorder(w http.ResponseWriter) *statusRecorder {
	rec := recorders.Get().(*statusRecorder)
	rec.ResponseWriter, rec.status, rec.wrote = w, http.StatusOK, false
	return rec
}

// free returns rec to the pool; the request it recorded must be over.
func (s *statusRecorder) free() {
	s.ResponseWriter = nil
	recorders.Put(s)
}

// WriteHeader records code unless it is informational (1xx other than 101 Switching Protocols): an
// upstream's 100 or 103 Early Hints is passed on, and the final status that follows is the one recorded.
func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap returns the server's ResponseWriter, so http.ResponseController reaches its Flush.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
