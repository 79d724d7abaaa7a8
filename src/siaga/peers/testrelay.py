"""A delaying, lossy relay of frames between two interfaces, for the tests (``PeerLink.slow``).

Run inside the middle namespace of a :class:`~siaga.peers.testlink.PeerLink` (``ip netns exec``)::

    python -m siaga.peers.testrelay checksums-off IF  # in each outer namespace, once
    python -m siaga.peers.testrelay IF_A MAC_A IF_B MAC_B --delay 0.2 --jitter 0.05 --loss 0.1

This kernel has no netem and no nftables/iptables, so the relay takes the frames itself: an ``AF_PACKET``
socket on each of the middle's two interfaces, the kernel's forwarding in that namespace turned off
(``net.ipv4.ip_forward=0``: it drops what it is not the end of, the relay has a copy), and every IPv4 frame
that arrived for the middle's MAC (the outer ends route through the middle: it is their gateway) but is not
for the middle's own addresses is sent out of the other interface after ``delay`` ± ``jitter`` seconds, or
dropped with probability ``loss``. A routed hop rather than a bridge because the middle's MACs are the only
ones the outer ends know: ARP stays with the kernel (it answers for the gateway addresses) and the relay only
rewrites the Ethernet header (destination: the other side's MAC, source: the middle's own on that side).
On exit (SIGTERM) forwarding goes back to the kernel.

The outer ends must send full checksums (their tx checksum offload off, :func:`checksums_off`): a veth
hands the frame over with the checksum left to do, which the kernel would finish when forwarding but a
frame written to a packet socket is sent as it is.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import fcntl
import heapq
import random
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PACKET_HOST = 0
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x00000017
FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def checksums_off(name: str) -> None:
    """Turn off tx checksum offload on ``name`` (in this process's namespace): ``ethtool -K NAME tx off``."""
    value = array.array("I", [ETHTOOL_STXCSUM, 0])  # struct ethtool_value: u32 cmd, u32 data
    addr, _ = value.buffer_info()
    ifreq = struct.pack("16sP", name.encode(), addr) + b"\0" * 16
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def own_mac(name: str) -> bytes:
    return mac_bytes(Path(f"/sys/class/net/{name}/address").read_text().strip())


def relay(a: str, mac_a: str, b: str, mac_b: str, *, delay: float, jitter: float, loss: float,
          own: set[bytes], rng: random.Random) -> None:
    socks = {}
    for name in (a, b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setblocking(False)
        socks[name] = s
    # a frame in from one side goes out of the other, addressed to that side's outer end from the middle
    header = {a: mac_bytes(mac_b) + own_mac(b), b: mac_bytes(mac_a) + own_mac(a)}
    out = {a: socks[b], b: socks[a]}
    by_fd = {s.fileno(): name for name, s in socks.items()}
    queue: list[tuple[float, int, socket.socket, bytes]] = []
    seq = 0
    running = True

    def stop(_sig: int, _frame: object) -> None:
        nonlocal running
        running = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    while running:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, sock, frame = heapq.heappop(queue)
            with contextlib.suppress(OSError):  # the other side is down (a cut while slow): lost, as on a wire
                sock.send(frame)
        wait = max(0.0, queue[0][0] - now) if queue else 0.5
        try:
            ready, _, _ = select.select(list(socks.values()), [], [], wait)
        except InterruptedError:
            continue
        for s in ready:
            name = by_fd[s.fileno()]
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] != PACKET_HOST or len(frame) < 34 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
                    continue  # ours going out, ARP (the kernel answers it), not IPv4
                if frame[30:34] in own:
                    continue  # for the middle itself
                if rng.random() < loss:
                    continue
                due = time.monotonic() + max(0.0, delay + rng.uniform(-jitter, jitter))
                seq += 1
                heapq.heappush(queue, (due, seq, out[name], header[name] + frame[12:]))
    for s in socks.values():
        s.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["checksums-off"]:  # run in an outer end's namespace before the relay starts
        for name in argv[1:]:
            checksums_off(name)
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("a")
    p.add_argument("mac_a")
    p.add_argument("b")
    p.add_argument("mac_b")
    p.add_argument("--delay", type=float, default=0.2)
    p.add_argument("--jitter", type=float, default=0.0)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--own", action="append", default=[], help="an address of the middle (not relayed)")
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    FORWARD.write_text("0\n")
    try:
        relay(args.a, args.mac_a, args.b, args.mac_b, delay=args.delay, jitter=args.jitter, loss=args.loss,
              own={socket.inet_aton(x) for x in args.own}, rng=random.Random(args.seed))
    finally:
        FORWARD.write_text("1\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
