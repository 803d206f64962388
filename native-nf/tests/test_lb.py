#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2nf-lb on scapy-made traffic, offline (pcaps in, pcaps out; backend changes from a
control script at set capture times). Port 0 faces clients, port 1 backends.

Checks: flows spread over the backends; a flow keeps its backend when another backend is
added or removed; removing its own backend moves it; with one more backend the
consistent-hash table moves about a quarter of new flows, all to the new backend;
replies leave as the VIP with right checksums; configuration errors say FILE:LINE."""
import collections
import os
import subprocess
import sys
import tempfile

from scapy.all import IP, TCP, Ether, Raw, rdpcap, wrpcap

LB = sys.argv[1]
failures = 0
VIP = "10.9.9.9"
BACKENDS = {"10.0.0.1": "b1", "10.0.0.2": "b2", "10.0.0.3": "b3", "10.0.0.4": "b4"}


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what)
    failures += 0 if cond else 1


def syn(client, sport, t, flags="S"):
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=client, dst=VIP) / \
        TCP(sport=sport, dport=80, flags=flags) / Raw(b"lb" * 4)
    p.time = t
    return p


def run(d, conf_text, inside, outside=(), control=""):
    conf = os.path.join(d, "lb.conf")
    open(conf, "w").write(conf_text)
    wrpcap(os.path.join(d, "in0.pcap"), list(inside))
    wrpcap(os.path.join(d, "in1.pcap"), list(outside) or [syn("192.0.2.250", 1, 0.0)])
    ctl = os.path.join(d, "control")
    if os.path.exists(ctl):
        os.unlink(ctl)
    if control:
        open(ctl, "w").write(control)
    r = subprocess.run([LB, "--config", conf, "--offline", d, "--port", os.path.join(d, "in0.pcap"),
                        "--port", os.path.join(d, "in1.pcap")], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "e2nf-lb ran offline (%s)" % r.stderr.strip())
    return dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)


def backends_of(pcap):
    """(client, sport) -> list of backends, in order, of what went to the backends"""
    seen = collections.defaultdict(list)
    for p in rdpcap(pcap):
        if IP in p and p[IP].dst in BACKENDS:
            seen[(p[IP].src, p[TCP].sport)].append(BACKENDS[p[IP].dst])
    return seen


THREE = "vip 10.9.9.9 tcp 80\nbackend b1 10.0.0.1\nbackend b2 10.0.0.2\nbackend b3 10.0.0.3\n"

with tempfile.TemporaryDirectory() as d:
    first = [syn("198.51.100.%d" % (1 + i % 200), 10000 + i, 1.0 + i * 1e-4) for i in range(300)]
    again = [syn(p[IP].src, p[TCP].sport, 3.0 + i * 1e-4, "A") for i, p in enumerate(first)]
    fresh = [syn("203.0.113.%d" % (1 + i % 200), 20000 + i, 4.0 + i * 1e-4) for i in range(400)]
    third = [syn(p[IP].src, p[TCP].sport, 6.0 + i * 1e-4, "A") for i, p in enumerate(first)]
    reply = Ether() / IP(src="10.0.0.1", dst="198.51.100.1") / TCP(sport=80, dport=10000, flags="SA")
    reply.time = 1.5
    stats = run(d, THREE, first + again + fresh + third, [reply],
                "2.0 backend add b4 10.0.0.4\n5.0 backend del b2\n5.5 backends\n")
    seen = backends_of(os.path.join(d, "out1.pcap"))
    firsts = collections.Counter(v[0] for k, v in seen.items() if k[1] < 20000)
    check(len(firsts) == 3 and min(firsts.values()) >= 60, "300 flows spread over 3 backends: %s" % dict(firsts))
    kept = all(v[1] == v[0] for k, v in seen.items() if k[1] < 20000)
    check(kept, "after adding b4, every existing flow kept its backend")
    fresh_b = collections.Counter(v[0] for k, v in seen.items() if k[1] >= 20000)
    check(40 <= fresh_b.get("b4", 0) <= 160, "new flows reach the added backend b4: %s" % dict(fresh_b))
    moved_right = all((v[2] == v[0]) if v[0] != "b2" else (v[2] != "b2") for k, v in seen.items() if k[1] < 20000)
    check(moved_right, "after removing b2, only b2's flows moved (to other backends)")
    check(stats.get("flows_moved") == str(firsts["b2"]), "flows_moved=%s = b2's flows %d" % (stats.get("flows_moved"), firsts["b2"]))
    back = rdpcap(os.path.join(d, "out0.pcap"))
    check(len(back) == 1 and back[0][IP].src == VIP and back[0][TCP].sport == 80, "a backend's reply leaves as the VIP")
    q = Ether(bytes(back[0]))
    sums = (q[IP].chksum, q[TCP].chksum)
    del q[IP].chksum
    del q[TCP].chksum
    r = Ether(bytes(q))
    check((r[IP].chksum, r[TCP].chksum) == sums, "its IP and TCP checksums are right")
    out = open(os.path.join(d, "control.out")).read()
    check("backend b4 added" in out and "b2 10.0.0.2 removed" in out, "control replies: %s" % out.replace("\n", " | "))

    # the consistent-hash table alone: 2000 new flows with 3 and with 4 backends
    flows = [syn("192.0.2.%d" % (1 + i % 250), 30000 + i, 1.0 + i * 1e-4) for i in range(2000)]
    run(d, THREE, flows)
    with3 = {k: v[0] for k, v in backends_of(os.path.join(d, "out1.pcap")).items()}
    run(d, THREE + "backend b4 10.0.0.4\n", flows)
    with4 = {k: v[0] for k, v in backends_of(os.path.join(d, "out1.pcap")).items()}
    changed = [k for k in with3 if with3[k] != with4[k]]
    to_b4 = sum(1 for k in changed if with4[k] == "b4")
    check(len(with3) == 2000 and 300 <= len(changed) <= 700 and len(changed) - to_b4 <= 60,
          "one more backend: %d of 2000 flows move, %d of them to the new one" % (len(changed), to_b4))

    r = subprocess.run([LB, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "SYNOPSIS" in r.stdout and "CONTROL" in r.stdout, "--help is a manual page")
    bad = {
        "vip 10.9.9.9 tcp 80\nbackend b1 10.0.0.256\n": ":2: backend b1: '10.0.0.256' is not an IPv4 address",
        "vip 10.9.9.9 sctp 80\n": ":1: the VIP's protocol is tcp or udp",
        "vip 10.9.9.9 tcp 0\n": ":1: port=0: out of range",
        "backend b1 10.0.0.1\n": ": no 'vip ADDR tcp|udp PORT' line",
        "vip 10.9.9.9 tcp 80\nbackend b1 10.0.0.1\nbackend b1 10.0.0.2\n": ":3: backend b1 exists already",
        "vip 10.9.9.9 tcp 80\nweight b1 3\n": ":2: expected 'vip ADDR tcp|udp PORT'",
    }
    for text, want_err in bad.items():
        path = os.path.join(d, "bad.conf")
        open(path, "w").write(text)
        r = subprocess.run([LB, "--config", path, "--check"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and (path + want_err) in r.stderr, "refused: %s" % r.stderr.strip())

sys.exit(1 if failures else 0)
