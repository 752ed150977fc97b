package main

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// procInfo reads pid's entry with sysctl kern.proc.pid: its name, parent and start time.
var procInfo = func(pid int) (procEntry, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return procEntry{}, err
	}
	comm := kp.Proc.P_comm[:]
	for i, b := range comm {
		if b == 0 {
			comm = comm[:i]
			break
		}
	}
	st := kp.Proc.P_starttime
	return procEntry{ppid: int(kp.Eproc.Ppid), start: strconv.FormatInt(int64(st.Sec), 10) + "." + strconv.FormatInt(int64(st.Usec), 10), comm: string(comm)}, nil
}
