package credfile

import (
	"fmt"
	"os"

	"github.com/tokenhost/tokenhost/internal/fileowner"
)

// CheckDir returns nil when no other user can add, replace or link files in dir, the directory of a
// credential file: it belongs to this user or root and is writable by no one else (a sticky directory
// such as /tmp is refused too: another user may create the file's name there first). The error names dir,
// what is wrong and the chmod or chown that fixes it. Where directories have no owner uid (Windows) it
// checks nothing.
func CheckDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	uid, known := fileowner.Of(st)
	if !known {
		return nil
	}
	if uid != 0 && uid != os.Getuid() {
		return fmt.Errorf("the directory %s belongs to uid %d, not to you (uid %d), who could plant or replace the file there; run sudo chown %d %s, or keep the file in a directory of your own", dir, uid, os.Getuid(), os.Getuid(), dir)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("the directory %s is writable by other users (mode %04o), who could plant or replace the file there; run chmod go-w %s, or keep the file in a directory of your own", dir, perm, dir)
	}
	return nil
}
