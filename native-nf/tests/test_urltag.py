#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2nf-httplog and e2nf-urlclass on scapy-made HTTP traffic, offline (libe2nf --offline).

httplog: requests logged (method, Host, target), the request's packet and the later ones
of its connection (both ways) tagged with url = host + path (cut to 92 bytes), a request
line split across segments counted and not logged, malformed requests counted, non-HTTP
traffic untouched. urlclass: categories from a file, each category out of its port with
tclass = 1 + its index; alone it parses the requests itself, behind httplog it uses the
url tag (its counters say which); bad category files refused with FILE:LINE."""
import os
import struct
import subprocess
import sys
import tempfile

from scapy.all import IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap

HTTPLOG, URLCLASS = sys.argv[1], sys.argv[2]
failures = 0
CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
URL_TYPE, TCLASS_TYPE = 2, 3


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what)
    failures += 0 if cond else 1


def nsh(frame):
    """(TLVs {type: value}, inner frame bytes) of an NSH frame; ({}, frame) otherwise."""
    b = bytes(frame)
    if b[12:14] != b"\x89\x4f":
        return {}, b
    h = b[14:]
    length = (h[1] & 0x3F) * 4
    tlvs, off = {}, 8
    while off < length:
        cls, typ, ln = struct.unpack("!HBB", h[off:off + 4])
        ln &= 0x7F
        assert cls == 0xFFF6
        tlvs[typ] = h[off + 4:off + 4 + ln]
        off += 4 + ((ln + 3) & ~3)
    return tlvs, h[length:]


def read(path):
    return rdpcap(path) if os.path.exists(path) and os.path.getsize(path) > 24 else []


def sport(p):
    return p[TCP].sport if TCP in p else p[UDP].sport


def seg(src, sport, dst, dport, t, flags="PA", payload=b"", udp=False):
    client = dport in (80, 8080, 443)
    e = Ether(src=CLIENT_MAC if client else SERVER_MAC, dst=SERVER_MAC if client else CLIENT_MAC)
    l4 = UDP(sport=sport, dport=dport) if udp else TCP(sport=sport, dport=dport, flags=flags, seq=1000, ack=1)
    p = e / IP(src=src, dst=dst) / l4
    if payload:
        p = p / Raw(payload)
    p.time = t
    return p


C, S = "10.0.0.1", "10.0.0.2"
LONG_PATH = "/" + "p" * 150
REQ_A = b"GET /index.html?x=1 HTTP/1.1\r\nHost: WWW.News.Example:80\r\nAccept: */*\r\n\r\n"
to_server = [
    seg(C, 40000, S, 80, 1.0, "S"),                                  # A: SYN, before any request
    seg(C, 40000, S, 80, 1.2, payload=REQ_A),                        # A: the request
    seg(C, 40000, S, 80, 1.4, "A"),                                  # A: a later ACK
    seg(C, 40001, S, 80, 2.0, payload=b"GET /very/lo"),               # B: request line split
    seg(C, 40001, S, 80, 2.1, payload=b"ng/path HTTP/1.1\r\nHost: split.test\r\n\r\n"),
    seg(C, 40002, S, 8080, 3.0, payload=b"POST /form HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi"),  # C: no Host
    seg(C, 40003, S, 443, 4.0, payload=b"GET /tls HTTP/1.1\r\nHost: not.http\r\n\r\n"),  # D: not an HTTP port
    seg(C, 40004, S, 80, 5.0, payload=b"GET / HTTP/9.9\r\nHost: bad.test\r\n\r\n"),     # E: malformed
    seg(C, 40005, S, 80, 6.0, payload=("GET %s HTTP/1.1\r\nHost: video.example.com\r\n\r\n" % LONG_PATH).encode()),
    seg(C, 5353, S, 80, 7.0, payload=b"GET /udp HTTP/1.1\r\n\r\n", udp=True),           # UDP: ignored
    seg(C, 40006, S, 80, 8.0, payload=b"GET /shop/cart HTTP/1.1\r\nHost: www.shop.test\r\n\r\n"),
    seg(C, 40006, S, 80, 8.5, "R"),                                  # F: reset: forgotten after this one
    seg(C, 40006, S, 80, 8.6, "A"),
]
to_client = [
    seg(S, 80, C, 40000, 1.1, "SA"),                                 # A: before the request: no tag
    seg(S, 80, C, 40000, 1.3, payload=b"HTTP/1.1 200 OK\r\n\r\n"),    # A: the answer: tagged
    seg(S, 8080, C, 40002, 3.1, payload=b"HTTP/1.0 200 OK\r\n\r\n"),
]
URL_A = "www.news.example/index.html?x=1"
URL_LONG = ("video.example.com" + LONG_PATH)[:92]
CATS = """# categories of the test
news   .news.example
video  video.example.com/p          # a host + path prefix
shop   www.shop.test
video  .tube.test
"""

with tempfile.TemporaryDirectory() as d:
    p0, p1 = os.path.join(d, "in0.pcap"), os.path.join(d, "in1.pcap")
    wrpcap(p0, to_server)
    wrpcap(p1, to_client)
    empty = os.path.join(d, "empty.pcap")
    wrpcap(empty, [], linktype=1)
    log = os.path.join(d, "http.log")
    hd = os.path.join(d, "httplog")
    os.mkdir(hd)
    r = subprocess.run([HTTPLOG, "--offline", hd, "--log", log, "--port", p0, "--port", p1],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "e2nf-httplog ran offline (%s)" % r.stderr.strip())
    st = dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)
    lines = open(log).read().splitlines()
    fields = [l.split(" ", 1)[1] for l in lines]
    check(fields == ["10.0.0.1:40000 > 10.0.0.2:80 GET WWW.News.Example:80 /index.html?x=1",
                     "10.0.0.1:40002 > 10.0.0.2:8080 POST - /form",
                     "10.0.0.1:40005 > 10.0.0.2:80 GET video.example.com " + LONG_PATH,
                     "10.0.0.1:40006 > 10.0.0.2:80 GET www.shop.test /shop/cart"],
          "one log line per request, the split, malformed and non-HTTP ones not: %s" % fields)
    check(lines and lines[0].startswith("1.200000 "), "log time is the capture's: %s" % lines[:1])
    out1, out0 = read(os.path.join(hd, "out1.pcap")), read(os.path.join(hd, "out0.pcap"))
    check(len(out1) == len(to_server) and len(out0) == len(to_client), "every frame passes both ways")
    urls1 = [nsh(p)[0].get(URL_TYPE, b"").decode() for p in out1]
    check(urls1 == ["", URL_A, URL_A, "", "", "/form", "", "", URL_LONG, "", "www.shop.test/shop/cart",
                    "www.shop.test/shop/cart", ""],
          "client -> server: url on the request and the later packets of its connection, cut to 92 "
          "bytes, none after a reset: %s" % urls1)
    urls0 = [nsh(p)[0].get(URL_TYPE, b"").decode() for p in out0]
    check(urls0 == ["", URL_A, "/form"], "server -> client: the answer carries its request's url: %s" % urls0)
    check(all(nsh(o)[1] == bytes(i) for o, i in zip(out1, to_server)) and
          all(nsh(o)[1] == bytes(i) for o, i in zip(out0, to_client)), "inner frames unchanged byte for byte")
    want = {"requests": "4", "split_requests": "1", "malformed_requests": "1", "tagged_packets": "8",
            "untaggable": "0", "rx_packets": str(len(to_server) + len(to_client)),
            "tx_packets": str(len(to_server) + len(to_client)), "log_errors": "0"}
    check(all(st.get(k) == v for k, v in want.items()), "httplog counters: %s" % {k: st.get(k) for k in want})

    # --no-tag: logs, tags nothing
    nd = os.path.join(d, "notag")
    os.mkdir(nd)
    r = subprocess.run([HTTPLOG, "--no-tag", "--offline", nd, "--port", p0, "--port", p1],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and r.stdout.count(" GET ") == 3 and "tagged_packets=0" in r.stdout and
          all(not nsh(p)[0] for p in read(os.path.join(nd, "out1.pcap"))),
          "--no-tag: the requests logged to stdout, no frame tagged")

    cats = os.path.join(d, "cats.conf")
    open(cats, "w").write(CATS)

    def urlclass(name, inputs):
        od = os.path.join(d, name)
        os.mkdir(od)
        r = subprocess.run([URLCLASS, "--categories", cats, "--out", "news=2", "--out", "video=3",
                            "--offline", od, "--port", inputs, "--port", empty, "--port", empty, "--port", empty],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "e2nf-urlclass ran offline on %s (%s)" % (name, r.stderr.strip()))
        st = dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)
        outs = [[(sport(Ether(nsh(p)[1])), nsh(p)[0].get(TCLASS_TYPE)) for p in
                 read(os.path.join(od, "out%d.pcap" % i))] for i in range(4)]
        return st, outs

    tc = lambda n: struct.pack("!H", n)
    want_outs = [[], [(40000, None), (40001, None), (40001, None), (40002, None), (40003, None),
                      (40004, None), (5353, None), (40006, tc(3)), (40006, tc(3)), (40006, None)],
                 [(40000, tc(1)), (40000, tc(1))], [(40005, tc(2))]]
    st, outs = urlclass("alone", p0)
    check(outs == want_outs, "alone: each category out of its port with tclass = 1 + index: %s" % outs)
    want = {"parsed": "4", "tag_used": "0", "from_flow": "2", "split_requests": "1", "malformed_requests": "1",
            "cat_news_packets": "2", "cat_video_packets": "1", "cat_shop_packets": "2",
            "cat_uncategorized_packets": "8"}
    check(all(st.get(k) == v for k, v in want.items()), "alone: parsed the requests itself: %s" %
          {k: st.get(k) for k in want})
    st, outs = urlclass("tagged", os.path.join(hd, "out1.pcap"))
    check(outs == want_outs, "behind httplog: the same decisions: %s" % outs)
    want = {"tag_used": "6", "parsed": "0", "from_flow": "0", "cat_news_packets": "2", "cat_uncategorized_packets": "8"}
    check(all(st.get(k) == v for k, v in want.items()),
          "behind httplog: the url tag used, nothing parsed again: %s" % {k: st.get(k) for k in want})

    # --check and refusals
    r = subprocess.run([URLCLASS, "--categories", cats, "--check"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.strip() == cats + ": 4 rules, 3 categories", "--check: " + r.stdout.strip())
    for text, want in [("news .a.b\nnews\n", ":2: expected 'CATEGORY PATTERN'"),
                       ("# c\nx a.b:8080\n", ":2: 'a.b:8080': no port"),
                       ("\n\nuncategorized a\n", ":3: 'uncategorized' is reserved"),
                       ("x a/" + "q" * 100 + "\n", ":1: pattern of 102 bytes"), ("", ": no rules")]:
        open(cats, "w").write(text)
        r = subprocess.run([URLCLASS, "--categories", cats, "--check"], capture_output=True, text=True)
        check(r.returncode == 2 and (cats + want) in r.stderr, "refused: %s" % r.stderr.strip())
    open(cats, "w").write(CATS)
    r = subprocess.run([URLCLASS, "--categories", cats, "--check", "--out", "sport=1"], capture_output=True, text=True)
    check(r.returncode == 2 and "has no category 'sport'" in r.stderr, "--out of an unknown category: " + r.stderr.strip())
    r = subprocess.run([URLCLASS, "--categories", cats, "--out", "news=5", "--port", "a", "--port", "b"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "only 2 --port" in r.stderr, "--out past the ports: " + r.stderr.strip())
    r = subprocess.run([URLCLASS, "--categories", os.path.join(d, "none")], capture_output=True, text=True)
    check(r.returncode == 2 and "none" in r.stderr, "a missing file: " + r.stderr.strip())
    for nf in (HTTPLOG, URLCLASS):
        r = subprocess.run([nf, "--help"], capture_output=True, text=True)
        check(r.returncode == 0 and "DESCRIPTION" in r.stdout, os.path.basename(nf) + " --help")
    r = subprocess.run([HTTPLOG, "--http-port", "0"], capture_output=True, text=True)
    check(r.returncode == 2 and "--http-port" in r.stderr, "httplog refuses port 0: " + r.stderr.strip())
    r = subprocess.run([HTTPLOG, "--http-port", "81", "--check"], capture_output=True, text=True)
    check(r.returncode == 0, "httplog --check: " + r.stdout.strip())

sys.exit(1 if failures else 0)
