#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2nf-meter offline (pcaps in, pcaps out; the meters run on the capture's clock, so the
colours are exact): a burst above a class's rate gets green up to CBS, yellow up to EBS
(srTCM) and red beyond, and the buckets fill again with time; a per-flow trTCM class
meters each flow on its own; yellow frames get their DSCP rewritten with a valid
checksum or a metadata tag; red ones are dropped; other traffic passes; bad
configurations are refused with FILE:LINE."""
import os
import subprocess
import sys
import tempfile

from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap

METER = sys.argv[1]
failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what)
    failures += 0 if cond else 1


def frame(dst, l4, size, t, tos=0):
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.1.5", dst=dst, tos=tos) / l4
    p = p / Raw(b"m" * (size - len(p)))
    p.time = t
    return p


CONF = """# 800 kbit/s = 100 kB/s
class bulk proto=udp to=10.0.3.0/24 meter=srtcm cir=800k cbs=10000 ebs=10000 yellow=dscp:10 red=drop
class flows proto=tcp meter=trtcm cir=800k pir=1.6M cbs=3000 pbs=6000 per-flow=yes flows=64 idle=2 yellow=tag:t40:slow
"""

with tempfile.TemporaryDirectory() as d:
    conf = os.path.join(d, "meter.conf")
    open(conf, "w").write(CONF)
    r = subprocess.run([METER, "--config", conf, "--check"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "class bulk proto=17" in r.stdout, "--check prints the canonical form")
    canon = os.path.join(d, "canon.conf")
    open(canon, "w").write(r.stdout)
    r2 = subprocess.run([METER, "--config", canon, "--check"], capture_output=True, text=True, timeout=30)
    check(r2.returncode == 0 and r2.stdout == r.stdout, "the canonical form parses to itself")

    burst = [frame("10.0.3.9", UDP(sport=7, dport=9), 1000, 1.0 + i * 1e-6, tos=1) for i in range(100)]
    later = [frame("10.0.3.9", UDP(sport=7, dport=9), 1000, 2.0 + i * 1e-6) for i in range(30)]
    tcp = [frame("10.0.4.%d" % (1 + i % 2), TCP(sport=1000 + i % 2, dport=80), 1000, 1.5 + i * 1e-6) for i in range(20)]
    icmp = [frame("10.0.9.9", ICMP(), 100, 1.6)]
    tcp_late = [frame("10.0.4.1", TCP(sport=1000, dport=80), 1000, 10.0)]  # after both flows expired
    back = [frame("10.0.3.9", UDP(sport=9, dport=7), 1000, 3.0 + i * 1e-6) for i in range(15)]  # on port 1
    wrpcap(os.path.join(d, "in0.pcap"), burst + tcp + icmp + later + tcp_late)
    wrpcap(os.path.join(d, "in1.pcap"), back)
    r = subprocess.run([METER, "--config", conf, "--offline", d, "--port", os.path.join(d, "in0.pcap"),
                        "--port", os.path.join(d, "in1.pcap")], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "e2nf-meter ran offline (%s)" % r.stderr.strip()[-200:])
    s = dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)
    # burst: 10 green, 10 yellow, 80 red; 1 s later both buckets are full again (100 kB of
    # tokens > 20 kB of buckets): 10 green, 10 yellow, 10 red; the reverse 15 after 1 s more:
    # 10 green, 5 yellow
    check((s.get("class_bulk_green_packets"), s.get("class_bulk_yellow_packets"), s.get("class_bulk_red_packets")) ==
          ("30", "25", "90"), "srTCM colours: green %s yellow %s red %s (want 30 25 90)" % (
              s.get("class_bulk_green_packets"), s.get("class_bulk_yellow_packets"), s.get("class_bulk_red_packets")))
    check(s.get("class_bulk_dropped") == "90" and s.get("class_bulk_green_bytes") == "30000", "red dropped, bytes counted")
    out1 = rdpcap(os.path.join(d, "out1.pcap"))
    udp_out = [p for p in out1 if UDP in p]
    dscps = [p[IP].tos for p in udp_out]
    check(dscps == [1] * 10 + [41] * 10 + [0] * 10 + [40] * 10,
          "green untouched, yellow DSCP 10 (ECN bits kept): %s" % dscps)
    def ip_sum_ok(p):
        q = IP(bytes(p[IP]))
        want = q.chksum
        del q.chksum
        return IP(bytes(q)).chksum == want
    ok_sums = len(udp_out) == 40 and all(ip_sum_ok(p) for p in udp_out)
    check(ok_sums, "rewritten IPv4 checksums are valid")
    # per flow trTCM: each flow 3 green, 3 yellow (tagged), 4 red; both, idle for 2 s, are
    # forgotten, and the late packet starts a fresh meter (green)
    got = tuple(s.get("class_flows_" + k) for k in ("green_packets", "yellow_packets", "red_packets", "flows", "flows_expired"))
    check(got == ("7", "6", "8", "1", "2"),
          "per-flow trTCM: each of 2 flows 3 green, 3 yellow, 4 red; both expired; a new one green: %s" % (got,))
    raw1 = [bytes(p) for p in out1]
    tagged = [b for b in raw1 if b[12:14] == b"\x89\x4f"]
    check(len(tagged) == 6 and all(b"slow" in b for b in tagged), "yellow TCP frames carry NSH with t40=slow (%d)" % len(tagged))
    check(s.get("unclassified_passed") == "1" and any(ICMP in p for p in out1), "unclassified ICMP passed")
    out0 = rdpcap(os.path.join(d, "out0.pcap"))
    check(len(out0) == 15 and [p[IP].tos for p in out0] == [0] * 10 + [40] * 5, "port 1 -> port 0 metered too")

    bad = [
        ("class x meter=srtcm cir=1M cbs=1000\n", ":1: class x needs ebs=BYTES"),
        ("\nclass y meter=trtcm cir=2M pir=1M cbs=1k pbs=1k\n", ":2: pir (1000000) is below cir"),
        ("class z meter=srtcm cir=1M cbs=1k ebs=1k red=explode\n", ":1: red: an action is pass, drop"),
        ("class z meter=srtcm cir=1M cbs=1k ebs=1k yellow=tag:nope:1\n", ":1: yellow: unknown attribute"),
        ("class z meter=srtcm cir=1M cbs=1k ebs=1k yellow=dscp:64\n", ":1: yellow: dscp"),
        ("class z to=10.0.0.0/33 meter=srtcm cir=1M cbs=1k ebs=1k\n", ":1: to: '10.0.0.0/33'"),
        ("class z meter=srtcm cir=1M cbs=1k ebs=1k\nclass z meter=srtcm cir=1M cbs=1k ebs=1k\n", ":2: class z is already defined on line 1"),
        ("class z meter=srtcm cir=1M cbs=1k ebs=1k flows=10\n", ":1: flows= is for per-flow=yes"),
        ("class z meter=srtcm cir=1M cbs=1k ebs=1k idle=5\n", ":1: idle= is for per-flow=yes"),
        ("class z meter=srtcm cir=1M cbs=1k ebs=1k per-flow=yes idle=0.5\n", ":1: idle=0.5"),
        ("shape everything\n", ":1: expected 'class NAME"),
        ("default pass\n", "no 'class' line"),
    ]
    for i, (text, want) in enumerate(bad):
        p = os.path.join(d, "bad%d.conf" % i)
        open(p, "w").write(text)
        r = subprocess.run([METER, "--config", p, "--check"], capture_output=True, text=True, timeout=30)
        check(r.returncode != 0 and want in r.stderr and ("bad%d.conf" % i) in r.stderr, "refused: %s" % r.stderr.strip())
    r = subprocess.run([METER, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "srtcm" in r.stdout, "--help is a manual")

print("%d failed" % failures)
sys.exit(1 if failures else 0)
