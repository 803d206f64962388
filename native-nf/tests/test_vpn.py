#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2nf-vpn offline (pcaps in, pcaps out): one instance encrypts, a second one configured
as its peer decrypts what the first wrote, and the inner frames come out byte for byte.
Tampered (any flipped bit), cut short, replayed and too old ESP packets are dropped and
counted, never decrypted into frames; key files readable by others are refused; bad
configurations are refused with FILE:LINE; no key appears in any output."""
import os
import random
import struct
import subprocess
import sys
import tempfile

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap

VPN = sys.argv[1]
failures = 0
KEY128 = "00112233445566778899aabbccddeeff" + "deadbeef"
KEY256 = "ffeeddccbbaa99887766554433221100" * 2 + "cafef00d"
KEY_B = "0f1e2d3c4b5a69788796a5b4c3d2e1f0" + "01020304"


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what)
    failures += 0 if cond else 1


def run(d, conf, in0, in1, outdir):
    os.makedirs(outdir, exist_ok=True)
    r = subprocess.run([VPN, "--config", conf, "--offline", outdir, "--port", in0, "--port", in1],
                       capture_output=True, text=True, timeout=120)
    stats = dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)
    return r, stats


def pcap_frames(path):
    return [bytes(p) for p in rdpcap(path)] if os.path.exists(path) else []


def write_raw(path, frames, t0=1.0):
    pkts = []
    for i, f in enumerate(frames):
        p = Ether(f)
        p.time = t0 + i * 0.001
        pkts.append(p)
    wrpcap(path, pkts)


with tempfile.TemporaryDirectory() as d:
    for name, hexkey in (("a2b.key", KEY128), ("b2a.key", KEY_B), ("wide.key", KEY256)):
        with open(os.path.join(d, name), "w") as f:
            f.write(hexkey + "\n")
        os.chmod(os.path.join(d, name), 0o600)
    conf_a = os.path.join(d, "a.conf")
    conf_b = os.path.join(d, "b.conf")
    open(conf_a, "w").write(
        "# site A: 10.0.1.0/24 behind 192.0.2.1\n"
        "sa out spi=0x1001 peer=192.0.2.2 local=192.0.2.1 dst=10.0.2.0/24 key=@a2b.key\n"
        "sa out spi=0x1002 peer=192.0.2.2 local=192.0.2.1 dst=10.0.2.128/25 key=@wide.key  # longer prefix wins\n"
        "sa in spi=0x2001 peer=192.0.2.2 local=192.0.2.1 src=10.0.2.0/24 key=@b2a.key\n")
    open(conf_b, "w").write(
        "sa in spi=0x1001 peer=192.0.2.1 local=192.0.2.2 src=10.0.1.0/24 key=@a2b.key\n"
        "sa in spi=0x1002 peer=192.0.2.1 local=192.0.2.2 src=10.0.1.0/24 window=128 key=@wide.key\n"
        "sa out spi=0x2001 peer=192.0.2.1 local=192.0.2.2 dst=10.0.1.0/24 key=@b2a.key\n")

    r = subprocess.run([VPN, "--config", conf_a, "--check"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "2 outbound and 1 inbound" in r.stdout, "--check reads the SAs and keys: %s" % r.stdout.strip())

    # --- A encrypts: every size of payload (all paddings), three protocols ---
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    marker = b"PLAINTEXT-MARKER"
    inner = []
    for i in range(120):
        dst = "10.0.2.%d" % (7 if i % 3 else 200)
        l4 = [TCP(sport=1000 + i, dport=80, flags="PA"), UDP(sport=2000 + i, dport=53), ICMP(id=i, seq=i)][i % 3]
        inner.append(bytes(eth / IP(src="10.0.1.5", dst=dst, id=i) / l4 / Raw(marker + bytes(range(i % 40)) * (1 + i % 7))))
    arp = bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.0.1.1"))
    unprotected = bytes(eth / IP(src="10.0.1.5", dst="10.0.9.9") / UDP() / Raw(marker))
    write_raw(os.path.join(d, "plain.pcap"), inner + [arp, unprotected])
    wrpcap(os.path.join(d, "empty.pcap"), [])
    r, sa = run(d, conf_a, os.path.join(d, "plain.pcap"), os.path.join(d, "empty.pcap"), os.path.join(d, "a"))
    check(r.returncode == 0, "A ran offline (%s)" % r.stderr.strip()[-200:])
    esp = pcap_frames(os.path.join(d, "a", "out1.pcap"))
    check(len(esp) == 121 and sa.get("encrypted") == "120" and sa.get("non_ip_passed") == "1" and
          sa.get("unprotected_dropped") == "1",
          "A: 120 encrypted, ARP passed, the unprotected packet dropped (%d frames out)" % len(esp))
    check(sum(sa.get("sa_out_%d_packets" % s) and int(sa["sa_out_%d_packets" % s]) or 0 for s in (0x1001, 0x1002)) == 120 and
          sa.get("sa_out_4098_packets") == "40", "A: the /25 selector (AES-256) took the 40 packets to 10.0.2.200")
    esp_only = [f for f in esp if Ether(f).haslayer(IP)]
    check(all(marker not in f for f in esp), "no plaintext marker in anything A sent to the tunnel")
    e0 = Ether(esp_only[0])
    check(e0[IP].proto == 50 and e0[IP].src == "192.0.2.1" and e0[IP].dst == "192.0.2.2" and
          bytes(e0[IP].payload)[:8] == struct.pack(">II", 0x1002, 1),
          "outer IPv4 192.0.2.1 -> 192.0.2.2, ESP, SPI 0x1002 (to 10.0.2.200), sequence 1")
    check(all(len(bytes(Ether(f)[IP].payload)) % 4 == 0 and Ether(f)[IP].len == len(Ether(f)[IP]) for f in esp_only),
          "ESP payload 4-byte aligned, outer length right")
    key_bytes = [bytes.fromhex(k[:-8]) for k in (KEY128, KEY256, KEY_B)]
    check(not any(k in f for k in key_bytes for f in esp), "no key bytes on the wire")
    check(not any(k in (r.stdout + r.stderr) for k in (KEY128, KEY256, KEY_B, KEY128[:20])), "no key in A's output")

    # --- B decrypts: byte-identical inner frames ---
    r, sb = run(d, conf_b, os.path.join(d, "empty.pcap"), os.path.join(d, "a", "out1.pcap"), os.path.join(d, "b"))
    check(r.returncode == 0, "B ran offline (%s)" % r.stderr.strip()[-200:])
    got = pcap_frames(os.path.join(d, "b", "out0.pcap"))
    check(got == inner + [arp], "B: the 120 inner frames byte for byte (and the ARP) (%d frames)" % len(got))
    check(sb.get("decrypted") == "120" and sb.get("auth_failures") == "0" and sb.get("sa_in_4097_seq") == "80" and
          sb.get("sa_in_4098_seq") == "40", "B: counters (decrypted 120, highest sequence per SA)")

    # --- tampering, truncation, replays and the window ---
    rnd = random.Random(7)
    s1 = [f for f in esp_only if bytes(Ether(f)[IP].payload)[:4] == struct.pack(">I", 0x1001)]  # 80 packets, seq 1..80
    attack = []
    want_auth = 0
    for f in s1[:30]:
        b = bytearray(f)
        pos = rnd.randrange(14 + 20 + 4, len(b))  # past SPI: seq, IV, ciphertext, ICV
        b[pos] ^= 1 << rnd.randrange(8)
        attack.append(bytes(b))
        want_auth += 1
    cut = bytearray(s1[40])
    cut = cut[:-4]                                   # ICV cut short: 4-byte aligned, fails authentication
    cut[16:18] = struct.pack(">H", len(cut) - 14)
    trunc = bytearray(s1[41][:14 + 20 + 8 + 8 + 3])  # shorter than any ESP packet
    trunc[16:18] = struct.pack(">H", len(trunc) - 14)
    forged_seq = bytearray(s1[42])
    forged_seq[14 + 20 + 4:14 + 20 + 8] = struct.pack(">I", 1000)   # would move the window if it were believed
    order = list(range(80))
    order[50], order[51] = order[51], order[50]      # reordered inside the window: accepted
    legit = [s1[i] for i in order[:79]]              # seq 80 comes last, after the late ones
    late = [s1[3]]                                   # seq 4: before seq 80 arrives, inside the window -> replay
    replays = [s1[10], s1[60]]                       # already accepted
    after = [s1[79], s1[5]]                          # seq 80 moves top to 80; seq 6 is then 74 old: replayed anyway
    frames = attack + [bytes(cut), bytes(trunc), bytes(forged_seq)] + legit + late + replays + after
    write_raw(os.path.join(d, "attack.pcap"), frames)
    r, sc = run(d, conf_b, os.path.join(d, "empty.pcap"), os.path.join(d, "attack.pcap"), os.path.join(d, "c"))
    got = pcap_frames(os.path.join(d, "c", "out0.pcap"))
    inner1 = [f for f in inner if Ether(f)[IP].dst != "10.0.2.200"]
    check(got == [inner1[i] for i in order], "only the 80 authentic packets decrypted, in arrival order, byte for byte (%d)" % len(got))
    check(sc.get("auth_failures") == str(want_auth + 2) and sc.get("sa_in_4097_auth_failures") == str(want_auth + 2),
          "every flipped bit and the cut ICV and forged sequence number failed authentication (%s)" % sc.get("auth_failures"))
    check(sc.get("truncated") == "1", "the short packet counted as truncated")
    check(sc.get("replays") == "4" and sc.get("sa_in_4097_replays") == "4", "4 replays counted (%s)" % sc.get("replays"))
    check(sc.get("sa_in_4097_seq") == "80", "the forged sequence number did not move the window")
    check(int(sc.get("drops", -1)) == want_auth + 2 + 1 + 4, "every rejected packet was dropped by the NF")

    # --- the other direction: B encrypts, A decrypts ---
    replies = [bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / IP(src="10.0.2.7", dst="10.0.1.5") /
                     TCP(sport=80, dport=1000 + i, flags="A") / Raw(b"r" * i)) for i in range(10)]
    spoofed = bytes(Ether() / IP(src="10.0.7.7", dst="10.0.1.5") / UDP())
    write_raw(os.path.join(d, "replies.pcap"), replies)
    r, _ = run(d, conf_b, os.path.join(d, "replies.pcap"), os.path.join(d, "empty.pcap"), os.path.join(d, "e"))
    r, sa2 = run(d, conf_a, os.path.join(d, "empty.pcap"), os.path.join(d, "e", "out1.pcap"), os.path.join(d, "f"))
    check(pcap_frames(os.path.join(d, "f", "out0.pcap")) == replies, "B -> A: the replies byte for byte")

    # --- keys and configurations refused ---
    os.chmod(os.path.join(d, "b2a.key"), 0o644)
    r = subprocess.run([VPN, "--config", conf_a, "--check"], capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "a.conf:4:" in r.stderr and "mode 0644" in r.stderr and KEY_B[:8] not in r.stderr,
          "a key file others can read is refused with its line: %s" % r.stderr.strip())
    os.chmod(os.path.join(d, "b2a.key"), 0o600)
    with open(os.path.join(d, "bad.key"), "w") as f:
        f.write(KEY128[:-2] + "zz\n")
    os.chmod(os.path.join(d, "bad.key"), 0o600)
    bad = [
        ("sa out spi=4096 peer=1.2.3.4 local=1.2.3.5 key=@a2b.key\n", ":1: sa out needs dst=NET/LEN"),
        ("\nsa sideways spi=4096\n", ":2: 'sa' is followed by 'out' or 'in'"),
        ("sa in spi=7 peer=1.2.3.4 local=1.2.3.5 key=@a2b.key\n", ":1: spi"),
        ("sa in spi=4096 peer=1.2.3.4 local=1.2.3.5 window=2048 key=@a2b.key\n", ":1: window"),
        ("sa in spi=4096 peer=1.2.3.4 local=1.2.3.5 key=" + KEY128 + "\n", ":1: key takes @FILE"),
        ("sa in spi=4096 peer=1.2.3.x local=1.2.3.5 key=@a2b.key\n", ":1: peer: '1.2.3.x' is not an IPv4 address"),
        ("sa in spi=4096 peer=1.2.3.4 local=1.2.3.5 key=@a2b.key\nsa in spi=4096 peer=1.2.3.4 local=1.2.3.5 key=@a2b.key\n",
         ":2: SPI 4096 is already used by the SA of line 1"),
        ("sa in spi=4096 peer=1.2.3.4 local=1.2.3.5 key=@bad.key\n", ":1: key file"),
        ("sa in spi=4096 peer=1.2.3.4 local=1.2.3.5 key=@missing.key\n", ":1: key file"),
        ("unprotected maybe\n", ":1: expected 'sa out|in"),
        ("# nothing\n", "no 'sa' line"),
    ]
    for i, (text, want) in enumerate(bad):
        p = os.path.join(d, "bad%d.conf" % i)
        open(p, "w").write(text)
        r = subprocess.run([VPN, "--config", p, "--check"], capture_output=True, text=True, timeout=30)
        check(r.returncode != 0 and ("bad%d.conf" % i) + want in r.stderr.replace(p, "bad%d.conf" % i) or
              (want.startswith(":") is False and want in r.stderr),
              "refused: %s" % r.stderr.strip())
        check(KEY128 not in r.stderr and "00112233" not in r.stderr, "no key in the refusal")
    r = subprocess.run([VPN, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "sa out spi=N" in r.stdout, "--help is a manual")

print("%d failed" % failures)
sys.exit(1 if failures else 0)
