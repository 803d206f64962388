#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Reads a pcap taken on the cloud side of embark-gw and checks that nothing of the
enterprise crosses in clear: every frame is IPv6 with an Embark destination option, no
address is an enterprise one (plain or IPv4-mapped), and none of the given plaintext
byte strings occurs anywhere in a frame. Prints frames per epoch (flow label) and, with
--after EPOCH, how many frames of older epochs came after the first of EPOCH.

usage: gw_cloud_check.py PCAP --addr A.B.C.D ... --text FILE ... [--chunks FILE]"""
import argparse
import socket
import struct
import sys


def frames(path):
    with open(path, 'rb') as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack('<I', head[:4])[0]
        end = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
        link = struct.unpack(end + 'I', head[20:24])[0]
        if link != 1:
            sys.exit(f'{path}: link type {link}, expected Ethernet')
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            incl = struct.unpack(end + 'I', rec[8:12])[0]
            yield f.read(incl)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('pcap')
    ap.add_argument('--addr', action='append', default=[])
    ap.add_argument('--text', action='append', default=[], help='a string that must not appear')
    ap.add_argument('--chunks', action='append', default=[],
                    help='a file: 64 of its 24-byte pieces must not appear')
    ap.add_argument('--min-frames', type=int, default=1)
    ap.add_argument('--after', type=int, help='count older epochs\' frames after the first of this epoch')
    ap.add_argument('--split', metavar='DIR:MAC',
                    help='write DIR/epoch-N-to.pcap (frames to MAC) and DIR/epoch-N-from.pcap (the others)')
    ap.add_argument('--own-mac', action='append', default=[],
                    help="the cloud's own interfaces: their frames (e.g. a bridge's IGMP) are skipped")
    a = ap.parse_args()
    needles = [t.encode() for t in a.text]
    for path in a.chunks:
        data = open(path, 'rb').read()
        step = max(1, (len(data) - 24) // 64)
        needles += [data[i:i + 24] for i in range(0, len(data) - 24, step)]
    addrs = [socket.inet_aton(x) for x in a.addr]
    bad = 0
    per_epoch = {}
    order = []
    n = 0
    own = [bytes.fromhex(m.replace(':', '')) for m in a.own_mac]
    split = {}
    if a.split:
        split_dir, split_mac = a.split.split(':', 1)
        split_mac = bytes.fromhex(split_mac.replace(':', ''))
    skipped = 0
    for fr in frames(a.pcap):
        if fr[6:12] in own:
            skipped += 1
            continue
        n += 1
        if len(fr) < 14 + 48 or fr[12:14] != b'\x86\xdd':
            print(f'frame {n}: not IPv6 (ethertype {fr[12:14].hex()}): {fr[:64].hex()}')
            bad += 1
            continue
        ip = fr[14:]
        if ip[6] != 60 or ip[42] != 0x1e:
            print(f'frame {n}: no Embark option first')
            bad += 1
        for addr in addrs:
            for field in (ip[8:24], ip[24:40]):
                if field == b'\0' * 10 + b'\xff\xff' + addr or addr in field:
                    print(f'frame {n}: enterprise address {socket.inet_ntoa(addr)} in an IPv6 address')
                    bad += 1
        for nd in needles:
            if nd in fr:
                print(f'frame {n}: plaintext {nd[:24]!r} in the frame')
                bad += 1
                break
        label = ((ip[1] & 15) << 16 | ip[2] << 8 | ip[3]) & 0x7ffff  # bit 19: made records
        per_epoch[label] = per_epoch.get(label, 0) + 1
        if a.split:
            name = f"{split_dir}/epoch-{label}-{'to' if fr[:6] == split_mac else 'from'}.pcap"
            if name not in split:
                split[name] = open(name, 'wb')
                split[name].write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
            split[name].write(struct.pack('<IIII', 0, n, len(fr), len(fr)) + fr)
        order.append(label)
    for f in split.values():
        f.close()
    for e in sorted(per_epoch):
        print(f'epoch {e} frames {per_epoch[e]}')
    # frames of older epochs after the first frame of epoch --after: flows that went on
    # under the map they started with
    if a.after is not None and a.after in per_epoch:
        first = order.index(a.after)
        late = sum(1 for x in order[first:] if x < a.after)
        print(f'older_after {late}')
    runs = []
    for x in order:
        if runs and runs[-1][0] == x:
            runs[-1][1] += 1
        else:
            runs.append([x, 1])
    print('label_runs ' + ' '.join(f'{x}x{c}' for x, c in runs[:40]))
    print(f'frames {n} bad {bad} (the cloud\'s own: {skipped})')
    if n < a.min_frames:
        print(f'only {n} frames captured')
        return 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
