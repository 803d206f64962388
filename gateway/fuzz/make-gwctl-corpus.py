#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes fuzz/corpus/gwctl: embark-gw control requests (daemon/embark_gw.proto), encoded
by hand from the protobuf wire format, naming the files fuzz_gwctl makes in its scratch
directory (r1, r2, bad, p1, k, k644)."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wire_type, payload):
    key = varint(num << 3 | wire_type)
    if wire_type == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def text(num, s):
    return field(num, 2, s.encode())


def request(op, body):
    return field(1, 0, 1) + field(op, 2, body)


SEEDS = {
    'status': request(10, b''),
    'rules-activate': request(11, text(1, 'r1') + field(4, 0, 1)),
    'rules-prepare': request(11, text(1, 'r2') + text(2, 'p1')),
    'rules-bad': request(11, text(1, 'bad') + field(4, 0, 1)),
    'rules-keyid': request(11, text(1, 'r1') + text(3, '0011223344556677') + field(4, 0, 1)),
    'key': request(12, text(1, 'k') + field(2, 0, 1)),
    'key-644': request(12, text(1, 'k644') + field(2, 0, 1)),
    'activate': request(13, field(1, 0, 2)),
    'old-version': field(1, 0, 7) + field(10, 2, b''),
}

if __name__ == '__main__':
    out = os.path.join(HERE, 'corpus', 'gwctl')
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
