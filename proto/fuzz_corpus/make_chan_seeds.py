#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Writes the seed corpus of fuzz_chan (chan/): envelopes sealed at the fuzzer's fixed
# clock under its fixed key (fuzz_chan.c), good ones and one of each refusal, encoded
# by hand as protobuf so that no protobuf package is needed.
import hashlib
import hmac
import os
import struct

NOW = 1700000000000000000
KEY = b"e2 fuzz key, 32 bytes at least.."
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chan")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_varint(num, v):
    return varint(num << 3) + varint(v) if v else b""


def field_bytes(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b if b else b""


def mac(version, sender, boot, seq, time_ns, body, key=KEY):
    s = sender.encode()
    layout = (b"E2S1" + struct.pack(">IH", version, len(s)) + s + struct.pack(">QQQI", boot, seq, time_ns, len(body))
              + body)
    return hmac.new(key, layout, hashlib.sha256).digest()


def sealed(version=1, sender="controller", boot=NOW - 5 * 10**9, seq=1, time_ns=NOW, body=b"\x08\x01", mac_bytes=None):
    if mac_bytes is None:
        mac_bytes = mac(version, sender, boot, seq, time_ns, body)
    return (field_varint(1, version) + field_bytes(2, sender.encode()) + field_varint(3, boot) + field_varint(4, seq)
            + field_varint(5, time_ns) + field_bytes(6, body) + field_bytes(7, mac_bytes))


SEEDS = {
    "good": sealed(),
    "good-empty-body": sealed(sender="agent:srv1", seq=7, body=b""),
    "good-far-seq": sealed(sender="hook:srv1", seq=1000, body=b"\x08\x01\x1a\x04fw.0"),
    "no-mac": sealed(mac_bytes=b""),
    "other-key": sealed(mac_bytes=mac(1, "controller", NOW - 5 * 10**9, 1, NOW, b"\x08\x01", key=b"x" * 32)),
    "short-mac": sealed(mac_bytes=b"\x01" * 31),
    "version-2": sealed(version=2),
    "bad-sender": sealed(sender="a b"),
    "stale": sealed(time_ns=NOW - 60 * 10**9),
    "no-seq": sealed(seq=0),
    "empty": b"",
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
