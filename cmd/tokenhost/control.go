package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fileowner"
)

// The control socket lets `tokenhost token` use a running `tokenhost serve` of the same configuration:
// its cache, single flight and refresh-ahead then serve scripts too, so a script costs the identity
// provider nothing beyond what the daemon already spends. It is a Unix socket, mode 0600, in a directory
// both ends check the way ssh-agent and gpg-agent check theirs (a real directory, the user's own, mode
// 0700), and each end checks that the process at the other end runs as the same user. Where the platform
// cannot tell a socket's peer (Windows, some BSDs), there is no control socket.

// controlTimeout bounds a `tokenhost token` question to the daemon; past it, the command fetches itself.
const controlTimeout = 5 * time.Second

// errControlUnsupported is why there is no control socket on a platform that cannot tell a peer's user.
var errControlUnsupported = errors.New("this platform cannot tell which user is at the other end of a Unix socket")

// controlPath returns the socket of the daemon serving cfg: under $XDG_RUNTIME_DIR/tokenhost (else a
// per-user directory in the temporary directory), named by a hash of the effective configuration.
func controlPath(cfg *config.Config) string {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = filepath.Join(os.TempDir(), "tokenhost-"+strconv.Itoa(os.Getuid()))
	} else {
		base = filepath.Join(base, "tokenhost")
	}
	key, _ := json.Marshal(cfg.Providers)
	sum := sha256.Sum256(append(key, cfg.Source...))
	return filepath.Join(base, hex.EncodeToString(sum[:8])+".sock")
}

// checkControlDir returns nil when dir may hold the control socket: it is a directory, not a symbolic
// link, owned by this user, mode 0700. Otherwise the error names dir, what is wrong and how to fix it; an
// error wrapping fs.ErrNotExist means there is no such directory.
func checkControlDir(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	uid, owned := fileowner.Of(st)
	var problem string
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		problem = "is a symbolic link"
	case !st.IsDir():
		problem = "is not a directory"
	case !owned || uid != os.Getuid():
		problem = fmt.Sprintf("belongs to uid %d, not to you (uid %d)", uid, os.Getuid())
	case st.Mode().Perm() != 0o700:
		problem = fmt.Sprintf("has mode %04o, not 0700", st.Mode().Perm())
	default:
		return nil
	}
	return fmt.Errorf("the control socket directory %s %s, so another user could stand in for tokenhost serve; "+
		"remove it (rm -r %s, as root if another user owns it) or set XDG_RUNTIME_DIR to a directory of your own with mode 0700",
		dir, problem, dir)
}

// checkControlSocket returns nil when path is a Unix socket owned by this user.
func checkControlSocket(path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	uid, owned := fileowner.Of(st)
	switch {
	case st.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("the control socket %s is not a socket (mode %s); remove it (rm %s) and restart tokenhost serve", path, st.Mode(), path)
	case !owned || uid != os.Getuid():
		return fmt.Errorf("the control socket %s belongs to uid %d, not to you (uid %d); remove it (rm %s) and restart tokenhost serve", path, uid, os.Getuid(), path)
	}
	return nil
}

// checkControlPeer returns nil when the process at the other end of c runs as this user.
func checkControlPeer(c net.Conn) error {
	uid, err := peerUID(c)
	if err != nil {
		return fmt.Errorf("cannot tell which user is at the other end of the control socket: %w", err)
	}
	return samePeer(uid, os.Getuid())
}

// samePeer returns nil when peer, the uid at the other end of the control socket, is self; the error
// otherwise is a *peerError.
func samePeer(peer, self int) error {
	if peer != self {
		return &peerError{peer: peer, self: self}
	}
	return nil
}

// peerError is a control socket connection whose other end runs as another user.
type peerError struct{ peer, self int }

func (e *peerError) Error() string {
	return fmt.Sprintf("the other end of the control socket runs as uid %d, not as you (uid %d)", e.peer, e.self)
}
