#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the frame-carrying seeds of fuzz_fw_rules into fuzz-corpus/ (committed; this
documents where they came from). An input is rule text, a NUL byte, then an Ethernet
frame; basic.rules and v6.rules are plain rule files (no frame)."""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz-corpus")


def eth(ethertype, payload, vlan=None):
    hdr = bytes.fromhex("020000000001020000000002")
    if vlan is not None:
        hdr += struct.pack("!HH", 0x8100, vlan)
    return hdr + struct.pack("!H", ethertype) + payload


def ipv4(proto, src, dst, l4, frag=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, frag, 64, proto, 0,
                    bytes(src), bytes(dst))
    return h + l4


def ipv6(next_hdr, src, dst, l4):
    return struct.pack("!IHBB", 0x60000000, len(l4), next_hdr, 64) + bytes(src) + bytes(dst) + l4


def tcp(sport, dport, flags=0x02):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 8192, 0, 0)


def udp(sport, dport):
    return struct.pack("!HHHH", sport, dport, 8, 0)


RULES = b"""default drop
non-ip allow
allow tcp from 10.0.0.0/24 to 10.0.1.5 port 80
allow udp from any port 53 to any port 1024-65535
drop icmp from 10.0.0.1 to any
allow sctp from 192.168.0.0/16 port 1-100 to 192.168.1.1/32
allow 47 from any to 172.16.0.0/12
"""
V6 = b"""default allow
drop tcp from 2001:db8::/32 to ::/0 port 22
allow icmp6 from fe80::1/64 to any
drop ip from ::1 to ::1
"""
V4A, V4B, V4C = [10, 0, 0, 7], [10, 0, 1, 5], [8, 8, 8, 8]
V6A = bytes.fromhex("20010db8000000000000000000000001")
V6B = bytes.fromhex("fe800000000000000000000000000002")

SEEDS = {
    "tcp-syn-allowed": RULES + b"\0" + eth(0x0800, ipv4(6, V4A, V4B, tcp(40000, 80))),
    "tcp-ack-invalid": RULES + b"\0" + eth(0x0800, ipv4(6, V4A, V4B, tcp(40000, 80, 0x10))),
    "udp-dns-vlan": RULES + b"\0" + eth(0x0800, ipv4(17, V4C, V4A, udp(53, 5000)), vlan=7),
    "icmp-dropped": RULES + b"\0" + eth(0x0800, ipv4(1, [10, 0, 0, 1], V4C, bytes([8, 0, 0, 0, 0, 9, 0, 1]))),
    "ipv4-fragment": RULES + b"\0" + eth(0x0800, ipv4(17, V4A, V4B, udp(1, 2), frag=0x2001)),
    "arp-non-ip": RULES + b"\0" + eth(0x0806, bytes(28)),
    "v6-tcp-ssh": V6 + b"\0" + eth(0x86DD, ipv6(6, V6A, V6B, tcp(5555, 22))),
    "v6-ext-hdr-icmp6": V6 + b"\0" + eth(0x86DD, ipv6(60, V6B, V6A, bytes([58, 0, 1, 4, 0, 0, 0, 0]) +
                                                       bytes([128, 0, 0, 0, 0, 3, 0, 1]))),
    "no-rules-truncated-frame": b"\0" + eth(0x0800, ipv4(6, V4A, V4B, tcp(1, 2)))[:30],
}

if __name__ == "__main__":
    for name, data in SEEDS.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
