#!/usr/bin/env python3
"""Damaged copies of a valid .mub or .mua (test/Malformed/mub.test, the
same 64-byte header): damage_mub.py IN OUT_DIR
Each file breaks one rule the loader checks; its name says which, and it
keeps IN's extension."""
import os
import struct
import sys

src, out = sys.argv[1], sys.argv[2]
ext = os.path.splitext(src)[1]
data = open(src, "rb").read()
os.makedirs(out, exist_ok=True)
# Header: magic, u32 version, u64 flatbuffer offset/size, data offset/size, file size.
version, fb_off, fb_size, d_off, d_size, file_size = struct.unpack_from("<IQQQQQ", data, 4)


def write(name, b):
    with open(os.path.join(out, name + ext), "wb") as f:
        f.write(b)


def header(**kw):
    h = bytearray(data[:64])
    for off, fmt, v in kw.values():
        struct.pack_into(fmt, h, off, v)
    return bytes(h) + data[64:]


def u32_at(off, v):
    b = bytearray(data)
    struct.pack_into("<I", b, off, v)
    return bytes(b)


# Truncation at every section boundary (and one byte short of each).
for name, cut in [("cut-header", 63), ("cut-fb-start", fb_off + 4), ("cut-fb-mid", fb_off + fb_size // 2),
                  ("cut-fb-end", fb_off + fb_size), ("cut-data-start", d_off),
                  ("cut-data-end", d_off + d_size - 1)]:
    write(name, data[:cut])
write("bad-magic", b"MUX\0" + data[4:])
write("version0", data[:4] + struct.pack("<I", 0) + data[8:])
write("file-size", header(a=(40, "<Q", file_size + 1)))
write("fb-offset", header(a=(8, "<Q", 128)))
write("fb-size-past-end", header(a=(16, "<Q", file_size)))
write("data-overlaps-fb", header(a=(24, "<Q", (fb_off + fb_size // 2) // 64 * 64)))
write("data-misaligned", header(a=(24, "<Q", d_off + 1)))
write("data-size-past-end", header(a=(32, "<Q", d_size + 64)))
# The FlatBuffer's file identifier (bytes 4-7 of the buffer).
write("bad-identifier", data[:fb_off + 4] + b"XXXX" + data[fb_off + 8:])
# The root table offset far outside the buffer.
write("root-past-end", u32_at(fb_off, 0x7FFFFFF0))
