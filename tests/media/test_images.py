"""Image checks from the header (bombs never decoded) and decoding to RGB."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from inkshadow.errors import ImageTooLarge, UnsupportedMedia
from inkshadow.media.images import check_image, load_image
from inkshadow.settings import Settings


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit all-black PNG, compressed row by row so it is cheap to make."""
    squeeze = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then packed pixels
    parts = [squeeze.compress(row) for _ in range(height)]
    parts.append(squeeze.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def _save(image: Image.Image, path: Path, fmt: str, **params: object) -> Path:
    image.save(path, fmt, **params)
    return path


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any pixel decoding fail loudly (Pillow's, not ours, is patched)."""

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize("side", [30_000, 8_000])
def test_bomb_rejected_from_the_header(
    side: int, tmp_path: Path, settings: Settings, no_decoding: None
) -> None:
    # 30000² passes Pillow's own ceiling too; 8000² (64 Mpx) is caught by our setting alone.
    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb_png(side, side))
    assert path.stat().st_size < 200_000
    default_ceiling = Image.MAX_IMAGE_PIXELS
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ImageTooLarge) as caught:
            check_image(path, settings)
        with pytest.raises(ImageTooLarge):
            load_image(path, settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1.0
    assert peak < 5 * 1024 * 1024  # decoding would need 100+ MB
    assert str(tmp_path) not in caught.value.message
    assert default_ceiling == Image.MAX_IMAGE_PIXELS  # the global was left alone


def test_pixel_cap_from_settings(tmp_path: Path, no_decoding: None) -> None:
    path = _save(Image.new("RGB", (100, 50)), tmp_path / "a.png", "PNG")
    assert check_image(path, Settings(image_max_pixels=5000)).width == 100
    with pytest.raises(ImageTooLarge, match="4999"):
        check_image(path, Settings(image_max_pixels=4999))


def test_check_image_info(tmp_path: Path, settings: Settings, no_decoding: None) -> None:
    path = _save(Image.new("RGB", (64, 48), (1, 2, 3)), tmp_path / "a.jpg", "JPEG")
    info = check_image(path, settings)
    assert (info.format, info.width, info.height, info.frames) == ("JPEG", 64, 48, 1)


def test_corrupt_bytes(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(UnsupportedMedia) as caught:
        check_image(path, settings)
    assert str(tmp_path) not in caught.value.message
    with pytest.raises(UnsupportedMedia):
        load_image(path, settings)


def test_truncated_png(tmp_path: Path, settings: Settings) -> None:
    noisy = Image.effect_noise((256, 256), 64).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert check_image(path, settings).width == 256  # the header is intact
    with pytest.raises(UnsupportedMedia, match="corrupt or truncated") as caught:
        load_image(path, settings)
    assert str(tmp_path) not in caught.value.message


def test_format_not_accepted(tmp_path: Path, settings: Settings) -> None:
    path = _save(Image.new("RGB", (8, 8)), tmp_path / "a.tiff", "TIFF")
    with pytest.raises(UnsupportedMedia, match="accepted format"):
        check_image(path, settings)
    with pytest.raises(UnsupportedMedia):
        load_image(path, settings)
    tiff_ok = Settings(image_formats="PNG,tiff")
    assert check_image(path, tiff_ok).format == "TIFF"
    assert load_image(path, tiff_ok).size == (8, 8)


def test_rgba_becomes_rgb_on_white(tmp_path: Path, settings: Settings) -> None:
    image = Image.new("RGBA", (2, 1))
    image.putpixel((0, 0), (255, 0, 0, 255))
    image.putpixel((1, 0), (0, 0, 255, 0))
    loaded = load_image(_save(image, tmp_path / "a.png", "PNG"), settings)
    assert loaded.mode == "RGB"
    assert loaded.getpixel((0, 0)) == (255, 0, 0)
    assert loaded.getpixel((1, 0)) == (255, 255, 255)


def test_animated_gif_first_frame(tmp_path: Path, settings: Settings) -> None:
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "a.gif"
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100)
    info = check_image(path, settings)
    assert (info.format, info.frames) == ("GIF", 3)
    loaded = load_image(path, settings)
    assert loaded.mode == "RGB"
    assert loaded.getpixel((1, 1)) == (255, 0, 0)


def test_exif_orientation_applied(tmp_path: Path, settings: Settings) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = _save(Image.new("RGB", (40, 20), (0, 128, 0)), tmp_path / "a.jpg", "JPEG", exif=exif)
    assert check_image(path, settings).width == 40  # stored size, from the header
    assert load_image(path, settings).size == (20, 40)


def test_grayscale_and_palette_become_rgb(tmp_path: Path, settings: Settings) -> None:
    gray = load_image(_save(Image.new("L", (3, 3), 77), tmp_path / "g.png", "PNG"), settings)
    assert gray.mode == "RGB" and gray.getpixel((0, 0)) == (77, 77, 77)
    palette = Image.new("P", (3, 3), 0)
    palette.putpalette([10, 20, 30] * 256)
    path = _save(palette, tmp_path / "p.gif", "GIF", transparency=0)
    clear = load_image(path, settings)
    assert clear.mode == "RGB" and clear.getpixel((0, 0)) == (255, 255, 255)
