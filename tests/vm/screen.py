#!/usr/bin/env python3
"""Host side of the kernel tier's screen check (tests/vm/run starts it next to QEMU).

The guest's display test (`bringup display`) shows a frame, then writes a request on its second
serial port, which QEMU connects to SCREEN_SOCKET:

    frame N WIDTH HEIGHT SEED CHECKSUM

This script takes a `screendump` through QEMU's monitor (MONITOR_SOCKET), compares every pixel
with pattern SEED, and answers

    screen N WIDTH HEIGHT DIFFERING FIRST      (FIRST: x,y:got/want of the first difference, or -)
    error N REASON

Pattern SEED's pixel (x, y), each channel mod 256: R = 3x + 85 (x >> 8) + 67 SEED,
G = 5y + 51 (y >> 8) + 29 SEED, B = (x xor y) + 13 ((x + y) >> 8) + 101 SEED; the formula of
crates/vmtest/src/bin/bringup/display.rs. CHECKSUM is the guest's FNV-1a
64 of the frame's RGB bytes; a request whose checksum differs from this script's own frame is
answered with an error rather than compared, so the two copies of the formula cannot drift.

Usage: screen.py MONITOR_SOCKET SCREEN_SOCKET DUMP_DIR   (exits when QEMU closes the sockets)
       screen.py --self-test
"""
import os
import socket
import sys
import time


def pixel(x, y, seed):
    return (
        (3 * x + 85 * (x >> 8) + 67 * seed) & 0xFF,
        (5 * y + 51 * (y >> 8) + 29 * seed) & 0xFF,
        ((x ^ y) + 13 * ((x + y) >> 8) + 101 * seed) & 0xFF,
    )


def frame(width, height, seed):
    """The expected frame as RGB bytes, row by row."""
    rows = []
    for y in range(height):
        row = bytearray(3 * width)
        for x in range(width):
            row[3 * x : 3 * x + 3] = bytes(pixel(x, y, seed))
        rows.append(bytes(row))
    return b"".join(rows)


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_ppm(path):
    """(width, height, RGB bytes) of a binary PPM (P6, maxval 255) as QEMU writes it."""
    with open(path, "rb") as f:
        data = f.read()
    fields = []
    pos = 0
    while len(fields) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1  # the single whitespace byte before the pixels
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(f"not a P6/255 PPM: {fields}")
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos : pos + 3 * width * height]
    if len(pixels) != 3 * width * height:
        raise ValueError(f"{len(pixels)} pixel bytes for {width}x{height}")
    return width, height, pixels


def connect(path, deadline):
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Monitor:
    """QEMU's human monitor: one command at a time, each answered by the next prompt."""

    def __init__(self, sock):
        self.sock = sock
        self.read_prompt()

    def read_prompt(self):
        out = b""
        while not out.endswith(b"(qemu) "):
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("the monitor closed")
            out += chunk
        return out.decode(errors="replace")

    def command(self, text):
        self.sock.sendall(text.encode() + b"\n")
        return self.read_prompt()


def answer(monitor, dump_dir, words):
    n, width, height, seed, checksum = words[1], int(words[2]), int(words[3]), int(words[4]), words[5]
    expected = frame(width, height, seed)
    if f"{fnv1a(expected):016x}" != checksum:
        return f"error {n} pattern-mismatch: the guest's checksum {checksum} is not this script's"
    path = os.path.join(dump_dir, f"frame-{n}.ppm")
    if os.path.exists(path):
        os.unlink(path)
    reply = monitor.command(f"screendump {path}")
    if not os.path.exists(path):
        return f"error {n} screendump wrote nothing: {' '.join(reply.split())[:200]}"
    sw, sh, got = read_ppm(path)
    if (sw, sh) != (width, height):
        return f"screen {n} {sw} {sh} -1 -"
    if got == expected:
        return f"screen {n} {sw} {sh} 0 -"
    differing = 0
    first = "-"
    for i in range(0, len(got), 3):
        if got[i : i + 3] != expected[i : i + 3]:
            if differing == 0:
                x, y = (i // 3) % width, (i // 3) // width
                first = f"{x},{y}:{got[i:i + 3].hex()}/{expected[i:i + 3].hex()}"
            differing += 1
    return f"screen {n} {sw} {sh} {differing} {first}"


def serve(monitor_path, screen_path, dump_dir):
    os.makedirs(dump_dir, exist_ok=True)
    deadline = time.monotonic() + 60
    monitor = Monitor(connect(monitor_path, deadline))
    channel = connect(screen_path, deadline)
    print(f"screen.py: connected to {monitor_path} and {screen_path}", flush=True)
    pending = b""
    while True:
        chunk = channel.recv(4096)
        if not chunk:
            return 0
        pending += chunk
        while b"\n" in pending:
            raw, pending = pending.split(b"\n", 1)
            words = raw.decode(errors="replace").split()
            if len(words) != 6 or words[0] != "frame":
                print(f"screen.py: ignored {raw!r}", flush=True)
                continue
            try:
                reply = answer(monitor, dump_dir, words)
            except (ValueError, OSError) as e:
                reply = f"error {words[1]} {type(e).__name__}: {e}"
            print(f"screen.py: {' '.join(words)} -> {reply}", flush=True)
            channel.sendall(reply.encode() + b"\n")


def self_test():
    # The same values as the guest's unit test of its formula.
    assert pixel(10, 20, 2) == (164, 158, 232)
    assert pixel(300, 600, 1) == (
        (900 + 85 + 67) & 0xFF,
        (3000 + 102 + 29) & 0xFF,
        ((300 ^ 600) + 13 * 3 + 101) & 0xFF,
    )
    # A frame past 256 in both directions, as the guest's unit test hashes it.
    assert fnv1a(frame(300, 270, 2)) == 0x5ED6FF1898DD6818
    f = frame(4, 3, 1)
    assert f[3 * (2 * 4 + 1) : 3 * (2 * 4 + 1) + 3] == bytes(pixel(1, 2, 1))
    print("screen.py: self-test passed")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        sys.exit(serve(*sys.argv[1:]))
    except (OSError, EOFError) as e:
        print(f"screen.py: {e}", flush=True)
        sys.exit(0)
