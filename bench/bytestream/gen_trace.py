#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the TCP traces of bench/bytestream: pcaps per direction (client to server,
server to client) of many HTTP-like connections, interleaved as concurrent flows would
be, with realistic payloads (requests of a few hundred bytes, responses of 1-40 KB in
1460-byte segments), a little reordering and retransmission; and a trace of 64-byte
frames (6 payload bytes each, in order) for the per-packet rate.

  gen_trace.py DIR [--flows N] [--seed S]
writes DIR/c2s.pcap DIR/s2c.pcap DIR/small.pcap DIR/empty.pcap and prints key=value."""
import argparse
import random
import struct

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--flows", type=int, default=3000)
ap.add_argument("--seed", type=int, default=1)
args = ap.parse_args()
rnd = random.Random(args.seed)

MSS = 1460
WORDS = ("the of and to in is for on with as by at from this that be are was it an or which have not "
         "data server client request response content index page user search item cart order value "
         "network function stream packet flow chain switch policy metadata offset length header body "
         "json html div span class style script src href img alt title meta link width height").split()


def text(n):
    out = []
    size = 0
    while size < n:
        w = rnd.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out).encode()[:n]


BODIES = [b"<html><head><title>" + text(30) + b"</title></head><body>" + text(rnd.randint(800, 40000)) +
          b"</body></html>" for _ in range(64)]
PATHS = [b"/" + b"/".join(rnd.choice(WORDS).encode() for _ in range(rnd.randint(1, 4))) for _ in range(200)]


def request(i):
    return (b"GET " + rnd.choice(PATHS) + b"?id=%d&q=" % i + text(rnd.randint(5, 60)).replace(b" ", b"+") +
            b" HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
            b"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\n"
            b"Cookie: session=" + b"%032x" % rnd.getrandbits(128) + b"\r\nConnection: close\r\n\r\n")


def response():
    body = rnd.choice(BODIES)
    return (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0,
                     struct.pack("!I", src), struct.pack("!I", dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp + payload


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def connection(i):
    """[(to_server, frame)] of one connection"""
    c, s = 0x0a010000 + (i % 60000) + 1, 0x0a090001 + i % 4
    cp, sp = 10000 + (i * 7) % 50000, 80
    ci, si = rnd.getrandbits(32), rnd.getrandbits(32)
    req, resp = request(i), response()
    pk = [(True, frame(c, s, cp, sp, ci, 0, SYN)), (False, frame(s, c, sp, cp, si, ci + 1, SYN | ACK)),
          (True, frame(c, s, cp, sp, ci + 1, si + 1, ACK))]
    segs = [(True, frame(c, s, cp, sp, ci + 1, si + 1, PSH | ACK, req))]
    n = 0
    for off in range(0, len(resp), MSS):
        segs.append((False, frame(s, c, sp, cp, si + 1 + off, ci + 1 + len(req), ACK, resp[off:off + MSS])))
        n += 1
        if n % 2 == 0:
            segs.append((True, frame(c, s, cp, sp, ci + 1 + len(req), si + 1 + off + MSS, ACK)))
    # a little disorder: adjacent data segments swapped, a segment sent again later
    for k in range(1, len(segs) - 1):
        if rnd.random() < 0.03:
            segs[k], segs[k + 1] = segs[k + 1], segs[k]
    for k in range(1, len(segs)):
        if rnd.random() < 0.01:
            segs.insert(min(len(segs), k + 3), segs[k])
    pk += segs
    sa, ca = si + 1 + len(resp), ci + 1 + len(req)
    pk += [(False, frame(s, c, sp, cp, sa, ca, FIN | ACK)), (True, frame(c, s, cp, sp, ca, sa + 1, FIN | ACK)),
           (False, frame(s, c, sp, cp, sa + 1, ca + 1, ACK))]
    return pk


def pcap(path):
    f = open(path, "wb")
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    return f


def write(f, t_us, b):
    f.write(struct.pack("<IIII", 1 + t_us // 1000000, t_us % 1000000, len(b), len(b)) + b)


c2s, s2c = pcap(args.dir + "/c2s.pcap"), pcap(args.dir + "/s2c.pcap")
# up to 256 connections at once, their frames interleaved
active, nxt, t, frames, payload = [], 0, 0, 0, 0
while nxt < args.flows or active:
    while len(active) < 256 and nxt < args.flows:
        active.append(iter(connection(nxt)))
        nxt += 1
    k = rnd.randrange(len(active))
    try:
        to_server, b = next(active[k])
    except StopIteration:
        active.pop(k)
        continue
    t += 1
    frames += 1
    payload += len(b) - 54
    write(c2s if to_server else s2c, t, b)
c2s.close()
s2c.close()
pcap(args.dir + "/empty.pcap").close()
with pcap(args.dir + "/small.pcap") as f:
    seqs = [rnd.getrandbits(32) for _ in range(1000)]
    for i in range(200000):
        fl = i % 1000
        b = frame(0x0a010001 + fl % 250, 0x0a090164, 10000 + fl, 80, seqs[fl] + 6 * (i // 1000), 1, PSH | ACK,
                  b"e2e2e2")
        write(f, 1 + i, b)
print("trace_frames=%d" % frames)
print("trace_flows=%d" % args.flows)
print("trace_payload_bytes_per_frame=%.0f" % (payload / frames))
