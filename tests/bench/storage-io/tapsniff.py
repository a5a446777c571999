#!/usr/bin/python3
"""tests/bench/storage-io/tapsniff.py: how long a LegoOS node holds each RPC call.

    ip netns exec NS tapsniff.py IFACE    (stops at EOF on stdin or SIGTERM/SIGINT)

Captures on IFACE (a node's tap, in the rack's namespace) with an AF_PACKET
socket and kernel receive timestamps (SO_TIMESTAMPNS), picks out LegoOS RPC
datagrams (include/uapi/lego/rpc.h, UDP, magic "LG") and, per call (client
epoch, call id), notes when the last request fragment went to the node and
when the first and last reply fragments came back. On exit it prints one
JSON line

    tap: {"groups": [{"opcode": N, "req_len": N, "reply_len": N, "n": N,
                      "first_med_ns": N, "last_med_ns": N, "last_mean_ns": N}, ...]}

grouped by (opcode, request length, reply length); only complete calls seen
once in each direction are counted. "last" is the time the node held the
call, from the request's last frame entering its tap to the reply's last
frame leaving it: the emulated NIC, the node's network stack and RPC layer,
the handler, and (storage) its disk. The rest of a client's figure is the
client's own host side (its system calls, the bridge).

Used by tests/bench/storage-io/run in a separate pass (it costs host CPU per
frame, so the main figures are taken without it).
"""

import json
import select
import signal
import socket
import statistics
import struct
import sys

ETH_P_ALL = 3
SO_TIMESTAMPNS = 35
RPC_MAGIC = 0x474c
HDR = struct.Struct("<HBBHHIIQIIH")     # the first 34 bytes of struct lego_rpc_hdr


class Stop(Exception):
    pass


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2

    def on_signal(signum, frame):
        raise Stop()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((sys.argv[1], 0))
    calls = {}
    print("tap: capturing", flush=True)
    try:
        while True:
            r, _, _ = select.select([s, sys.stdin], [], [], 1.0)
            if sys.stdin in r and not sys.stdin.readline():
                break
            if s not in r:
                continue
            data, anc, _, _ = s.recvmsg(65536, 256)
            ts = None
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, ns = struct.unpack("qq", d[:16])
                    ts = sec * 1000000000 + ns
            if ts is None or len(data) < 14 + 20 + 8 + 48 or data[12:14] != b"\x08\x00":
                continue
            ihl = (data[14] & 15) * 4
            if data[14 + 9] != 17:
                continue
            u = 14 + ihl
            if len(data) < u + 8 + 48:
                continue
            magic, _, typ, opc, _, _, epoch, cid, mlen, foff, flen = HDR.unpack_from(data, u + 8)
            if magic != RPC_MAGIC or typ not in (1, 2):
                continue
            c = calls.setdefault((epoch, cid), {"opcode": opc})
            last = foff + flen >= mlen
            if typ == 1:
                c["req_len"] = mlen
                if last:
                    c["req_n"] = c.get("req_n", 0) + 1
                    c["req_last"] = ts
            else:
                c["reply_len"] = mlen
                c.setdefault("rep_first", ts)
                if last:
                    c["rep_n"] = c.get("rep_n", 0) + 1
                    c["rep_last"] = ts
    except Stop:
        pass
    groups = {}
    for c in calls.values():
        if c.get("req_n") != 1 or c.get("rep_n") != 1 or c["rep_last"] < c["req_last"]:
            continue    # retransmitted, incomplete or reordered: not a clean sample
        groups.setdefault((c["opcode"], c["req_len"], c["reply_len"]), []).append(
            (c["rep_first"] - c["req_last"], c["rep_last"] - c["req_last"]))
    out = []
    for (opc, ql, pl), l in sorted(groups.items()):
        first = sorted(x[0] for x in l)
        last = sorted(x[1] for x in l)
        out.append({"opcode": opc, "req_len": ql, "reply_len": pl, "n": len(l),
                    "first_med_ns": first[len(first) // 2], "last_med_ns": last[len(last) // 2],
                    "last_mean_ns": int(statistics.mean(last))})
    print("tap: " + json.dumps({"groups": out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
