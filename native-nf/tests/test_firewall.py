#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2nf-firewall on scapy-made traffic, offline (libe2nf --offline: pcaps in, pcaps out).

Port 0 is the inside, port 1 the outside. Checks first-match rules, the default,
tracked replies, non-IP frames, flow expiry on the capture's clock, the counters, and
that bad rule files are refused with FILE:LINE."""
import os
import subprocess
import sys
import tempfile

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap

FW = sys.argv[1]
failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what)
    failures += 0 if cond else 1


def frame(src, dst, l4, t):
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst) / l4 / Raw(b"e2" * 10)
    p.time = t
    return p


RULES = """# inside hosts may reach the web server and DNS
default drop
non-ip allow
drop  tcp  from 10.1.0.66 to any                 # one host is barred, first match wins
allow tcp  from 10.1.0.0/24 to 192.0.2.10 port 80
allow udp  from 10.1.0.0/24 to any port 53
allow icmp from 10.1.0.1 to any
"""

with tempfile.TemporaryDirectory() as d:
    rules = os.path.join(d, "fw.rules")
    open(rules, "w").write(RULES)
    inside = [
        frame("10.1.0.5", "192.0.2.10", TCP(sport=40000, dport=80, flags="S"), 1.0),    # allowed (rule 2)
        frame("10.1.0.66", "192.0.2.10", TCP(sport=40001, dport=80, flags="S"), 1.1),   # dropped (rule 1)
        frame("10.1.0.5", "192.0.2.10", TCP(sport=40002, dport=22, flags="S"), 1.2),    # dropped (default)
        frame("10.1.0.5", "198.51.100.1", UDP(sport=5353, dport=53), 1.3),              # allowed (rule 3)
        frame("10.1.0.1", "198.51.100.1", ICMP(), 1.4),                                 # allowed (rule 4)
        frame("10.1.0.2", "198.51.100.1", ICMP(), 1.5),                                 # dropped (default)
    ]
    arp = Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.1.0.5", pdst="10.1.0.1")
    arp.time = 1.6
    inside.append(arp)                                                                   # non-ip: allowed
    outside = [
        frame("192.0.2.10", "10.1.0.5", TCP(sport=80, dport=40000, flags="SA"), 2.0),    # reply: tracked
        frame("192.0.2.10", "10.1.0.5", TCP(sport=80, dport=40002, flags="SA"), 2.1),    # no flow: default drop
        frame("192.0.2.10", "10.1.0.5", TCP(sport=80, dport=40000, flags="A"), 200.0),   # after 120 s idle: expired
    ]
    # a second at 199 s on the inside keeps the timer running up to the late reply
    late = frame("10.1.0.5", "198.51.100.9", UDP(sport=5354, dport=53), 199.0)
    inside.append(late)
    wrpcap(os.path.join(d, "in0.pcap"), inside)
    wrpcap(os.path.join(d, "in1.pcap"), outside)
    r = subprocess.run([FW, "--rules", rules, "--offline", d, "--port", os.path.join(d, "in0.pcap"),
                        "--port", os.path.join(d, "in1.pcap")], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "e2nf-firewall ran offline (%s)" % r.stderr.strip())
    stats = dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)
    out1 = rdpcap(os.path.join(d, "out1.pcap"))   # what went outside: from the inside
    out0 = rdpcap(os.path.join(d, "out0.pcap"))   # what went inside: from the outside
    sent_out = [(p[IP].src, p[IP].dst, p[IP].proto) if IP in p else "arp" for p in out1]
    check(sent_out == [("10.1.0.5", "192.0.2.10", 6), ("10.1.0.5", "198.51.100.1", 17),
                       ("10.1.0.1", "198.51.100.1", 1), "arp", ("10.1.0.5", "198.51.100.9", 17)],
          "inside -> outside: the allowed flows and ARP pass, in order: %s" % sent_out)
    check([bytes(p) for p in out1[:1]] == [bytes(inside[0])], "frames pass byte for byte")
    check(len(out0) == 1 and out0[0][TCP].dport == 40000, "outside -> inside: only the tracked reply passes")
    want = {"allowed_new": "4", "allowed_tracked": "1", "dropped_rule": "1", "dropped_default": "4",
            "non_ip": "1", "rule_line4_hits": "1", "rule_line5_hits": "1", "rule_line6_hits": "2",
            "rule_line7_hits": "1", "rx_packets": "11", "tx_packets": "6"}
    check(all(stats.get(k) == v for k, v in want.items()),
          "counters: %s" % {k: stats.get(k) for k in want})
    check(int(stats.get("flows_expired", "0")) >= 1, "the idle flow expired on the capture's clock")
    check("cycles_per_packet" in stats, "cycles per packet are reported (%s)" % stats.get("cycles_per_packet"))

    r = subprocess.run([FW, "--rules", rules, "--check"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "4 rules" in r.stdout, "--check: %s" % r.stdout.strip())
    r = subprocess.run([FW, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "SYNOPSIS" in r.stdout and "COUNTERS" in r.stdout, "--help is a manual page")

    bad = {
        "allow tcp from 10.1.0.0/24 to any port 80\nallow tcp from 10.1.0.300 to any\n": ":2: '10.1.0.300' is not an IPv4 address",
        "\n\nallow icmp from any port 3 to any\n": ":3: ports only go with tcp, udp or sctp",
        "default maybe\n": ":1: 'default' takes one action",
        "allow gre from any to any\n": ":1: unknown protocol 'gre'",
        "allow tcp from any to any port 90-80\n": ":1: port range 90-80 is empty",
        "allow tcp from 2001:db8::1 to any\n": ":1: 2001:db8::1: IPv6 rules are not supported",
        "allow tcp to any\n": ":1: expected 'from'",
        "allow tcp from any to any extra\n": ":1: unexpected 'extra'",
        "allow tcp from any to 10.0.0.0/33\n": ":1: prefix length",
    }
    for text, want_err in bad.items():
        path = os.path.join(d, "bad.rules")
        open(path, "w").write(text)
        r = subprocess.run([FW, "--rules", path, "--check"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and (path + want_err) in r.stderr, "refused: %s" % r.stderr.strip())

    # Against an independent first-match matcher: random rules, random new flows (a fixed
    # seed, so a failure replays)
    import ipaddress
    import random
    rnd = random.Random(7)
    protos = {"tcp": 6, "udp": 17, "icmp": 1, "any": None}

    def rnd_net():
        if rnd.random() < 0.2:
            return "any", None
        plen = rnd.choice([8, 16, 24, 28, 32])
        net = ipaddress.ip_network("10.%d.%d.%d/%d" % (rnd.randrange(4), rnd.randrange(4), rnd.randrange(256), plen),
                                   strict=False)
        return str(net), net

    def rnd_ports():
        if rnd.random() < 0.4:
            return "any", (0, 65535)
        lo = rnd.randrange(0, 2000)
        hi = lo if rnd.random() < 0.5 else lo + rnd.randrange(0, 500)
        return ("%d" % lo if lo == hi else "%d-%d" % (lo, hi)), (lo, hi)

    rules, text = [], ["default %s" % rnd.choice(["allow", "drop"]), "non-ip allow"]
    for _ in range(60):
        act = rnd.choice(["allow", "drop"])
        pname = rnd.choice(list(protos))
        (s_txt, s_net), (d_txt, d_net) = rnd_net(), rnd_net()
        line = "%s %s from %s" % (act, pname, s_txt)
        sp = dp = (0, 65535)
        if pname in ("tcp", "udp") and rnd.random() < 0.6:
            sp_txt, sp = rnd_ports()
            line += " port " + sp_txt
        line += " to " + d_txt
        if pname in ("tcp", "udp") and rnd.random() < 0.7:
            dp_txt, dp = rnd_ports()
            line += " port " + dp_txt
        text.append(line)
        rules.append((act, protos[pname], s_net, d_net, sp, dp))
    default = text[0].split()[1]

    def decide(proto, src, dst, sport, dport):
        for act, p, s_net, d_net, sp, dp in rules:
            if p is not None and p != proto:
                continue
            if s_net is not None and ipaddress.ip_address(src) not in s_net:
                continue
            if d_net is not None and ipaddress.ip_address(dst) not in d_net:
                continue
            if proto in (6, 17) and not (sp[0] <= sport <= sp[1] and dp[0] <= dport <= dp[1]):
                continue
            if proto not in (6, 17) and (sp != (0, 65535) or dp != (0, 65535)):
                continue
            return act
        return default

    open(rules_path := os.path.join(d, "random.rules"), "w").write("\n".join(text) + "\n")
    pkts, want_out, seen = [], [], set()
    for i in range(3000):
        proto = rnd.choice([6, 17, 1])
        # addresses near the rules' networks, so that prefixes' edges are met
        src = "10.%d.%d.%d" % (rnd.randrange(4), rnd.randrange(4), rnd.randrange(256))
        dst = "10.%d.%d.%d" % (rnd.randrange(4), rnd.randrange(4), rnd.randrange(256))
        sport, dport = (rnd.randrange(0, 2600), rnd.randrange(0, 2600)) if proto != 1 else (0, 0)
        key = (proto, frozenset([(src, sport), (dst, dport)]))
        if key in seen:
            continue
        seen.add(key)
        l4 = TCP(sport=sport, dport=dport) if proto == 6 else UDP(sport=sport, dport=dport) if proto == 17 else ICMP()
        p = frame(src, dst, l4, 1.0 + i * 1e-4)
        p[IP].id = i  # which frame it is, whatever its protocol
        pkts.append(p)
        if decide(proto, src, dst, sport, dport) == "allow":
            want_out.append(i)
    wrpcap(os.path.join(d, "in0.pcap"), pkts)
    wrpcap(os.path.join(d, "in1.pcap"), [frame("192.0.2.1", "192.0.2.2", UDP(), 0.5)])
    r = subprocess.run([FW, "--rules", rules_path, "--offline", d, "--port", os.path.join(d, "in0.pcap"),
                        "--port", os.path.join(d, "in1.pcap")], capture_output=True, text=True, timeout=120)
    got = [p[IP].id for p in rdpcap(os.path.join(d, "out1.pcap"))]
    check(r.returncode == 0 and got == want_out,
          "60 random rules, %d random flows: the verdicts are first-match's (%d allowed; %d differ)" %
          (len(pkts), len(want_out), len(set(got) ^ set(want_out))))

sys.exit(1 if failures else 0)
