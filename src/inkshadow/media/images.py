"""Image checks from the header alone, then decoding to RGB.

`Image.open` is lazy: it parses the header, so format and size are judged before a single
pixel is decoded, and an image bomb costs no more than reading its header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from inkshadow.errors import ImageTooLarge, UnsupportedMedia
from inkshadow.settings import Settings

# Pillow names some JPEG variants by their container; they decode as JPEG.
_ALIASES = {"MPO": "JPEG"}
_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    frames: int


def _formats(settings: Settings) -> tuple[str, ...]:
    return tuple(f.upper() for f in settings.image_formats)


def _open_checked(path: Path, settings: Settings) -> tuple[ImageFile.ImageFile, ImageInfo]:
    """Open lazily and check format and pixel count; the caller closes the image."""
    allowed = _formats(settings)
    try:
        # Only the accepted formats' parsers ever see the bytes.
        image = Image.open(path, formats=list(allowed))
    except Image.DecompressionBombError as exc:
        # Pillow's own ceiling (its global default, which we leave alone) was passed.
        raise ImageTooLarge(_too_many_pixels(settings)) from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedMedia(
            f"the file is not an image in an accepted format ({', '.join(allowed)})"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnsupportedMedia("the image file is corrupt or truncated") from exc
    try:
        fmt = (image.format or "").upper()
        if _ALIASES.get(fmt, fmt) not in allowed:
            raise UnsupportedMedia(f"image format {fmt or 'unknown'} is not accepted")
        width, height = image.size
        if width < 1 or height < 1:
            raise UnsupportedMedia("the image has no pixels")
        if width * height > settings.image_max_pixels:
            raise ImageTooLarge(_too_many_pixels(settings, width, height))
        frames = int(getattr(image, "n_frames", 1))
    except BaseException:
        image.close()
        raise
    return image, ImageInfo(fmt, width, height, frames)


def _too_many_pixels(settings: Settings, width: int = 0, height: int = 0) -> str:
    size = f" ({width}x{height})" if width else ""
    return f"image is larger than {settings.image_max_pixels} pixels{size}"


def check_image(path: Path, settings: Settings) -> ImageInfo:
    """Format, size and frame count from the header; no pixels are decoded."""
    try:
        image, info = _open_checked(path, settings)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # n_frames reads headers
        raise UnsupportedMedia("the image file is corrupt or truncated") from exc
    image.close()
    return info


def load_image(path: Path, settings: Settings) -> Image.Image:
    """Decode to RGB: first frame of an animation, EXIF orientation applied, alpha on white."""
    try:
        image, _info = _open_checked(path, settings)
        with image:
            image.seek(0)
            image.load()
            upright = ImageOps.exif_transpose(image)
            return _to_rgb(upright)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnsupportedMedia("the image file is corrupt or truncated") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    # Transparent areas become white, as qwen-vl-utils does, not whatever colour hides there.
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background
