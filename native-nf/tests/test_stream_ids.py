#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2nf-reasm and e2nf-ids on scapy-made TCP, offline (libe2nf --offline).

An HTTP request whose keyword is split over out-of-order, partly overlapping segments
(and a retransmission) is flagged by e2nf-ids behind e2nf-reasm (trusting its stream
attribute) and with --own-reassembly, with both matchers; a clean flow is not. e2nf-reasm
sends the frames on in stream order with the attribute; a drop rule drops the rest of the
flow; bad rule files are refused with FILE:LINE."""
import os
import struct
import subprocess
import sys
import tempfile

from scapy.all import IP, TCP, Ether, Raw, rdpcap, wrpcap

REASM, IDS = sys.argv[1], sys.argv[2]
failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what)
    failures += 0 if cond else 1


CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
t_now = [1.0]


def seg(sport, seq, ack, flags, payload=b"", to_server=True):
    if to_server:
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=CLIENT, dst=SERVER) / \
            TCP(sport=sport, dport=80, seq=seq, ack=ack, flags=flags)
    else:
        p = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / IP(src=SERVER, dst=CLIENT) / \
            TCP(sport=80, dport=sport, seq=seq, ack=ack, flags=flags)
    if payload:
        p = p / Raw(payload)
    t_now[0] += 0.001
    p.time = t_now[0]
    return p


def flow(sport, request, pieces, order, response=b"HTTP/1.0 200 OK\r\n\r\nhello"):
    """A connection whose request goes as `pieces` (start, end) of it, sent in `order`."""
    c_isn, s_isn = 1000 + sport, 5000
    to_s, to_c = [], []
    to_s.append(seg(sport, c_isn, 0, "S"))
    to_c.append(seg(sport, s_isn, c_isn + 1, "SA", to_server=False))
    to_s.append(seg(sport, c_isn + 1, s_isn + 1, "A"))
    for i in order:
        a, b = pieces[i]
        to_s.append(seg(sport, c_isn + 1 + a, s_isn + 1, "PA", request[a:b]))
    to_c.append(seg(sport, s_isn + 1, c_isn + 1 + len(request), "PA", response, to_server=False))
    to_s.append(seg(sport, c_isn + 1 + len(request), s_isn + 1 + len(response), "FA"))
    to_c.append(seg(sport, s_isn + 1 + len(response), c_isn + 2 + len(request), "FA", to_server=False))
    to_s.append(seg(sport, c_isn + 2 + len(request), s_isn + 2 + len(response), "A"))
    return to_s, to_c


def strip_nsh(raw):
    """(inner frame, {tlv type: value}) of a frame, NSH or not."""
    if raw[12:14] != b"\x89\x4f":
        return raw, {}
    nlen = (raw[15] & 0x3f) * 4
    tlvs, off, nsh = {}, 8, raw[14:14 + nlen]
    while off < nlen:
        cls, typ, ln = struct.unpack(">HBB", nsh[off:off + 4])
        tlvs[typ] = nsh[off + 4:off + 4 + (ln & 0x7f)]
        off += 4 + ((ln & 0x7f) + 3) // 4 * 4
    return raw[14 + nlen:], tlvs


def run(args, d, in0, in1):
    r = subprocess.run(args + ["--offline", d, "--port", in0, "--port", in1], capture_output=True, text=True,
                       timeout=120)
    stats = dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)
    return r, stats


ATTACK = b"GET /search?q=aa" + b"xEVILKEYWORDx" + b" HTTP/1.1\r\nHost: example\r\n\r\n"
CLEAN = b"GET /search?q=aa" + b"xEVILKEYWORx" + b"D HTTP/1.1\r\nHost: example\r\n\r\n"
# the keyword lies over pieces 1..3; pieces overlap (same bytes) and come out of order,
# piece 2 twice (a retransmission)
PIECES = [(0, 12), (10, 20), (18, 25), (22, 31), (31, len(ATTACK))]
ORDER = [0, 3, 2, 4, 2, 1]
RULES = """# the keyword, anywhere in what a client sends
alert tcp any any -> any 80 (msg:"evil keyword"; content:"evilkeyword"; nocase; flow:to_server; sid:1; rev:1;)
# in the request line only
alert tcp any any -> any 80 (msg:"keyword near start"; content:"KEYWORD"; offset:4; depth:40; sid:2;)
# too near the start: no
alert tcp any any -> any 80 (msg:"keyword at the very start"; content:"KEYWORD"; depth:20; sid:5;)
# a reply would have to carry it
alert tcp any 80 -> any any (msg:"never"; content:"EVILKEYWORD"; flow:to_client; sid:3;)
alert tcp any any -> any 80 (msg:"hex"; content:"|0d 0a|Host|3a| example"; sid:4;)
"""

with tempfile.TemporaryDirectory() as d:
    a_s, a_c = flow(40000, ATTACK, PIECES, ORDER)
    clean_pieces = [(0, 12), (10, 20), (18, 25), (22, 31), (31, len(CLEAN))]
    c_s, c_c = flow(40001, CLEAN, clean_pieces, ORDER)
    in0, in1 = os.path.join(d, "in0.pcap"), os.path.join(d, "in1.pcap")
    wrpcap(in0, sorted(a_s + c_s, key=lambda p: p.time))
    wrpcap(in1, sorted(a_c + c_c, key=lambda p: p.time))
    rules = os.path.join(d, "ids.rules")
    open(rules, "w").write(RULES)

    # e2nf-reasm: every frame out, in stream order, with the stream attribute
    rd = os.path.join(d, "reasm")
    os.mkdir(rd)
    r, st = run([REASM, "--flow-id-attr"], rd, in0, in1)
    check(r.returncode == 0, "e2nf-reasm ran offline (%s)" % r.stderr.strip()[-300:])
    check(st.get("out_of_order") not in (None, "0") and st.get("duplicates") not in (None, "0") and
          st.get("conflicts") == "0" and st.get("flows_closed") == "2" and st.get("held_frames") == "0",
          "reasm counters: %s" % {k: st.get(k) for k in ("in_order", "out_of_order", "duplicates", "overlaps",
                                                        "retransmits", "conflicts", "flows_closed",
                                                        "held_frames")})
    out1 = rdpcap(os.path.join(rd, "out1.pcap"))
    out0 = rdpcap(os.path.join(rd, "out0.pcap"))
    check(len(out1) + len(out0) == len(a_s + c_s + a_c + c_c) - int(st.get("drops", "0")),
          "every frame comes out unless dropped (%d + %d)" % (len(out1), len(out0)))
    got = {40000: b"", 40001: b""}
    in_order = True
    for p in out1:
        inner, tlvs = strip_nsh(bytes(p))
        if 64 not in tlvs:  # only bare ACKs go unmarked
            t = Ether(inner)[TCP]
            if t.flags != "A" or len(t.payload):
                in_order = False
            continue
        if 4 not in tlvs and not tlvs[64][16] & 0x08:
            in_order = False
            continue
        fid, off, at, ln, fl = struct.unpack(">IQHHB", tlvs[64])
        if 4 in tlvs and struct.unpack(">I", tlvs[4])[0] != fid:
            in_order = False
        e = Ether(inner)
        if ln:
            if off != len(got[e[TCP].sport]):
                in_order = False
            got[e[TCP].sport] += inner[at:at + ln]
    check(in_order and got[40000] == ATTACK and got[40001] == CLEAN,
          "the chunks of t64 come in stream order and make the requests: %r" % got[40000][:40])

    ids_out = os.path.join(rd, "ids-in0.pcap"), os.path.join(rd, "ids-in1.pcap")
    os.rename(os.path.join(rd, "out1.pcap"), ids_out[0])
    os.rename(os.path.join(rd, "out0.pcap"), ids_out[1])
    matchers = ["hyperscan", "ac"]
    if "matcher=hyperscan" not in subprocess.run([IDS, "--rules", rules, "--check"], capture_output=True,
                                                 text=True).stdout:
        print("# e2nf-ids built without Hyperscan: Aho-Corasick only")
        matchers = ["ac"]
    for m in matchers:
        for mode, ins in (("behind e2nf-reasm", ids_out), ("--own-reassembly", (in0, in1))):
            od = os.path.join(d, "ids-%s-%d" % (m, len(mode)))
            os.mkdir(od)
            args = [IDS, "--rules", rules, "--matcher", m] + (["--own-reassembly"] if mode[0] == "-" else [])
            r, st = run(args, od, ins[0], ins[1])
            check(r.returncode == 0, "%s %s ran (%s)" % (m, mode, r.stderr.strip()[-200:]))
            alerts = {k: st.get("alerts_sid_%d" % k) for k in (1, 2, 3, 4, 5)}
            check(alerts == {1: "1", 2: "1", 3: "0", 4: "2", 5: "0"},
                  "%s %s: the split keyword is flagged once, the clean flow and the reply are not: %s" %
                  (m, mode, alerts))
            check(r.stderr.count("sid=1 ") == 1 and ":40000 -> 10.0.0.2:80" in r.stderr,
                  "%s %s: the alert names the flow" % (m, mode))
            if mode[0] == "-":
                check(st.get("own_frames") != "0" and st.get("trusted_frames") == "0" and
                      st.get("reasm_out_of_order") not in (None, "0"), "%s: reassembled itself" % m)
            else:
                bare = len([p for p in a_s + c_s + a_c + c_c if p[TCP].flags == "A" and not len(p[TCP].payload)])
                check(st.get("own_frames") == "0" and st.get("bare_acks") == str(bare) and
                      st.get("trusted_frames") == str(len(a_s + c_s + a_c + c_c) - bare),
                      "%s: trusted e2nf-reasm for every frame but bare ACKs (%s own, %s trusted, %s bare ACKs)" %
                      (m, st.get("own_frames"), st.get("trusted_frames"), st.get("bare_acks")))

    # a drop rule: the frame completing the keyword and the rest of that flow go
    drop_rules = os.path.join(d, "drop.rules")
    open(drop_rules, "w").write('drop tcp any any -> any 80 (msg:"evil"; content:"EVILKEYWORD"; sid:9;)\n')
    for mode, ins in (("behind e2nf-reasm", ids_out), ("--own-reassembly", (in0, in1))):
        od = os.path.join(d, "drop-%d" % len(mode))
        os.mkdir(od)
        r, st = run([IDS, "--rules", drop_rules] + (["--own-reassembly"] if mode[0] == "-" else []), od, *ins)
        passed = rdpcap(os.path.join(od, "out1.pcap")) + rdpcap(os.path.join(od, "out0.pcap"))
        ports = [Ether(strip_nsh(bytes(p))[0])[TCP] for p in passed]
        attack_after = [t for t in ports if 40000 in (t.sport, t.dport) and (t.flags & 0x01)]
        clean = [t for t in ports if 40001 in (t.sport, t.dport)]
        check(st.get("alerts_sid_9") == "1" and st.get("flows_dropped") == "1" and not attack_after and
              len(clean) == len(c_s + c_c),
              "%s: drop rule drops the rest of the flow (no FIN passes), the clean flow passes whole (%s)" %
              (mode, {k: st.get(k) for k in ("alerts_sid_9", "flows_dropped", "dropped_frames")}))

    # bad rule files: FILE:LINE
    bad = [
        ('alert udp any any -> any 53 (content:"x"; sid:1;)', ":1: protocol 'udp'"),
        ('\nalert tcp any any -> any 80 (content:"x";)', ":2: a rule needs a sid"),
        ('alert tcp any any -> any 80 (content:"x"; sid:1;)\nalert tcp any any -> any 80 (content:"y"; sid:1;)',
         ":2: the same sid as line 1"),
        ('alert tcp 10.0.0.300 any -> any 80 (content:"x"; sid:1;)', ":1: '10.0.0.300' is not an IPv4 address"),
        ('alert tcp any any -> any 80 (content:"|4|"; sid:1;)', ":1: content: odd number of hex digits"),
        ('alert tcp any any -> any 80 (content:"abc"; depth:2; sid:1;)', ":1: depth is shorter"),
        ('alert tcp any any -> any 80 (pcre:"/x/"; sid:1;)', ":1: unknown option 'pcre'"),
        ('alert tcp any any => any 80 (content:"x"; sid:1;)', ":1: direction '=>'"),
    ]
    for text, want in bad:
        path = os.path.join(d, "bad.rules")
        open(path, "w").write(text + "\n")
        r = subprocess.run([IDS, "--rules", path, "--check"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and (path + want) in r.stderr, "refused: %s -> %s" % (want, r.stderr.strip()))
    r = subprocess.run([IDS, "--rules", rules, "--check"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "rules=5" in r.stdout, "--check accepts the good rules: %s" % r.stdout.split())
    r = subprocess.run([REASM, "--flows", "0", "--check"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "--flows" in r.stderr, "e2nf-reasm refuses --flows 0: %s" % r.stderr.strip())

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
