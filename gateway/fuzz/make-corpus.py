#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpora of the gateway fuzzers (run from anywhere; the files are
committed, this only documents where they came from and regenerates them):

  corpus/rules    rule, pool, keyword and encrypted-keyword texts, valid and near-valid
  corpus/decrypt  fuzz_decrypt inputs: byte 0 odd = "encrypt this IPv4 packet, flip byte
                  POS (bytes 1-2, little endian) of the ciphertext with MASK (byte 3)";
                  byte 0 even = "decrypt these bytes" (Embark-shaped IPv6 packets whose tag
                  cannot verify: they reach the AES-SIV check); byte 0 odd with bit 1 =
                  "build a cloud proxy's frame from these bytes (TCP header, payload; bit
                  2: with content), open it, flip byte POS with MASK"
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(kind, name, data):
    d = os.path.join(HERE, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


RULES = {
    "rules-example": """deny   id=botnet     prio=10 src=203.0.113.0/24
deny   id=no-ssh-in  prio=20 proto=tcp dst=10.0.0.0/16 dport=22
accept id=web        prio=40 proto=tcp dst=10.1.0.0-10.1.1.255 dport=80-443
accept id=ping       prio=60 proto=icmp
deny   id=default    prio=1000
""",
    "rules-v6": """accept id=v6net prio=1 proto=udp src=2001:db8::/32 dst=::-::ffff sport=1-2
deny prio=2 src=::ffff:10.0.0.0/104 dst=::/0 proto=47
accept id=x:y.z_1 prio=1099511627776 src=1.2.3.4-1.2.3.4 dst=0.0.0.0/0
""",
    "rules-defaults": "accept\ndeny # comment\n\n  \t accept proto=0 sport=0 dport=65535\n",
    "rules-expanded": """# one logical rule over several lines, as embark-rules encrypt writes it
deny id=r1 prio=5 proto=tcp src=52e8::/16 dport=48384-48639
deny id=r1 prio=5 proto=tcp src=52e9::/16 dport=48384-48639
""",
    "rules-bad-host-bits": "deny src=1.2.3.4/24\n",
    "rules-bad-overlap": "deny id=a prio=1 src=10.0.0.0/8\naccept id=b prio=1 src=10.1.0.0/16\n",
    "pools": "pool nat-out 198.51.100.0/28\npool lb-web 198.51.100.32-198.51.100.40\n",
    "pools-bad-v6": "pool v6 2001:db8::/120\n",
    "keywords": "PROJECT-BLUEBIRD\nconfidential\n/etc/passwd\n\\x90\\x90\\x90\\x90\\x90\\x90\\x90\\x90\nback\\\\slash\\\\x\n",
    "kw-rules": "# embark encrypted keywords: rule piece-offset AES_k(piece)\n"
                "0 0 00112233445566778899aabbccddeeff\n"
                "0 8 0123456789abcdef0123456789abcdef\n"
                "1 0 ffeeddccbbaa99887766554433221100\n",
    "kw-rules-bad-order": "1 0 00112233445566778899aabbccddeeff\n",
}


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(proto, l4, options=b"", ttl=64, tos=0, trailer=b""):
    hl = 20 + len(options)
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x40 | hl // 4, tos, hl + len(l4), 0x1234, 0x4000,
                              ttl, proto, 0, bytes([10, 0, 0, 1]), bytes([192, 168, 1, 7])) + options)
    h[10:12] = struct.pack("!H", csum(bytes(h)))
    return bytes(h) + l4 + trailer


def tcp(sport, dport, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 2, 5 << 4, 0x18, 8192, 0, 0) + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(payload=b""):
    return struct.pack("!BBHHH", 8, 0, 0, 1, 1) + payload


def tamper(pos, mask, packet):
    return bytes([1]) + struct.pack("<H", pos) + bytes([mask]) + packet


# The ciphertext layout (gateway/README.md): IPv6 header 40 bytes, then the option.
# Offsets below aim the flip at one field of a TCP packet without IPv4 options
# (option 4 + 22 + 16 + 6 = 48 bytes, no padding: the TCP header starts at 88; the
# nonce is at 46, the SIV at 50, the sealed part at 66).
DECRYPT = {
    "tcp-flip-siv": tamper(40 + 10 + 3, 0x01, ipv4(6, tcp(1234, 80, b"GET / HTTP/1.0\r\n\r\n"))),
    "tcp-flip-hoplimit": tamper(7, 0x20, ipv4(6, tcp(1234, 80, b"hello"))),
    "tcp-flip-flowlabel": tamper(2, 0xff, ipv4(6, tcp(40000, 443, b"x" * 40))),
    "tcp-flip-checksum": tamper(88 + 16, 0x55, ipv4(6, tcp(22, 5555, b"ssh"))),
    "tcp-flip-sport": tamper(88, 0x80, ipv4(6, tcp(22, 5555, b"ssh"))),
    "tcp-flip-payload": tamper(114, 0x04, ipv4(6, tcp(1, 2, b"0123456789abcdef"))),
    "udp-options-trailer": tamper(45, 0x10, ipv4(17, udp(53, 33333, b"\x12\x34query"),
                                                 options=b"\x01\x01\x01\x00", trailer=b"\0" * 6)),
    "udp-flip-nonce": tamper(40 + 6, 0xff, ipv4(17, udp(53, 53, b"dns"))),
    "icmp-flip-type": tamper(88, 0x08, ipv4(1, icmp(b"ping data"), tos=0x10)),
    "gre-flip-src": tamper(9, 0x01, ipv4(47, b"\x00\x00\x08\x00" + b"inner" * 4)),
}


def embark_shaped(proto, l4, sealed_len=22):
    """An IPv6 packet with a well-formed Embark option but an SIV that cannot verify."""
    optdata = 2 + 4 + 16 + sealed_len
    ext = 4 + optdata
    pad = (8 - ext % 8) % 8
    ext += pad
    opt = bytes([proto, ext // 8 - 1, 0x1E, optdata, 0x21, 20]) + bytes(range(4)) + \
        bytes(16) + bytes(sealed_len)
    if pad == 1:
        opt += b"\0"
    elif pad > 1:
        opt += bytes([1, pad - 2]) + bytes(pad - 2)
    v6 = struct.pack("!IHBB", 0x60000000, ext + len(l4), 60, 64) + bytes(range(16)) + bytes(range(16, 32))
    return bytes([0]) + v6 + opt + l4


DECRYPT.update({
    "v6-tcp": embark_shaped(6, tcp(1000, 2000, b"payload")),
    "v6-udp-trailer": embark_shaped(17, udp(1, 2), sealed_len=22 + 4),
    "v6-other": embark_shaped(50, b"esp-ish payload"),
    "v6-no-option": bytes([0]) + struct.pack("!IHBB", 0x60000000, 8, 6, 64) + bytes(32) + tcp(1, 2)[:8],
    "v4-as-ciphertext": bytes([2]) + ipv4(6, tcp(1, 2)),
    "frame-bare": bytes([3, 10, 0, 0x40]) + tcp(80, 40001, b""),
    "frame-content": bytes([7, 90, 0, 0x01]) + tcp(80, 40001, bytes(range(200))),
})

if __name__ == "__main__":
    for name, text in RULES.items():
        write("rules", name, text)
    for name, data in DECRYPT.items():
        write("decrypt", name, data)
