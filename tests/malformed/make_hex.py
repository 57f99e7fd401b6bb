#!/usr/bin/env python3
"""Print a binary file as a `hex_files` value for a malformed-input case (tests/malformed/README.md).

Usage:
  make_hex.py FILE                      the file's bytes
  make_hex.py --svhn-mat N [LABEL ...]  an SVHN-style MAT v5 file: X uint8 32x32x3xN of zeros and
                                        y (double, one label per given LABEL; default 1..N), each
                                        variable a zlib-compressed element, so it stays a few hundred bytes

Runs of 8 or more equal bytes are written as XX*N; run_case.py reads that back.
"""
import struct
import sys
import zlib


def hex_tokens(data, width=64):
    tokens, chunk, i = [], "", 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i >= 8:
            if chunk:
                tokens.append(chunk)
                chunk = ""
            tokens.append(f"{data[i]:02x}*{j - i}")
            i = j
            continue
        chunk += f"{data[i]:02x}"
        if len(chunk) >= 32:
            tokens.append(chunk)
            chunk = ""
        i += 1
    if chunk:
        tokens.append(chunk)
    lines, line = [], ""
    for t in tokens:
        if line and len(line) + 1 + len(t) > width:
            lines.append(line)
            line = t
        else:
            line = f"{line} {t}" if line else t
    return lines + ([line] if line else [])


def _pad8(b):
    return b + b"\0" * (-len(b) % 8)


def _element(kind, data):
    return struct.pack("<II", kind, len(data)) + _pad8(data)


def _matrix(name, mx_class, dims, data_type, data):
    # miMATRIX: array flags (miUINT32), dimensions (miINT32), name (miINT8), real part.
    body = _element(6, struct.pack("<II", mx_class, 0))
    body += _element(5, b"".join(struct.pack("<i", d) for d in dims))
    body += _element(1, name.encode())
    body += _element(data_type, data)
    return struct.pack("<II", 14, len(body)) + body


def svhn_mat(n, labels):
    header = b"MATLAB 5.0 MAT-file, esrun malformed test".ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    x = _matrix("X", 9, [32, 32, 3, n], 2, bytes(32 * 32 * 3 * n))  # mxUINT8_CLASS, miUINT8
    y = _matrix("y", 6, [len(labels), 1], 9, b"".join(struct.pack("<d", v) for v in labels))  # mxDOUBLE_CLASS, miDOUBLE
    out = header
    for m in (x, y):
        z = zlib.compress(m, 9)
        out += struct.pack("<II", 15, len(z)) + z  # miCOMPRESSED
    return out


def main(argv):
    if len(argv) >= 3 and argv[1] == "--svhn-mat":
        n = int(argv[2])
        labels = [float(v) for v in argv[3:]] or [float(1 + i % 10) for i in range(n)]
        data = svhn_mat(n, labels)
    elif len(argv) == 2 and not argv[1].startswith("-"):
        with open(argv[1], "rb") as f:
            data = f.read()
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    lines = hex_tokens(data)
    print(">-\n" + "\n".join("    " + line for line in lines) if lines else '""')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
