package credfile

import (
	"context"
	"sync"
)

// Pending holds a refreshed sign-in that could not be written to its credential file (a read-only file, a
// full disk, a lock another program would not give up). The secret it replaced is spent at the token
// endpoint, so it is the only working sign-in: the plugin serves it from memory and writes it on later
// calls with Flush, until a write succeeds or the file shows that another program stored newer
// credentials, which then win. The zero value holds nothing and is ready to use.
type Pending[T any] struct {
	mu       sync.Mutex
	val      T
	held     bool
	gen      uint64 // bumped by every Keep, so a Flush never clears a value kept while it wrote
	replaced string // the mark of the file's contents that the first unsaved refresh replaced
}

// Keep records val as unsaved. replaced is the mark (see Flush) of the file's contents the refresh
// replaced; when an unsaved value is held already, its mark stays, as the file still holds what the first
// unsaved refresh replaced.
func (p *Pending[T]) Keep(val T, replaced string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.held {
		p.replaced = replaced
	}
	p.val, p.held = val, true
	p.gen++
}

// Value returns the unsaved value and true, or the zero value and false when everything is saved.
func (p *Pending[T]) Value() (T, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.val, p.held
}

// Clear forgets the unsaved value: the file holds everything now.
func (p *Pending[T]) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var zero T
	p.val, p.held = zero, false
	p.gen++
}

// FlushResult says what Flush did.
type FlushResult int

const (
	// NothingPending means there was no unsaved value.
	NothingPending FlushResult = iota
	// Written means the unsaved value is in the file now.
	Written
	// Superseded means the file had been rewritten by another program since the unsaved refresh: the file
	// is newer and the unsaved value was dropped.
	Superseded
	// NotWritten means the write failed again (Flush's error says why); the value stays unsaved.
	NotWritten
)

// Flush writes the unsaved value into the file at path. mark reads what identifies the sign-in in the
// file's contents (for instance its refresh token); the file is read as Read does, so a copy caught half
// written by a program that rewrites it in place is read again. When the file's mark differs from the one
// the unsaved refresh replaced, another program wrote newer credentials and the unsaved value is dropped.
// Otherwise encode returns the bytes to write, given the current contents (nil when they cannot be read or
// parsed: encode then writes the unsaved value alone), and they replace the file with WriteAtomic. The
// caller holds whatever lock guards writes of the file.
func (p *Pending[T]) Flush(ctx context.Context, path string, mark func(data []byte) (string, error), encode func(current []byte, val T) ([]byte, error), beforeRename func(tmp string) error) (FlushResult, error) {
	p.mu.Lock()
	val, held, gen, replaced := p.val, p.held, p.gen, p.replaced
	p.mu.Unlock()
	if !held {
		return NothingPending, nil
	}
	type seen struct {
		data []byte
		mark string
	}
	cur, err := Read(ctx, path, func(data []byte) (seen, error) {
		m, err := mark(data)
		return seen{data, m}, err
	})
	switch {
	case err == nil && cur.mark != replaced:
		p.clearIf(gen)
		return Superseded, nil
	case ctx.Err() != nil:
		return NotWritten, ctx.Err()
	}
	out, err := encode(cur.data, val)
	if err == nil {
		err = WriteAtomic(path, out, beforeRename)
	}
	if err != nil {
		return NotWritten, err
	}
	p.clearIf(gen)
	return Written, nil
}

// clearIf clears the unsaved value unless Keep replaced it since generation gen.
func (p *Pending[T]) clearIf(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == gen {
		var zero T
		p.val, p.held = zero, false
		p.gen++
	}
}
