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


def png_of(mode: str, size: tuple[int, int], **save: object) -> bytes:
    """A real PNG of `mode` (L, P, LA, RGBA, I;16, RGB ...) and `size`, made by Pillow."""
    image = Image.new(mode, size)
    out = io.BytesIO()
    image.save(out, "PNG", **save)
    return out.getvalue()


def cmyk_jpeg(size: tuple[int, int] = (80, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("CMYK", size, (0, 80, 160, 20)).save(out, "JPEG")
    return out.getvalue()


SECRET_WORDS = ("<html><script>alert(1)</script>", "13812345678")


def jpeg_carrying_secrets(size: tuple[int, int] = (200, 150)) -> bytes:
    """A JPEG whose every metadata segment carries SECRET_WORDS: a comment (COM), EXIF (with
    where the phone stood), XMP and an ICC profile."""
    from PIL import ImageCms

    image = Image.new("RGB", size, (30, 140, 90))
    exif = image.getexif()
    exif[0x010E] = SECRET_WORDS[1]  # ImageDescription
    exif.get_ifd(0x8825).update({1: "N", 2: (30.0, 36.0, 0.0)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{SECRET_WORDS[1]}</x:xmpmeta>'.encode()
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        comment=" ".join(SECRET_WORDS).encode(),
        exif=exif.tobytes(),
        icc_profile=icc,
        xmp=xmp,
    )
    return out.getvalue()


def png_carrying_secrets(size: tuple[int, int] = (200, 150)) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET_WORDS[0])
    info.add_itxt("Author", SECRET_WORDS[1])
    out = io.BytesIO()
    Image.new("RGB", size, (30, 140, 90)).save(out, "PNG", pnginfo=info)
    return out.getvalue()
