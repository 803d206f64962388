# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the scripts that start and stop daemons which are not their children
# (libvirtd, virtlogd, OVS, the rack's services): such a daemon that exited stays a zombie
# until init reaps it, 1-2 s on these machines, and kill -0 and plain pgrep both still see
# a zombie (CONTRIBUTING.md, "Three traps").

# gone PID: the process exited (no such process, or a zombie).
gone() {
  local state
  state=$(awk '$1 == "State:" {print $2}' "/proc/$1/status" 2>/dev/null)
  [ -z "$state" ] || [ "$state" = Z ]
}

# running NAME: the pids of processes named NAME that still run (zombies left out).
running() { pgrep -x -r D,R,S,T,t,I "$1"; }
