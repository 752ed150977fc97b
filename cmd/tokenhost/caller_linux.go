package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// procInfo reads pid's entry from /proc/<pid>/stat: its name (field 2), parent (field 4) and start time
// in clock ticks since boot (field 22).
var procInfo = func(pid int) (procEntry, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procEntry{}, err
	}
	return parseProcStat(string(data))
}

// parseProcStat parses one /proc/<pid>/stat line. The name sits in parentheses and may hold spaces and
// parentheses itself, so the fields after it are counted from the last ')'.
func parseProcStat(line string) (procEntry, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procEntry{}, errors.New("malformed /proc stat line")
	}
	rest := strings.Fields(line[end+1:]) // rest[0] is field 3 (state)
	if len(rest) < 20 {
		return procEntry{}, errors.New("short /proc stat line")
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil {
		return procEntry{}, err
	}
	if _, err := strconv.ParseUint(rest[19], 10, 64); err != nil {
		return procEntry{}, err
	}
	return procEntry{ppid: ppid, start: rest[19], comm: line[open+1 : end]}, nil
}
