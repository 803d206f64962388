#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The Embark middleboxes offline (libe2nf --offline), on scapy-made plaintext traffic and
on what the gateway makes of it (embark-mb-prep gw: embark-gw's core, extension records
as frames). Each middlebox's decisions on the encrypted capture must equal those on the
plaintext capture: the encrypted outputs, decrypted by the gateway (embark-pcap decrypt),
are byte for byte the plaintext run's outputs (firewall, NAT, parental filter, IDS); the
firewall's and the IDS's plaintext runs also equal the plaintext native NFs'
(e2nf-firewall, e2nf-ids). Damaged frames and records are refused and counted.

usage: test_mb_offline.py GATEWAY_BIN_DIR E2NF_FIREWALL E2NF_IDS"""
import os
import subprocess
import sys
import tempfile

from scapy.all import IP, IPv6, TCP, UDP, Ether, Raw, rdpcap, wrpcap

BIN, E2NF_FW, E2NF_IDS = sys.argv[1], sys.argv[2], sys.argv[3]
failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what)
    failures += 0 if cond else 1


def epoch_of(frame):
    """The epoch an Embark frame's flow label names (bit 19 marks a packet that made records)."""
    e = Ether(frame)
    return e[IPv6].fl & 0x7ffff if IPv6 in e else None


def tool(name):
    return os.path.join(BIN, name)


def run(args, ok=(0,)):
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if r.returncode not in ok:
        print("command failed (%d): %s\n%s%s" % (r.returncode, " ".join(args), r.stdout, r.stderr))
        sys.exit(1)
    return r


MAC_C, MAC_S = "02:00:00:00:00:01", "02:00:00:00:00:02"
T = [1.0]


def at():
    T[0] += 0.001
    return T[0]


c2s, s2c = [], []


def pkt(src, dst, l4, payload=b""):
    p = Ether(src=MAC_C, dst=MAC_S) / IP(src=src, dst=dst) / l4
    if payload:
        p = p / Raw(payload)
    p.time = at()
    return p


