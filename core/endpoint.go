package core

import (
	"context"

	"github.com/tokenhost/tokenhost/internal/hostapi"
)

// endpoint returns p's resolved endpoint (internal/hostapi), starting its plugin if needed. After the
// first call it costs an atomic load, so a proxy may call it per request.
func (p *provider) endpoint(ctx context.Context) (*hostapi.Endpoint, error) {
	s := p.settings.Load()
	if s == nil {
		var err error
		if s, err = p.start(ctx); err != nil {
			return nil, err
		}
	}
	return &s.endpoint, nil
}
