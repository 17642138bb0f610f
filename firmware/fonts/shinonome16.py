#!/usr/bin/env python3
"""Build firmware/fonts/shinonome16.bin from the Shinonome 16-dot Gothic kanji font.

The source is Debian's `xfonts-shinonome` (public domain): `shnmk16.pcf.gz`, converted to
BDF with Debian's `pcf2bdf`:

    apt-get download xfonts-shinonome && dpkg-deb -x xfonts-shinonome_*.deb x
    pcf2bdf -o shnmk16.bdf x/usr/share/fonts/X11/misc/shnmk16.pcf.gz
    python3 firmware/fonts/shinonome16.py shnmk16.bdf firmware/fonts/shinonome16.bin

Layout (read by firmware/src/fonts.rs): JIS X 0208 rows 1-84, cells 1-94, in order.
First a presence bitmap, one bit per code point (bit 7 of byte 0 is row 1 cell 1),
988 bytes; then 32 bytes per code point: 16 rows, top first, two bytes each, the high
bit of the first byte the leftmost dot. Absent code points are all zero.
"""
import sys

ROWS, CELLS, GLYPH = 84, 94, 32


def main(src, dst):
    present = bytearray((ROWS * CELLS + 7) // 8 + 1)
    glyphs = bytearray(ROWS * CELLS * GLYPH)
    code, rows, in_bitmap, bbx = None, [], False, None
    for line in open(src, encoding="ascii"):
        word = line.split()
        if not word:
            continue
        if word[0] == "ENCODING":
            code = int(word[1])
        elif word[0] == "BBX":
            bbx = tuple(int(w) for w in word[1:5])
        elif word[0] == "BITMAP":
            in_bitmap, rows = True, []
        elif word[0] == "ENDCHAR":
            in_bitmap = False
            row, cell = (code >> 8) - 0x20, (code & 0xFF) - 0x20
            if not (1 <= row <= ROWS and 1 <= cell <= CELLS):
                continue
            if bbx != (16, 16, 0, -2) or len(rows) != 16:
                raise SystemExit(f"{code:04x}: unexpected bounding box {bbx}")
            i = (row - 1) * CELLS + (cell - 1)
            present[i // 8] |= 0x80 >> (i % 8)
            for y, r in enumerate(rows):
                glyphs[i * GLYPH + 2 * y : i * GLYPH + 2 * y + 2] = r.to_bytes(2, "big")
        elif in_bitmap:
            rows.append(int(word[0], 16))
    with open(dst, "wb") as out:
        out.write(present)
        out.write(glyphs)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
