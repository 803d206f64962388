# SPDX-License-Identifier: BSD-3-Clause
# Sourced by every script that drives libvirtd with virsh (the VM tests, ci/e2e-vm,
# ci/e2e-live). virsh runs without client keepalive: with every core busy (QEMU under TCG
# and other jobs) libvirtd can miss virsh's 5 s x 6 probes while it works, and virsh then
# drops a connection that was only slow ("Disconnected ... due to keepalive timeout").
# libvirtd is local; whether it is alive is what the tests themselves check.
virsh() { command virsh -k 0 "$@"; }
