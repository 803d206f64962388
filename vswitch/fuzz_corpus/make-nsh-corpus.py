#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpus of fuzz_nsh into nsh/ (committed; this documents where it came
from). Byte 0 picks the parser (vswitch/fuzz_nsh.c): % 4 == 0 an NSH header, 1 a
"name=value" attribute, 2 a flowhash field list, 3 a frame for the flow key (then an
options byte: bits 0-1 force IPv4/IPv6, bits 2-3 pick the fields= spec; and the byte
that picks where the frame is split into two segments)."""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nsh")


def nsh(spi, si, tlvs, ttl=63, next_proto=3):
    body = b""
    for cls, typ, val in tlvs:
        body += struct.pack("!HBB", cls, typ, len(val)) + val + bytes(-len(val) % 4)
    words = (8 + len(body)) // 4
    return bytes([(ttl >> 2) & 0xF, (ttl & 3) << 6 | words, 2, next_proto]) + \
        struct.pack("!I", spi << 8 | si)[:4] + body


def eth(ethertype, payload):
    return bytes.fromhex("020000000001020000000002") + struct.pack("!H", ethertype) + payload


def ipv4(proto, l4):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + l4


def ipv6(next_hdr, l4):
    return struct.pack("!IHBB", 0x60000000, len(l4), next_hdr, 64) + \
        bytes.fromhex("20010db8000000000000000000000001") + bytes.fromhex("20010db8000000000000000000000002") + l4


TCP = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 5 << 4, 2, 8192, 0, 0)
UDP = struct.pack("!HHHH", 53, 33333, 8, 0)

SEEDS = {
    "header-no-tlv": b"\0" + nsh(42, 255, []),
    "header-e2-tlvs": b"\0" + nsh(7, 254, [(0xFFF6, 1, b"\x01"), (0xFFF6, 4, b"\0\0\x12\x34"),
                                         (0xFFF6, 5, b"http")]),
    "header-odd-lengths": b"\0" + nsh(1, 1, [(0x0001, 0x80, b"abc"), (0xFFF6, 40, b"x" * 17)], ttl=1),
    "header-md-type-1": b"\0" + bytes([0x0F, 0xC6, 0x01, 0x03]) + bytes(20),
    "header-truncated": b"\0" + nsh(3, 3, [(0xFFF6, 2, b"12345678")])[:14],
    "attr-safe": b"\x01safe=1",
    "attr-flow-id": b"\x01flow_id=305419896",
    "attr-app-bytes": b"\x01app=video",
    "attr-generic-hex": b"\x01t40=0xdeadbeef",
    "attr-unknown": b"\x01colour=blue",
    "fields-full": b"\x02src/24:64,dst/:100,proto,sport,dport",
    "fields-ports": b"\x02proto,sport,dport",
    "fields-bad": b"\x02src/33",
    "key-ipv4-tcp": b"\x03\x00\x10" + eth(0x0800, ipv4(6, TCP)),
    "key-ipv6-udp": b"\x03\x06\x30" + eth(0x86DD, ipv6(17, UDP)),
    "key-forced-v4-spec2": b"\x03\x09\x05" + eth(0x0806, ipv4(17, UDP)),
    "key-ipv6-ext-hdr": b"\x03\x02\x40" + eth(0x86DD, ipv6(0, bytes([6, 0]) + bytes(6) + TCP)),
}

if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
