"""Photos from the field, decoded within a memory budget and written anew from their pixels alone.

`prepare(data, budget)` is the one door every uploaded image goes through. It accepts JPEG,
PNG, WebP and HEIC and promises:

- memory: the decoded picture is at most `budget.decode_bytes`, counted as Pillow holds it
  (channels and bit depth: 4 bytes a pixel for RGB and RGBA, 2 for 16-bit grey, 1 for grey
  or a palette), checked from the header before a pixel is decoded; a JPEG is decoded at a
  reduced scale (draft mode) when it is larger than what is kept;
- what is kept: upright (EXIF orientation applied), in sRGB (an embedded ICC profile
  converted, then dropped), 8 bits a channel, RGB or, where transparent, RGBA, at most
  `budget.max_side` on its long side, and with no metadata at all: no EXIF, XMP, ICC,
  comment or PNG text survives (`Image.info` is emptied before any encoder sees it);
- failure: anything that cannot be decoded, converted or encoded raises an ApiError that
  names the problem (IMAGE_TOO_LARGE 413, UNSUPPORTED_MEDIA_TYPE 415, IMAGE_UNREADABLE
  422); nothing else escapes.

`encode` writes a prepared picture as JPEG (or PNG where transparent). Both are CPU-bound: run
them off the event loop, at most a few at once (http/uploads.DecodeGate).

A decoded picture is large and lives a second: homestay/heap.py returns its pages to the
system afterwards (docs/performance.md).
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, ImageOps

from homestay.errors import FieldError, PayloadTooLarge, UnsupportedMediaType

log = logging.getLogger("homestay.images")

pillow_heif.register_heif_opener()  # iPhones shoot HEIC
ACCEPTED = {"JPEG", "PNG", "WEBP", "HEIF"}
# the declared size past which nothing is decoded at all, whatever the format
MAX_PIXELS = 50_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow warns past this (an error here), refuses past 2x
JPEG_QUALITY = 88
MIB = 1024 * 1024

# bytes a pixel as Pillow holds each mode in memory (every other mode: 4)
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}


class ImageUnreadable(FieldError):
    code = "IMAGE_UNREADABLE"
    status = 422


@dataclass(frozen=True)
class Budget:
    """What one decode may cost, and how large a kept picture is."""

    decode_bytes: int = 128 * MIB
    max_side: int = 2560


def decoded_bytes(mode: str, size: tuple[int, int]) -> int:
    """The memory Pillow takes to hold a picture of `mode` and `size`."""
    return size[0] * size[1] * _BYTES_PER_PIXEL.get(mode, 4)


def _too_large(message: str) -> PayloadTooLarge:
    return PayloadTooLarge("body", message, code="IMAGE_TOO_LARGE")


def prepare(data: bytes, budget: Budget = Budget()) -> Image.Image:
    """The picture in `data`, decoded within `budget` and cleaned as the module says."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED:
                raise UnsupportedMediaType("body", "send a JPEG, PNG, WebP or HEIC photo")
            _open_within(image, budget)
            image.load()
            return _cleaned(image, budget)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(f"a photo may have at most {MAX_PIXELS:,} pixels") from None
    except (PayloadTooLarge, UnsupportedMediaType):
        raise
    except MemoryError:
        raise _too_large("this photo is too large to decode here") from None
    except Exception as exc:  # noqa: BLE001 - a hostile file makes Pillow raise anything
        log.info("an upload could not be decoded: %s: %s", type(exc).__name__, exc)
        if isinstance(exc, OSError) and "cannot identify image file" in str(exc):
            raise UnsupportedMediaType("body", "send a JPEG, PNG, WebP or HEIC photo") from None
        raise ImageUnreadable(
            "body", f"the photo could not be decoded ({_reason(exc)}): send the whole file"
        ) from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0][:80] if str(exc).strip() else ""
    return text or type(exc).__name__


def _open_within(image: Image.Image, budget: Budget) -> None:
    """A JPEG set to decode at the smallest scale still at least as large as what is kept;
    refused when what would be decoded is over budget."""
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageUnreadable("body", "the photo has no pixels")
    if image.format == "JPEG" and max(width, height) > budget.max_side:
        ratio = budget.max_side / max(width, height)
        image.draft(None, (max(1, round(width * ratio)), max(1, round(height * ratio))))
    needed = decoded_bytes(image.mode, image.size)
    if needed > budget.decode_bytes:
        raise _too_large(
            f"decoded, this {image.size[0]} x {image.size[1]} {image.format} needs "
            f"{needed / MIB:.0f} MB; a photo may need at most {budget.decode_bytes / MIB:.0f} MB: "
            "send a JPEG, or a smaller picture"
        )


def _cleaned(image: Image.Image, budget: Budget) -> Image.Image:
    icc = image.info.get("icc_profile")
    transparent = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit (or wider) grey: its top eight bits, not its values clipped at 255
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    if max(image.size) > budget.max_side:
        image.thumbnail((budget.max_side, budget.max_side), Image.Resampling.LANCZOS)
    image = ImageOps.exif_transpose(image) or image
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L", "LA"):
        image = _to_srgb(image, icc)
    image = image.convert("RGBA" if transparent else "RGB")
    image.info = {}  # no metadata reaches an encoder: not EXIF, XMP, ICC, comments, text
    return image


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """The picture's colours in sRGB; as it is when its profile cannot be read."""
    alpha = image.getchannel("A") if "A" in image.getbands() else None
    base = image.convert("RGB" if image.mode in ("RGBA", "LA") else image.mode)
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(
            base, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    assert converted is not None  # profileToProfile returns the image unless inPlace
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def encode(image: Image.Image) -> tuple[bytes, str]:
    """A prepared picture as (bytes, media type): PNG where transparent, else JPEG."""
    out = io.BytesIO()
    try:
        if image.mode == "RGBA":
            image.save(out, "PNG")
            return out.getvalue(), "image/png"
        image.save(out, "JPEG", quality=JPEG_QUALITY)
        return out.getvalue(), "image/jpeg"
    except Exception as exc:  # noqa: BLE001 - the encoders' failures are the file's
        raise ImageUnreadable("body", f"the photo could not be written ({_reason(exc)})") from None
