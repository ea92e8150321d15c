#!/usr/bin/env python3
"""Writes damaged copies of a .mub artifact: corrupt_mub.py IN OUT_DIR"""
import os
import struct
import sys

src, out = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
os.makedirs(out, exist_ok=True)


def write(name, b):
    with open(os.path.join(out, name), "wb") as f:
        f.write(b)


write("truncated.mub", data[: len(data) // 2])
write("tiny.mub", data[:20])
write("bad-magic.mub", b"MUX\0" + data[4:])
write("version9.mub", data[:4] + struct.pack("<I", 9) + data[8:])
# The FlatBuffer root offset (first 4 bytes at 64) pointing far outside.
write("bad-root.mub", data[:64] + struct.pack("<I", 0x7FFFFFF0) + data[68:])
# A header whose data section claims more bytes than the file has.
hdr = bytearray(data[:64])
fb_size = struct.unpack_from("<Q", hdr, 16)[0]
data_size = struct.unpack_from("<Q", hdr, 32)[0]
struct.pack_into("<Q", hdr, 32, data_size + 4096)
write("data-past-end.mub", bytes(hdr) + data[64:])
