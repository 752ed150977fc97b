package config

import (
	"fmt"
	"io"
	"os"

	"github.com/tokenhost/tokenhost/conf"
	"github.com/tokenhost/tokenhost/internal/fsmsg"
)

// configWhat names a configuration file in the errors of the ownership and mode checks.
const configWhat = "the configuration"

// readConfig finds the configuration through s and reads it once, returning the bytes to parse, their
// source, and whether the file needed trust. The checks are made on what is read: the open file must be
// one no other user can change (checkPrivate), and a file the user did not choose must have exactly these
// bytes trusted, so what is parsed is what was checked.
func readConfig(s Sources) (data []byte, source string, needsTrust bool, err error) {
	loc, err := locate(s)
	if err != nil {
		return nil, "", false, err
	}
	if loc.path == "" {
		return conf.Default, EmbeddedSource, false, nil
	}
	if data, err = readPrivate(loc.path, configWhat); err != nil {
		return nil, "", false, err
	}
	if loc.needsTrust {
		if err := checkTrusted(s, loc.path, data); err != nil {
			return nil, "", false, err
		}
	}
	return data, loc.path, loc.needsTrust, nil
}

// readPrivate reads the file at path after checking, on the open file, that it is not a directory and
// that no other user can change it or replace it (checkPrivate); what names the file in errors.
func readPrivate(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %w", path, what, fsmsg.Cause(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %w", path, what, fsmsg.Cause(err))
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a file", path)
	}
	if err := checkPrivate(path, fi, what); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %w", path, what, fsmsg.Cause(err))
	}
	return data, nil
}
