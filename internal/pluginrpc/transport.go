package pluginrpc

import "google.golang.org/grpc/status"

// TransportError is a failure of the connection to the plugin process rather than an answer from it; the
// host takes it as a sign the process may be dead.
type TransportError struct{ Err error }

// Error implements error.
func (e *TransportError) Error() string {
	return "plugin connection failed: " + status.Convert(e.Err).Message()
}

// Unwrap returns the underlying gRPC error.
func (e *TransportError) Unwrap() error { return e.Err }