def conversation(cli, cport, srv, sport, segments, response=b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"):
    cs, ss = 1000 + cport, 7000 + cport
    c2s.append(pkt(cli, srv, TCP(sport=cport, dport=sport, flags="S", seq=cs)))
    s2c.append(pkt(srv, cli, TCP(sport=sport, dport=cport, flags="SA", seq=ss, ack=cs + 1)))
    c2s.append(pkt(cli, srv, TCP(sport=cport, dport=sport, flags="A", seq=cs + 1, ack=ss + 1)))
    off = 0
    for seg in segments:
        c2s.append(pkt(cli, srv, TCP(sport=cport, dport=sport, flags="PA", seq=cs + 1 + off, ack=ss + 1), seg))
        off += len(seg)
    s2c.append(pkt(srv, cli, TCP(sport=sport, dport=cport, flags="PA", seq=ss + 1, ack=cs + 1 + off), response))


def get(host, path, extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + extra + b"\r\n"


# Traffic: web requests (allowed, barred host, blocked URL, keywords), SSH (denied),
# DNS (allowed), keyword split over two segments, many flows for NAT and LB.
conversation("10.1.0.5", 40000, "192.0.2.10", 80, [get(b"example.com", b"/index.html")])
conversation("10.1.0.66", 40001, "192.0.2.10", 80, [get(b"example.com", b"/")])
conversation("10.1.0.5", 40002, "192.0.2.11", 22, [b"SSH-2.0-OpenSSH\r\n"])
conversation("10.1.0.6", 40003, "192.0.2.10", 80, [get(b"blocked.example", b"/bad")])
# the keyword ~1.2 KB into its segment: the segment's token record (~10 KB) is longer than
# a packet buffer, and its last tokens are the keyword's
conversation("10.1.0.7", 40004, "192.0.2.12", 80,
             [get(b"example.com", b"/a", b"X-Pad: " + b"p" * 1200 + b"\r\nX-Tag: PROJECT-BLUEBIRD\r\n")])
req = get(b"example.com", b"/b", b"X-Note: top confidential\r\n")
cut = req.index(b"confidential") + 5
conversation("10.1.0.8", 40005, "192.0.2.12", 80, [req[:cut], req[cut:]])
conversation("10.1.0.9", 40006, "192.0.2.10", 80, [get(b"blocked.example", b"/fine")])
for i in range(20):
    conversation("10.1.0.%d" % (20 + i), 41000 + i, "192.0.2.%d" % (1 + i % 14), 80,
                 [get(b"example.com", b"/p%d" % i)])
for i in range(3):
    c2s.append(pkt("10.1.0.5", "198.51.100.53", UDP(sport=5300 + i, dport=53), b"q" * 20))
    s2c.append(pkt("198.51.100.53", "10.1.0.5", UDP(sport=53, dport=5300 + i), b"a" * 30))

RULES = """# inside hosts may reach the web servers and DNS
deny   id=barred src=10.1.0.66
accept id=web proto=tcp src=10.1.0.0/24 dst=192.0.2.0/28 dport=80
accept id=dns proto=udp dport=53
"""
FW_RULES = """default drop
non-ip allow
drop ip from 10.1.0.66 to any
allow tcp from 10.1.0.0/24 to 192.0.2.0/28 port 80
allow udp from any to any port 53
"""
POOLS = "pool nat 198.51.100.77\npool web 192.0.2.100-192.0.2.103\n"
KEYWORDS = "PROJECT-BLUEBIRD\nconfidential\n"
IDS_RULES = """drop tcp any any <> any any (msg:"k1"; content:"PROJECT-BLUEBIRD"; sid:1;)
drop tcp any any <> any any (msg:"k2"; content:"confidential"; sid:2;)
"""


def frames(path):
    return [bytes(p) for p in rdpcap(path)] if os.path.getsize(path) > 24 else []


def stats_of(r):
    return dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)


with tempfile.TemporaryDirectory() as d:
    def f(name, text=None):
        p = os.path.join(d, name)
        if text is not None:
            open(p, "w").write(text)
        return p

    wrpcap(f("plain0.pcap"), c2s)
    wrpcap(f("plain1.pcap"), s2c)
    for n, t in (("rules.txt", RULES), ("fw.rules", FW_RULES), ("pools.txt", POOLS), ("kw.txt", KEYWORDS),
                 ("ids.rules", IDS_RULES), ("nat-pool.txt", "pool nat 198.51.100.77\n"),
                 ("lb-backends.txt", "pool web 192.0.2.100-192.0.2.103\n"),
                 ("blocklist.txt", "blocked.example/bad\n")):
        f(n, t)
    key = f("k")
    run([tool("embark-keygen"), key])
    run([tool("embark-rules"), "encrypt", "--key", key, "--in", f("rules.txt"), "--out", f("rules.enc"),
         "--pools", f("pools.txt"), "--pools-out", f("pools.enc")])
    run([tool("embark-rules"), "keywords", "--key", key, "--in", f("kw.txt"), "--out", f("kw.enc")])
    run([tool("embark-mb-prep"), "uris", "--key", key, f("blocklist.txt"), f("blocklist.enc")])
    gwargs = ["--key", key, "--rules", f("rules.txt"), "--pools", f("pools.txt")]
    for i in (0, 1):
        run([tool("embark-mb-prep"), "gw"] + gwargs + [f("plain%d.pcap" % i), f("enc%d.pcap" % i)])
        run([tool("embark-mb-prep"), "plain", f("plain%d.pcap" % i), f("uri%d.pcap" % i)])
    enc0 = rdpcap(f("enc0.pcap"))
    ext0 = [p for p in enc0 if p[Ether].type == 0x88b5]
    check(len(ext0) > 30 and all(IPv6 in p for p in enc0 if p[Ether].type != 0x88b5),
          "the gateway's capture: Embark IPv6 and %d extension records" % len(ext0))
    check(not any(b"PROJECT-BLUEBIRD" in bytes(p) or b"example.com" in bytes(p) for p in enc0),
          "no plaintext in the encrypted capture or its records")

    # The encrypted pool values of each pool: embark-rules --pools-out names each value's
    # pool (`NAME HEX`), and the NAT and LB take one pool's with --pool-name.
    joint = [l.split() for l in open(f("pools.enc")).read().splitlines() if l and not l.startswith("#")]
    natv = [v for n, v in joint if n == "nat"]
    lbv = [v for n, v in joint if n == "web"]
    check(len(natv) == 1 and len(lbv) == 4 and len(joint) == 5 and lbv == sorted(lbv),
          "the encrypted pool values by pool name, each pool's sorted")
    f("nat.enc", "\n".join(natv) + "\n")
    f("lb.enc", "\n".join(lbv) + "\n")

    def mb(name, args, in0, in1, tag):
        out = f("out-" + tag)
        os.makedirs(out, exist_ok=True)
        r = run([tool(name)] + args + ["--offline", out, "--port", in0, "--port", in1])
        return frames(os.path.join(out, "out0.pcap")), frames(os.path.join(out, "out1.pcap")), stats_of(r), r

    def decrypt(frs, tag):
        if not frs:
            return []
        src, dst = f("dec-in-" + tag + ".pcap"), f("dec-out-" + tag + ".pcap")
        wrpcap(src, [Ether(b) for b in frs])
        run([tool("embark-pcap"), "decrypt"] + gwargs + [src, dst])
        return frames(dst)

    def same_decisions(name, pargs, eargs, pin=("plain0.pcap", "plain1.pcap"), ein=("enc0.pcap", "enc1.pcap")):
        p0, p1, ps, _ = mb(name, pargs, f(pin[0]), f(pin[1]), name + "-plain")
        e0, e1, es, _ = mb(name, eargs, f(ein[0]), f(ein[1]), name + "-enc")
        d0, d1 = decrypt(e0, name + "0"), decrypt(e1, name + "1")
        check(d1 == p1 and d0 == p0 and len(p1) < len(c2s) + 1,
              "%s: decrypted encrypted run = plaintext run (%d+%d frames; plain %d+%d)" %
              (name, len(d0), len(d1), len(p0), len(p1)))
        return p0, p1, ps, es

    # --- firewall ---
    p0, p1, ps, es = same_decisions("embark-fw", ["--rules", f("rules.txt")], ["--rules", f("rules.enc")])
    passed = {(IP(b[14:]).src, IP(b[14:]).dst) for b in p1}
    check(("10.1.0.66", "192.0.2.10") not in passed and ("10.1.0.5", "192.0.2.11") not in passed and
          ("10.1.0.5", "192.0.2.10") in passed and ("10.1.0.5", "198.51.100.53") in passed,
          "embark-fw: barred host and SSH denied, web and DNS allowed")
    want = ("allowed_new", "allowed_tracked", "denied_rule", "denied_default", "denied_tracked", "rule_barred_hits",
            "rule_web_hits", "rule_dns_hits")
    check(all(ps.get(k) == es.get(k) for k in want), "embark-fw: the same counters on both: %s" %
          {k: (ps.get(k), es.get(k)) for k in want})
    os.makedirs(f("out-e2nf-fw"), exist_ok=True)
    r = subprocess.run([E2NF_FW, "--rules", f("fw.rules"), "--offline", f("out-e2nf-fw"), "--port", f("plain0.pcap"),
                        "--port", f("plain1.pcap")], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and frames(f("out-e2nf-fw/out1.pcap")) == p1 and
          frames(f("out-e2nf-fw/out0.pcap")) == p0, "embark-fw on plaintext decides as e2nf-firewall")
    # the encrypted traffic with the plaintext rules: nothing but the default (a real test)
    _, w1, ws, _ = mb("embark-fw", ["--rules", f("rules.txt")], f("enc0.pcap"), f("enc1.pcap"), "fw-wrong")
    check(ws.get("allowed_new") == "0", "embark-fw: plaintext rules match no encrypted flow")

    # damaged frames and records: refused and counted, decisions unchanged
    bad = [Ether(src=MAC_C, dst=MAC_S, type=0x86dd) / Raw(bytes([p for p in enc0 if IPv6 in p][3][IPv6])[:30]),
           Ether(src=MAC_C, dst=MAC_S, type=0x86dd) / Raw(b"\x60" + b"\x00" * 3 + b"\xff\xff" + b"\x06\x40" +
                                                          b"\x00" * 40),
           Ether(src=MAC_C, dst=MAC_S, type=0x88b5) / Raw(b"\xff\xff\xff\xff"),
           Ether(src=MAC_C, dst=MAC_S, type=0x88b5) / Raw(bytes(ext0[0][Raw])[:7])]
    for b in bad:
        b.time = 1.0005
    wrpcap(f("bad0.pcap"), bad + list(enc0))
    b0, b1, bs, _ = mb("embark-fw", ["--rules", f("rules.enc")], f("bad0.pcap"), f("enc1.pcap"), "fw-bad")
    e0, e1, _, _ = mb("embark-fw", ["--rules", f("rules.enc")], f("enc0.pcap"), f("enc1.pcap"), "fw-enc2")
    check(bs.get("malformed") == "2" and (b0, b1) == (e0, e1),
          "embark-fw: 2 damaged packets dropped and counted, decisions unchanged (%s)" % bs.get("malformed"))
    i0, i1, is_, _ = mb("embark-ids", ["--rules", f("kw.enc")], f("bad0.pcap"), f("enc1.pcap"), "ids-bad")
    check(is_.get("ext_refused") == "2" and is_.get("malformed") == "2",
          "embark-ids: 2 damaged extension records and 2 packets refused and counted")

    # --- epochs: the gateway switches to new rules (epoch 2) halfway; the firewall loads
    # them at that moment (control), and classifies each packet by its flow label ---
    c2s_saved, s2c_saved = c2s[:], s2c[:]
    del c2s[:], s2c[:]
    T[0] = 50.0
    for i in range(4):
        conversation("10.1.0.%d" % (3 + 4 * i), 42000 + i, "192.0.2.10", 80, [get(b"example.com", b"/e%d" % i)])
    wrpcap(f("ep2-plain0.pcap"), c2s)
    wrpcap(f("ep2-plain1.pcap"), s2c)
    c2s[:], s2c[:] = c2s_saved, s2c_saved
    f("rules2.txt", RULES.replace("src=10.1.0.66", "src=10.1.0.0/29"))   # now bars .0-.7 as well
    run([tool("embark-rules"), "encrypt", "--key", key, "--in", f("rules2.txt"), "--out", f("rules2.enc"),
         "--pools", f("pools.txt"), "--pools-out", f("pools2.enc")])
    for i in (0, 1):
        run([tool("embark-mb-prep"), "gw", "--epoch", "2", "--key", key, "--rules", f("rules2.txt"), "--pools",
             f("pools.txt"), f("ep2-plain%d.pcap" % i), f("ep2-enc%d.pcap" % i)])
        wrpcap(f("ep-plain%d.pcap" % i), rdpcap(f("plain%d.pcap" % i)) + rdpcap(f("ep2-plain%d.pcap" % i)))
        wrpcap(f("ep-enc%d.pcap" % i), rdpcap(f("enc%d.pcap" % i)) + rdpcap(f("ep2-enc%d.pcap" % i)))

    def fw_epochs(tag, in0, in1, rules1, rules2):
        out = f("out-ep-" + tag)
        os.makedirs(out, exist_ok=True)
        if rules2:
            open(os.path.join(out, "control"), "w").write("49.5 rules 2 %s\n" % rules2)
        r = run([tool("embark-fw"), "--rules", rules1, "--offline", out, "--port", in0, "--port", in1])
        return frames(os.path.join(out, "out0.pcap")), frames(os.path.join(out, "out1.pcap")), stats_of(r)

    def decrypt_epochs(frs, tag):
        out = []
        for ep, rules in ((1, f("rules.txt")), (2, f("rules2.txt"))):
            mine = [b for b in frs if epoch_of(b) == ep]
            if mine:
                src, dst = f("dec-ep-%s-%d.pcap" % (tag, ep)), f("dec-ep-out-%s-%d.pcap" % (tag, ep))
                wrpcap(src, [Ether(b) for b in mine])
                run([tool("embark-pcap"), "decrypt", "--key", key, "--rules", rules, "--pools", f("pools.txt"),
                     src, dst])
                out += frames(dst)
        return out

    p0, p1, ps = fw_epochs("plain", f("ep-plain0.pcap"), f("ep-plain1.pcap"), f("rules.txt"), f("rules2.txt"))
    e0, e1, es = fw_epochs("enc", f("ep-enc0.pcap"), f("ep-enc1.pcap"), f("rules.enc"), f("rules2.enc"))
    d0, d1 = decrypt_epochs(e0, "0"), decrypt_epochs(e1, "1")
    late = sorted({IP(b[14:]).src for b in p1 if TCP in Ether(b) and Ether(b)[TCP].sport >= 42000})
    check(d1 == p1 and d0 == p0 and late == ["10.1.0.11", "10.1.0.15"],
          "embark-fw across an epoch switch: each packet under its own epoch's rules, decisions = plaintext "
          "(after the switch %s pass, 10.1.0.3 and .7 barred)" % late)
    check(es.get("epoch2_rule_barred_hits") == "2" == ps.get("epoch2_rule_barred_hits") and
          es.get("unknown_epoch") == "0", "embark-fw: epoch 2's rules hit by epoch 2's flows only")
    _, n1, ns = fw_epochs("none", f("ep-enc0.pcap"), f("ep-enc1.pcap"), f("rules.enc"), None)
    ep2 = [p for i in (0, 1) for p in rdpcap(f("ep2-enc%d.pcap" % i)) if IPv6 in p]
    check(ns.get("unknown_epoch") == str(len(ep2)) and not any(epoch_of(b) == 2 for b in n1),
          "embark-fw: all %s packets of an epoch without rules dropped and counted" % ns.get("unknown_epoch"))
    out = f("out-ep-refused")
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "control"), "w").write("49.5 rules 2 %s\n" % f("pools.txt"))
    r = run([tool("embark-fw"), "--rules", f("rules.enc"), "--offline", out, "--port", f("ep-enc0.pcap"), "--port",
             f("ep-enc1.pcap")])
    reply = open(os.path.join(out, "control.out")).read()
    check("refused, nothing changed" in reply and "pools.txt:1" in reply and
          stats_of(r).get("unknown_epoch") == str(len(ep2)), "embark-fw: a bad rule file for an epoch refused: %s"
          % reply.strip())


    # --- NAT (one pool address: the gateway restores it, so outputs compare byte for byte) ---
    p0, p1, ps, es = same_decisions("embark-nat", ["--pool", f("nat-pool.txt")], ["--pool", f("nat.enc")])
    check(all(IP(b[14:]).src == "198.51.100.77" for b in p1) and ps.get("new_mappings") == es.get("new_mappings")
          and ps.get("new_mappings") == str(27 + 3), "embark-nat: every flow leaves from the pool address (%s flows)"
          % es.get("new_mappings"))
    # the way back: the NAT's own output, mirrored, comes back on port 1
    for tag, inp, pool in (("plain", "plain0.pcap", "nat-pool.txt"), ("enc", "enc0.pcap", "nat.enc")):
        out1 = rdpcap(f("out-embark-nat-%s/out1.pcap" % tag))
        back = []
        for p in out1[:12]:
            q = p.copy()
            L3 = IPv6 if IPv6 in q else IP
            q[L3].src, q[L3].dst = p[L3].dst, p[L3].src
            L4 = TCP if TCP in q else UDP
            q[L4].sport, q[L4].dport = p[L4].dport, p[L4].sport
            q.time = p.time + 0.0001
            back.append(q)
        wrpcap(f("natback-%s.pcap" % tag), back)
        r0, _, rs, _ = mb("embark-nat", ["--pool", f(pool)], f(inp), f("natback-%s.pcap" % tag), "natback-" + tag)
        orig = [p for p in rdpcap(f(inp)) if p[Ether].type != 0x88b5]
        L3 = IPv6 if tag == "enc" else IP
        ok = len(r0) == 12
        for b, o in zip(r0, orig):
            q = Ether(b)
            L4 = TCP if TCP in q else UDP
            ok &= (q[L3].dst, q[L4].dport) == (o[L3].src, o[L4].sport)
        check(ok and rs.get("translated_in") == "12", "embark-nat %s: replies translated back to the inside "
              "address and port" % tag)

    # A port range of 2 on one address: mappings are per 5-tuple, so a port serves many
    # peers; on plaintext the third flow to one server finds both ports taken and is
    # dropped and counted. On Embark traffic a peer's address encrypts differently in
    # every flow, so no two flows share a peer and the ports never run out (a decision
    # that differs from plaintext's, by design of the encryption).
    x0, x1, xs, _ = mb("embark-nat", ["--pool", f("nat-pool.txt"), "--port-lo", "20000", "--port-hi", "20001"],
                       f("plain0.pcap"), f("plain1.pcap"), "nat-exhausted")
    flows_to = {}
    for p in c2s:
        L4 = TCP if TCP in p else UDP
        flows_to.setdefault((p[IP].dst, p[L4].dport, p[IP].proto), set()).add((p[IP].src, p[L4].sport))
    want = sum(min(2, len(v)) for v in flows_to.values())
    sent = {(Ether(b)[IP].dst, Ether(b)[TCP].sport) for b in x1 if TCP in Ether(b)}
    check(xs.get("new_mappings") == str(want) and {p for _, p in sent} <= {20000, 20001} and
          int(xs.get("ports_exhausted", "0")) > 0, "embark-nat: 2 ports: at most 2 flows per peer translated "
          "(%s mappings), the rest dropped and counted (%s)" % (xs.get("new_mappings"), xs.get("ports_exhausted")))
    _, _, ys, _ = mb("embark-nat", ["--pool", f("nat.enc"), "--port-lo", "20000", "--port-hi", "20001"],
                     f("enc0.pcap"), f("enc1.pcap"), "nat-exhausted-enc")
    check(ys.get("new_mappings") == "30" and ys.get("ports_exhausted") == "0",
          "embark-nat on Embark traffic: every flow's peer is another ciphertext, 2 ports serve all 30 flows")

    # --- LB: hashing ciphertext picks other backends than hashing plaintext, so compare the
    # properties: every flow on one backend, both ways restored, all backends used ---
    for tag, inp, be in (("plain", "plain0.pcap", "lb-backends.txt"), ("enc", "enc0.pcap", "lb.enc")):
        _, o1, st, _ = mb("embark-lb", ["--backends", f(be)], f(inp), f("plain1.pcap" if tag == "plain" else
                                                                         "enc1.pcap"), "lb-" + tag)
        if tag == "enc":
            o1 = decrypt(o1, "lb")
        per_flow = {}
        for b in o1:
            q = Ether(b)
            L4 = TCP if TCP in q else UDP
            per_flow.setdefault((q[IP].src, q[L4].sport), set()).add(q[IP].dst)
        used = set().union(*per_flow.values())
        check(len(o1) == len([p for p in c2s]) and all(len(v) == 1 for v in per_flow.values()) and
              used <= {"192.0.2.%d" % i for i in range(100, 104)} and len(used) >= 3,
              "embark-lb %s: %d flows each on one backend, %d backends used" % (tag, len(per_flow), len(used)))
        # the backends' answers: the LB's own output mirrored, back on port 1, get the
        # address the client spoke to as source again
        out1 = rdpcap(f("out-lb-%s/out1.pcap" % tag))
        back = []
        for p in out1[:12]:
            q = p.copy()
            L3 = IPv6 if IPv6 in q else IP
            q[L3].src, q[L3].dst = p[L3].dst, p[L3].src
            L4 = TCP if TCP in q else UDP
            q[L4].sport, q[L4].dport = p[L4].dport, p[L4].sport
            q.time = p.time + 0.0001
            back.append(q)
        wrpcap(f("lbback-%s.pcap" % tag), back)
        r0, _, rs, _ = mb("embark-lb", ["--backends", f(be)], f(inp), f("lbback-%s.pcap" % tag), "lbback-" + tag)
        orig = [p for p in rdpcap(f(inp)) if p[Ether].type != 0x88b5]
        L3 = IPv6 if tag == "enc" else IP
        check(len(r0) == 12 and rs.get("to_client") == "12" and
              all(Ether(b)[L3].src == o[L3].dst and Ether(b)[L3].dst == o[L3].src for b, o in zip(r0, orig)),
              "embark-lb %s: the backends' answers leave with the original destination as source" % tag)

    # --- parental filter: plain URIs (embark-mb-prep plain) vs encrypted URIs ---
    p0, p1, ps, es = same_decisions("embark-parental", ["--blocklist", f("blocklist.txt")],
                                    ["--blocklist", f("blocklist.enc")], pin=("uri0.pcap", "plain1.pcap"))
    check(ps.get("blocked_requests") == "1" == es.get("blocked_requests") and ps.get("requests") == es.get("requests")
          and not any(b"/bad" in b for b in p1) and any(b"/fine" in b for b in p1),
          "embark-parental: blocked.example/bad blocked (%s of %s requests), blocked.example/fine not" %
          (es.get("blocked_requests"), es.get("requests")))

    # --- IDS: tokens vs e2nf-ids on the plaintext ---
    e0, e1, es, er = mb("embark-ids", ["--rules", f("kw.enc"), "--drop"], f("enc0.pcap"), f("enc1.pcap"), "ids-enc")
    d0, d1 = decrypt(e0, "ids0"), decrypt(e1, "ids1")
    os.makedirs(f("out-e2nf-ids"), exist_ok=True)
    r = subprocess.run([E2NF_IDS, "--rules", f("ids.rules"), "--own-reassembly", "--offline", f("out-e2nf-ids"),
                        "--port", f("plain0.pcap"), "--port", f("plain1.pcap")], capture_output=True, text=True,
                       timeout=120)
    n1 = frames(f("out-e2nf-ids/out1.pcap"))
    n0 = frames(f("out-e2nf-ids/out0.pcap"))
    check(r.returncode == 0 and d1 == n1 and d0 == n0,
          "embark-ids flags and drops the same requests as e2nf-ids (%d+%d frames pass)" % (len(d0), len(d1)))
    check(es.get("alerts") == "2" and es.get("alerts_rule0") == "1" and es.get("alerts_rule1") == "1" and
          es.get("flows_dropped") == "2", "embark-ids: both keywords (one split over two segments) alerted once")
    check(es.get("ext_refused") == "0" and int(es.get("ext_records", "0")) > 0,
          "embark-ids: every extension record taken whole (%s), the longest over a packet buffer" %
          es.get("ext_records"))

    # --- a key rotation (epoch 2 under another key) reaches every middlebox: pool values,
    # backends, keyword rules and URIs are all per key. Each loads epoch 2's at the switch
    # (control) and decides each packet or record by its own epoch's; without them,
    # epoch 2's new flows and records are refused and counted, never decided by epoch 1's.
    c2s_saved, s2c_saved = c2s[:], s2c[:]
    del c2s[:], s2c[:]
    T[0] = 60.0
    conversation("10.1.0.40", 43000, "192.0.2.10", 80, [get(b"example.com", b"/r0")])
    conversation("10.1.0.41", 43001, "192.0.2.12", 80, [get(b"example.com", b"/r1", b"X-Tag: PROJECT-BLUEBIRD\r\n")])
    conversation("10.1.0.42", 43002, "192.0.2.10", 80, [get(b"blocked.example", b"/bad")])
    c2s.append(pkt("10.1.0.43", "198.51.100.53", UDP(sport=5400, dport=53), b"q" * 20))
    s2c.append(pkt("198.51.100.53", "10.1.0.43", UDP(sport=53, dport=5400), b"a" * 30))
    rot_c2s = [p for p in c2s if IP in p]
    wrpcap(f("rot2-plain0.pcap"), c2s)
    wrpcap(f("rot2-plain1.pcap"), s2c)
    c2s[:], s2c[:] = c2s_saved, s2c_saved
    key2 = f("k2")
    run([tool("embark-keygen"), key2])
    run([tool("embark-rules"), "keywords", "--key", key2, "--in", f("kw.txt"), "--out", f("kw2.enc")])
    run([tool("embark-mb-prep"), "uris", "--key", key2, f("blocklist.txt"), f("blocklist2.enc")])

    run([tool("embark-rules"), "encrypt", "--key", key2, "--in", f("rules.txt"), "--out", f("tmp.enc"),
         "--pools", f("pools.txt"), "--pools-out", f("pools2-key2.enc")])
    os.unlink(f("tmp.enc"))
    for i in (0, 1):
        run([tool("embark-mb-prep"), "gw", "--epoch", "2", "--key", key2, "--rules", f("rules.txt"), "--pools",
             f("pools.txt"), f("rot2-plain%d.pcap" % i), f("rot2-enc%d.pcap" % i)])
        run([tool("embark-mb-prep"), "plain", f("rot2-plain%d.pcap" % i), f("rot2-uri%d.pcap" % i)])
        for kind in ("plain", "enc", "uri"):
            wrpcap(f("rot-%s%d.pcap" % (kind, i)), rdpcap(f("%s%d.pcap" % (kind, i))) +
                   rdpcap(f("rot2-%s%d.pcap" % (kind, i))))

    def at_switch(name, args, in0, in1, tag, line):
        out = f("out-rot-" + tag)
        os.makedirs(out, exist_ok=True)
        if line:
            open(os.path.join(out, "control"), "w").write("59.5 %s\n" % line)
        r = run([tool(name)] + args + ["--offline", out, "--port", f(in0), "--port", f(in1)])
        reply = open(os.path.join(out, "control.out")).read() if line else ""
        return frames(os.path.join(out, "out0.pcap")), frames(os.path.join(out, "out1.pcap")), stats_of(r), reply

    def decrypt_rotated(frs, tag):
        out = []
        for ep, k in ((1, key), (2, key2)):
            mine = [b for b in frs if epoch_of(b) == ep]
            if mine:
                src, dst = f("dec-rot-%s-%d.pcap" % (tag, ep)), f("dec-rot-out-%s-%d.pcap" % (tag, ep))
                wrpcap(src, [Ether(b) for b in mine])
                run([tool("embark-pcap"), "decrypt", "--key", k, "--rules", f("rules.txt"), "--pools", f("pools.txt"),
                     src, dst])
                out += frames(dst)
        return out

    # NAT: epoch 2's flows get epoch 2's pool value, which the gateway restores with key 2
    # (both runs load a second pool at the switch: plain traffic follows the newest, so
    # port numbering restarts alike; mappings idle 30 s, so epoch 1's have expired)
    # (--pool-name picks the NAT's pool from the joint lists, in both epochs)
    nat = ["--idle-timeout", "30", "--pool-name", "nat", "--pool"]
    p0, p1, ps, pr = at_switch("embark-nat", nat + [f("pools.txt")], "rot-plain0.pcap", "rot-plain1.pcap",
                               "nat-plain", "pools 2 " + f("pools.txt"))
    e0, e1, es, er = at_switch("embark-nat", nat + [f("pools.enc")], "rot-enc0.pcap", "rot-enc1.pcap", "nat-enc",
                               "pools 2 " + f("pools2-key2.enc"))
    d1 = decrypt_rotated(e1, "nat")
    check(d1 == p1 and len(p1) == len(c2s) + len(rot_c2s) and es.get("unknown_epoch") == "0" and
          "epoch 2: pools from" in er,
          "embark-nat across a key rotation: epoch 2's flows leave with epoch 2's pool value, restored by the "
          "gateway under key 2 (%d frames = plaintext run)" % len(d1))
    _, n1, ns, _ = at_switch("embark-nat", nat + [f("pools.enc")], "rot-enc0.pcap", "rot-enc1.pcap", "nat-none", None)
    check(ns.get("unknown_epoch") == str(len(rot_c2s)) and not any(epoch_of(b) == 2
                                                                    for b in n1),
          "embark-nat without epoch 2's pool: its %s packets dropped and counted, none translated with epoch 1's"
          % ns.get("unknown_epoch"))

    # LB: epoch 2's flows go to epoch 2's backend values, which decrypt to the plain backends
    e0, e1, es, er = at_switch("embark-lb", ["--pool-name", "web", "--backends", f("pools.enc")], "rot-enc0.pcap",
                               "rot-enc1.pcap", "lb-enc", "backends 2 " + f("pools2-key2.enc"))
    ep2 = [b for b in e1 if epoch_of(b) == 2]
    dsts = {IP(b[14:]).dst for b in decrypt_rotated(ep2, "lb")}
    check(len(ep2) == len(rot_c2s) and dsts <= {"192.0.2.%d" % i for i in range(100, 104)} and
          es.get("unknown_epoch") == "0", "embark-lb across a key rotation: epoch 2's %d packets to plain backends %s"
          % (len(ep2), sorted(dsts)))
    _, _, ns, _ = at_switch("embark-lb", ["--backends", f("lb.enc")], "rot-enc0.pcap", "rot-enc1.pcap", "lb-none",
                            None)
    check(ns.get("unknown_epoch") == str(len(rot_c2s)), "embark-lb without epoch 2's backends: %s packets dropped "
          "and counted" % ns.get("unknown_epoch"))

    # parental filter: epoch 2's URIs looked up in epoch 2's list
    p0, p1, ps, _ = at_switch("embark-parental", ["--blocklist", f("blocklist.txt")], "rot-uri0.pcap",
                              "rot-plain1.pcap", "par-plain", None)
    e0, e1, es, er = at_switch("embark-parental", ["--blocklist", f("blocklist.enc")], "rot-enc0.pcap",
                               "rot-enc1.pcap", "par-enc", "blocklist 2 " + f("blocklist2.enc"))
    check(decrypt_rotated(e1, "par") == p1 and decrypt_rotated(e0, "par0") == p0 and
          es.get("blocked_requests") == "2" == ps.get("blocked_requests") and es.get("unknown_epoch") == "0",
          "embark-parental across a key rotation: blocked.example/bad blocked in both epochs, decisions = plaintext")
    _, _, ns, _ = at_switch("embark-parental", ["--blocklist", f("blocklist.enc")], "rot-enc0.pcap", "rot-enc1.pcap",
                            "par-none", None)
    check(ns.get("blocked_requests") == "1" and ns.get("unknown_epoch") == "3",
          "embark-parental without epoch 2's list: its 3 requests counted unknown_epoch, none matched by epoch 1's")

    # IDS: epoch 2's tokens matched against epoch 2's keyword rules
    e0, e1, es, er = at_switch("embark-ids", ["--rules", f("kw.enc")], "rot-enc0.pcap", "rot-enc1.pcap", "ids-enc",
                               "rules 2 " + f("kw2.enc"))
    check(es.get("alerts") == "3" and es.get("epoch2_alerts_rule0") == "1" and es.get("alerts_rule0") == "1" and
          es.get("unknown_epoch") == "0", "embark-ids across a key rotation: the keyword in epoch 2's request "
          "alerted under epoch 2's rules (alerts %s)" % es.get("alerts"))
    _, _, ns, _ = at_switch("embark-ids", ["--rules", f("kw.enc")], "rot-enc0.pcap", "rot-enc1.pcap", "ids-none",
                            None)
    check(ns.get("alerts") == "2" and int(ns.get("unknown_epoch", "0")) > 0,
          "embark-ids without epoch 2's rules: epoch 2's token records counted unknown_epoch (%s)" %
          ns.get("unknown_epoch"))
    _, _, _, er = at_switch("embark-ids", ["--rules", f("kw.enc")], "rot-enc0.pcap", "rot-enc1.pcap", "ids-bad",
                            "rules 2 " + f("blocklist.txt"))
    check("refused, nothing changed" in er, "embark-ids: a bad keyword file for an epoch refused: %s" % er.strip())

    # refusals
    r = subprocess.run([tool("embark-nat"), "--pool", f("blocklist.txt"), "--check"], capture_output=True, text=True)
    check(r.returncode == 2 and "blocklist.txt:1:" in r.stderr, "a bad pool file refused with FILE:LINE")
    r = subprocess.run([tool("embark-fw"), "--rules", f("pools.txt"), "--check"], capture_output=True, text=True)
    check(r.returncode == 2 and "pools.txt:1" in r.stderr, "a bad rule file refused with FILE:LINE")
    r = subprocess.run([tool("embark-proxy"), "--check"], capture_output=True, text=True)
    check(r.returncode == 2 and "needs --frame-key" in r.stderr, "embark-proxy without a frame key refused")
    r = subprocess.run([tool("embark-proxy"), "--frame-key", f("pools.txt"), "--check"], capture_output=True, text=True)
    check(r.returncode == 2 and "--frame-key" in r.stderr and "pools.txt" in r.stderr,
          "embark-proxy: a file that is no key refused as its frame key: " + r.stderr.strip())
    r = subprocess.run([tool("embark-proxy"), "--frame-key", key, "--cache-size", "1k", "--check"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "--cache-size" in r.stderr, "embark-proxy: a cache too small refused")
    r = subprocess.run([tool("embark-proxy"), "--frame-key", key, "--check"], capture_output=True, text=True)
    check(r.returncode == 0 and "a frame key" in r.stdout, "embark-proxy --check takes a key file")

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
