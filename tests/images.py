"""Real images, made here, for the upload tests: what a phone sends, and what an attacker does."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def photo(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), gps: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 120, 40))
    exif = image.getexif()
    if gps:  # where the phone stood, as cameras write it
        exif[0x010F] = "PhoneMaker"
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd.update({1: "N", 2: (30.0, 36.0, 0.0), 3: "E", 4: (119.0, 52.0, 0.0)})
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes() if gps else b"")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int) -> bytes:
    """A small valid-looking PNG whose header claims a huge picture (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


JPEG = photo("JPEG")
PNG = photo("PNG")
