"""Minimal PNG writing and reading (8 bit, not interlaced) with only the standard library."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel

Pixel = tuple[int, int, int, int]


class PngError(ValueError):
    """The bytes are not a PNG this module can read."""


def encode_rgba(width: int, height: int, pixels: bytes) -> bytes:
    """PNG bytes for RGBA `pixels` (rows top to bottom, 4 bytes per pixel)."""
    stride = width * 4
    if len(pixels) != stride * height:
        raise ValueError(f"{len(pixels)} Bytes passen nicht zu {width}×{height} RGBA")
    raw = b"".join(b"\x00" + pixels[row * stride:(row + 1) * stride] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def size(data: bytes) -> tuple[int, int]:
    """Width and height, read from the IHDR header."""
    if data[:8] != SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        raise PngError("keine PNG-Datei")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def decode_rgba(data: bytes) -> list[Pixel]:
    """Every pixel as (r, g, b, a), row by row."""
    chunks = _chunks(data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    if depth != 8 or interlace or colour not in _CHANNELS:
        raise PngError(f"nur 8-Bit-PNG ohne Interlacing lesbar (Tiefe {depth}, Farbtyp {colour})")
    channels = _CHANNELS[colour]
    stride = width * channels
    raw = zlib.decompress(chunks[b"IDAT"])
    if len(raw) != (stride + 1) * height:
        raise PngError("Bilddaten unvollständig")
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous, channels)
        rows.append(row)
        previous = row
    palette, alphas = chunks.get(b"PLTE", b""), chunks.get(b"tRNS", b"")
    pixels: list[Pixel] = []
    for row in rows:
        for x in range(0, stride, channels):
            s = row[x:x + channels]
            if colour == 6:
                pixels.append((s[0], s[1], s[2], s[3]))
            elif colour == 4:
                pixels.append((s[0], s[0], s[0], s[1]))
            elif colour == 2:
                pixels.append((s[0], s[1], s[2], 255))
            elif colour == 0:
                pixels.append((s[0], s[0], s[0], 255))
            else:
                index = s[0]
                if 3 * index + 3 > len(palette):
                    raise PngError("Palettenindex außerhalb der Palette")
                r, g, b = palette[3 * index:3 * index + 3]
                pixels.append((r, g, b, alphas[index] if index < len(alphas) else 255))
    return pixels


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """IHDR, PLTE, tRNS and the joined IDAT data; checksums verified."""
    size(data)
    found: dict[bytes, bytes] = {b"IDAT": b""}
    pos = 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(crc) != 4 or zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise PngError(f"Chunk {kind.decode('latin-1')} beschädigt")
        if kind == b"IDAT":
            found[b"IDAT"] += body
        elif kind in (b"IHDR", b"PLTE", b"tRNS"):
            found[kind] = body
        elif kind == b"IEND":
            return found
        pos += 12 + length
    raise PngError("IEND fehlt")


def _unfilter(kind: int, row: bytearray, previous: bytearray, bpp: int) -> bytearray:
    if kind == 0:
        return row
    if kind not in (1, 2, 3, 4):
        raise PngError(f"unbekannter Zeilenfilter {kind}")
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        up = previous[i]
        up_left = previous[i - bpp] if i >= bpp else 0
        if kind == 1:
            predictor = left
        elif kind == 2:
            predictor = up
        elif kind == 3:
            predictor = (left + up) // 2
        else:
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
        row[i] = (row[i] + predictor) & 0xFF
    return row
