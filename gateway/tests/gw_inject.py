#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Takes Embark frames from a cloud-side pcap and sends damaged copies on an interface
(run inside the cloud namespace): one byte flipped in the option's SIV, one flipped in the
payload, one flipped in the sealed part, and one cut short. Prints how many of each kind.

usage: gw_inject.py PCAP IFACE DST_MAC COUNT"""
import socket
import struct
import sys

sys.path.insert(0, __file__.rsplit('/', 1)[0])
from gw_cloud_check import frames  # noqa: E402


def main():
    pcap, iface, dst, count = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3].replace(':', '')), int(sys.argv[4])
    picked = [fr for fr in frames(pcap) if fr[:6] == dst and fr[12:14] == b'\x86\xdd' and len(fr) >= 14 + 40 + 48 + 20]
    picked = picked[:count]
    if not picked:
        sys.exit('no frames to damage')
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    kinds = {'siv': 0, 'payload': 0, 'sealed': 0, 'short': 0}
    for fr in picked:
        fr = bytearray(fr)
        ip = 14
        opt = ip + 40
        for kind, off in (('siv', opt + 10 + 3), ('payload', len(fr) - 5), ('sealed', opt + 26 + 2)):
            d = bytearray(fr)
            d[off] ^= 0x40
            s.send(bytes(d))
            kinds[kind] += 1
        d = bytes(fr[:len(fr) - 30])  # the IPv6 payload length now says more than there is
        s.send(d)
        kinds['short'] += 1
    print(' '.join(f'{k}={v}' for k, v in kinds.items()))


if __name__ == '__main__':
    main()
