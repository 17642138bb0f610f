"""Read bar codes from PGM pictures with zxing-cpp (a decoder this project did not write).

Usage: python zxing_read.py [--bytes] PICTURE.pgm ...
Prints one line per picture: the picture, then tab-separated `format|text` for each
symbol found (none: nothing after the picture's name); with --bytes, `format|hex` of the
symbol's data bytes as they were encoded (for binary data, such as Shift_JIS text). `.ci/run` installs zxing-cpp and
numpy into target/zxing-venv.
"""
import sys

import numpy
import zxingcpp


def read_pgm(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, width, height, maxval, rest = data.split(maxsplit=4)
    assert magic == b"P5" and maxval == b"255", path
    return numpy.frombuffer(rest, dtype=numpy.uint8).reshape(int(height), int(width))


args = sys.argv[1:]
as_bytes = bool(args) and args[0] == "--bytes"
if as_bytes:
    args = args[1:]

for path in args:
    image = read_pgm(path)
    found = zxingcpp.read_barcodes(image, try_rotate=False)
    if as_bytes:
        fields = [f"{b.format.name}|{bytes(b.bytes).hex()}" for b in found]
    else:
        fields = [f"{b.format.name}|{b.text}" for b in found]
    print("\t".join([path] + fields))
