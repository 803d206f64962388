#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2nf-nat on scapy-made traffic, offline (pcaps in, pcaps out). Port 0 is the inside.

Checks translation both ways with valid checksums, one mapping per inside address and
port, ICMP echo, unsolicited and expired inbound traffic dropped, port exhaustion, and
configuration errors with FILE:LINE."""
import os
import subprocess
import sys
import tempfile

from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap

NAT = sys.argv[1]
failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what)
    failures += 0 if cond else 1


def frame(src, dst, l4, t):
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst) / l4 / Raw(b"nat!" * 8)
    p.time = t
    return p


def checksums_ok(p):
    q = Ether(bytes(p))
    ip_sum, l4 = q[IP].chksum, q[IP].payload
    l4_sum = l4.chksum
    del q[IP].chksum
    del q[IP].payload.chksum
    r = Ether(bytes(q))
    return r[IP].chksum == ip_sum and r[IP].payload.chksum == l4_sum


CONF = """external 203.0.113.1
inside 10.0.0.0/8
ports 40000-40002      # three ports per protocol: exhaustion is reachable
timeout udp 10
"""

with tempfile.TemporaryDirectory() as d:
    conf = os.path.join(d, "nat.conf")
    open(conf, "w").write(CONF)
    inside = [
        frame("10.0.0.5", "198.51.100.7", TCP(sport=5555, dport=80, flags="S"), 1.0),
        frame("10.0.0.5", "198.51.100.8", TCP(sport=5555, dport=443, flags="S"), 1.1),  # same mapping
        frame("10.0.0.6", "198.51.100.7", UDP(sport=5353, dport=53), 1.2),
        frame("10.0.0.7", "198.51.100.7", ICMP(type=8, id=77, seq=1), 1.3),
        frame("192.168.1.1", "198.51.100.7", UDP(sport=1, dport=53), 1.4),             # not inside
        frame("10.0.0.8", "198.51.100.7", TCP(sport=1, dport=80), 1.5),
        frame("10.0.0.9", "198.51.100.7", TCP(sport=1, dport=80), 1.6),
        frame("10.0.0.10", "198.51.100.7", TCP(sport=1, dport=80), 1.7),               # no port left
        frame("10.0.0.6", "198.51.100.9", UDP(sport=5354, dport=53), 30.0),             # keeps the clock going
    ]
    outside = [
        frame("198.51.100.7", "203.0.113.1", TCP(sport=80, dport=40000, flags="SA"), 2.0),   # -> 10.0.0.5:5555
        frame("198.51.100.7", "203.0.113.1", UDP(sport=53, dport=40000), 2.1),               # -> 10.0.0.6:5353
        frame("198.51.100.7", "203.0.113.1", ICMP(type=0, id=40000, seq=1), 2.2),            # -> 10.0.0.7 id 77
        frame("198.51.100.7", "203.0.113.1", TCP(sport=80, dport=40002, flags="SA"), 2.3),   # no mapping yet? (used by .9)
        frame("198.51.100.7", "203.0.113.1", UDP(sport=53, dport=40001), 2.4),               # unsolicited
        frame("198.51.100.7", "203.0.113.1", UDP(sport=53, dport=40000), 25.0),              # after the 10 s udp timeout
    ]
    wrpcap(os.path.join(d, "in0.pcap"), inside)
    wrpcap(os.path.join(d, "in1.pcap"), outside)
    r = subprocess.run([NAT, "--config", conf, "--offline", d, "--port", os.path.join(d, "in0.pcap"),
                        "--port", os.path.join(d, "in1.pcap")], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "e2nf-nat ran offline (%s)" % r.stderr.strip())
    stats = dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)
    out = rdpcap(os.path.join(d, "out1.pcap"))
    seen = [(p[IP].src, p[IP].payload.sport if TCP in p or UDP in p else p[ICMP].id) for p in out]
    check(seen == [("203.0.113.1", 40000), ("203.0.113.1", 40000), ("203.0.113.1", 40000),
                   ("203.0.113.1", 40000), ("203.0.113.1", 40001), ("203.0.113.1", 40002),
                   ("203.0.113.1", 40000)],
          "outbound: one external port per inside address, port and protocol, lowest free first, an expired one reused: %s" % seen)
    check(all(checksums_ok(p) for p in out), "outbound checksums (IP, TCP, UDP, ICMP) are right")
    back = rdpcap(os.path.join(d, "out0.pcap"))
    got = [(p[IP].dst, p[IP].payload.dport if TCP in p or UDP in p else p[ICMP].id) for p in back]
    check(got == [("10.0.0.5", 5555), ("10.0.0.6", 5353), ("10.0.0.7", 77), ("10.0.0.9", 1)],
          "inbound: replies translated back, unsolicited and expired dropped: %s" % got)
    check(all(checksums_ok(p) for p in back), "inbound checksums are right")
    want = {"translated_out": "7", "translated_in": "4", "ports_exhausted": "1", "not_inside": "1",
            "inbound_no_mapping": "2", "rx_packets": "15", "tx_packets": "11", "drops": "4"}
    check(all(stats.get(k) == v for k, v in want.items()), "counters: %s" % {k: stats.get(k) for k in want})
    check(int(stats.get("mappings_expired", 0)) >= 1, "the idle UDP mapping expired (%s)" % stats.get("mappings_expired"))

    r = subprocess.run([NAT, "--config", conf, "--check"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "3 ports" in r.stdout, "--check: %s" % r.stdout.strip())
    r = subprocess.run([NAT, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "SYNOPSIS" in r.stdout and "COUNTERS" in r.stdout, "--help is a manual page")
    bad = {
        "ports 1-100\nexternal 1.2.3.4\n": ":1: ports=1: out of range",
        "external 1.2.3.4\n\ntimeout gre 5\n": ":3: timeout is for tcp, udp or icmp",
        "external 1.2.3\n": ":1: '1.2.3' is not an IPv4 address",
        "inside 10.0.0.0/40\nexternal 1.2.3.4\n": ":1: '10.0.0.0/40' is not an IPv4 network",
        "ports 30000-20000\nexternal 1.2.3.4\n": ":1: port range 30000-20000 is empty",
        "# nothing\n": ": no 'external ADDR' line",
        "external 1.2.3.4\nmasquerade yes\n": ":2: expected 'external ADDR'",
    }
    for text, want_err in bad.items():
        path = os.path.join(d, "bad.conf")
        open(path, "w").write(text)
        r = subprocess.run([NAT, "--config", path, "--check"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and (path + want_err) in r.stderr, "refused: %s" % r.stderr.strip())

sys.exit(1 if failures else 0)
