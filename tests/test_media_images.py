"""normalise_image: what passes untouched, what gets fixed, what is refused."""

from __future__ import annotations

import io
import pickle
import struct
import subprocess
import sys
import warnings
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import ExifTags, Image, PngImagePlugin

from bot import limits
from bot.media import images
from bot.media.images import (
    MAX_PIXELS,
    MIN_UPSCALE_SIDE,
    Change,
    ImageResult,
    MediaRejected,
    normalise_image,
)
from tests.mediagen import image_bytes

ROOT = Path(__file__).resolve().parent.parent


# --- helpers ---------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _run(tmp_path: Path, name: str, data: bytes) -> ImageResult:
    result = normalise_image(_write(tmp_path, name, data), tmp_path / "out", stem="ref")
    _assert_acceptable(result)
    return result


def _assert_acceptable(result: ImageResult) -> None:
    """Re-open the output and check it against every image limit and the privacy rule."""
    assert result.path.is_file()
    assert result.path.parent.name == "out"
    assert result.size == result.path.stat().st_size <= limits.IMAGE_MAX_BYTES
    with Image.open(result.path) as im:
        assert im.format == result.format
        assert im.format in limits.IMAGE_FORMATS
        assert im.size == (result.width, result.height)
        width, height = im.size
        assert limits.IMAGE_MIN_SIDE <= width <= limits.IMAGE_MAX_SIDE
        assert limits.IMAGE_MIN_SIDE <= height <= limits.IMAGE_MAX_SIDE
        assert limits.ASPECT_MIN <= width / height <= limits.ASPECT_MAX
        im.load()
        if result.changes:  # anything re-encoded must carry no metadata at all
            assert not im.getexif()
            for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop"):
                assert key not in im.info
    assert (
        result.mime_type
        == {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[result.format]
    )
    assert not list(result.path.parent.glob(".*.part"))


def _codes(result: ImageResult) -> list[str]:
    return [change.code for change in result.changes]


def _change(result: ImageResult, code: str) -> Change:
    (change,) = [c for c in result.changes if c.code == code]
    return change


def _is_close(pixel: object, expected: tuple[int, ...], tolerance: int = 12) -> bool:
    assert isinstance(pixel, tuple)
    return len(pixel) == len(expected) and all(
        abs(got - want) <= tolerance for got, want in zip(pixel, expected, strict=True)
    )


def _encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def _png_declaring(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of the given size, built row by row so no big image is ever in memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\0" + bytes((width + 7) // 8)  # filter byte + one row of black pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _exif(orientation: int | None = None, *, gps: bool = False) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
        }
    return exif.tobytes()


# --- passes unchanged ------------------------------------------------------------------------


def test_normal_jpeg_is_copied_byte_for_byte(tmp_path: Path) -> None:
    data = image_bytes(1280, 960, "JPEG")
    result = _run(tmp_path, "photo.bin", data)
    assert result.changes == ()
    assert result.path == tmp_path / "out" / "ref.jpg"
    assert result.path.read_bytes() == data
    assert (result.format, result.width, result.height, result.size) == (
        "JPEG",
        1280,
        960,
        len(data),
    )


@pytest.mark.parametrize(
    ("width", "height"),
    [(300, 300), (6000, 6000), (1000, 2500), (2500, 1000), (300, 750), (6000, 2400)],
    ids=["min", "max", "aspect-0.4", "aspect-2.5", "min-and-0.4", "max-and-2.5"],
)
def test_boundaries_are_accepted_unchanged(tmp_path: Path, width: int, height: int) -> None:
    data = image_bytes(width, height, "JPEG")
    result = _run(tmp_path, "edge.jpg", data)
    assert result.changes == ()
    assert result.path.read_bytes() == data


def test_png_with_alpha_stays_png(tmp_path: Path) -> None:
    im = Image.new("RGBA", (640, 480), (10, 120, 200, 255))
    im.paste((0, 0, 0, 0), (0, 0, 320, 240))
    data = _encode(im, "PNG")
    result = _run(tmp_path, "sticker.png", data)
    assert result.format == "PNG"
    assert result.changes == ()
    assert result.path.read_bytes() == data


def test_webp_passes_unchanged(tmp_path: Path) -> None:
    data = image_bytes(800, 600, "WEBP")
    result = _run(tmp_path, "pic.webp", data)
    assert (result.format, result.path.suffix, result.changes) == ("WEBP", ".webp", ())
    assert result.path.read_bytes() == data


def test_name_is_ignored_content_decides(tmp_path: Path) -> None:
    result = _run(tmp_path, "looks_like.gif", image_bytes(640, 480, "PNG"))
    assert result.format == "PNG"
    assert result.path.name == "ref.png"


# --- converted -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_converted_to_jpeg(tmp_path: Path, fmt: str) -> None:
    result = _run(tmp_path, "pic", image_bytes(640, 480, fmt))
    assert result.format == "JPEG"
    assert result.path.name == "ref.jpg"
    assert result.changes == (Change("converted", {"from": fmt, "to": "JPEG"}),)


def test_animated_gif_keeps_the_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (400, 400), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    result = _run(tmp_path, "anim.gif", buf.getvalue())
    assert _change(result, "converted").params == {"from": "GIF", "to": "JPEG", "animated": 1}
    with Image.open(result.path) as im:
        red, _, blue = im.convert("RGB").getpixel((200, 200))  # type: ignore[misc]
    assert red > 200
    assert blue < 50


def test_gif_with_transparency_becomes_png(tmp_path: Path) -> None:
    im = Image.new("P", (400, 400), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(0, (0, 0, 200, 400))
    result = _run(tmp_path, "t.gif", _encode(im, "GIF", transparency=0))
    assert result.format == "PNG"
    with Image.open(result.path) as out:
        assert out.mode == "RGBA"
        assert out.getpixel((10, 10))[3] == 0  # type: ignore[index]
        assert out.getpixel((300, 10)) == (255, 0, 0, 255)


def test_opaque_png_needing_work_becomes_jpeg(tmp_path: Path) -> None:
    data = _encode(Image.new("RGBA", (200, 200), (1, 2, 3, 255)), "PNG")
    result = _run(tmp_path, "opaque.png", data)
    assert result.format == "JPEG"
    assert _codes(result) == ["converted", "upscaled"]


def test_transparent_png_needing_work_stays_png(tmp_path: Path) -> None:
    im = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    im.paste((255, 255, 0, 255), (50, 50, 150, 150))
    result = _run(tmp_path, "t.png", _encode(im, "PNG"))
    assert result.format == "PNG"
    assert result.changes == (Change("upscaled", {"from": "200×200", "to": "300×300"}),)
    with Image.open(result.path) as out:
        assert out.getpixel((5, 5))[3] == 0  # type: ignore[index]
        assert out.getpixel((150, 150)) == (255, 255, 0, 255)


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path: Path) -> None:
    data = _encode(Image.new("CMYK", (640, 480), (0, 255, 255, 0)), "JPEG")
    result = _run(tmp_path, "print.jpg", data)
    assert _change(result, "converted").params == {"from": "JPEG", "to": "JPEG", "colour": "CMYK"}
    with Image.open(result.path) as out:
        assert out.mode == "RGB"
        red, green, blue = out.getpixel((10, 10))  # type: ignore[misc]
    assert red > 200
    assert green < 60
    assert blue < 60


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    im = Image.new("I;16", (200, 200), 32768)  # mid grey
    result = _run(tmp_path, "deep.png", _encode(im, "PNG"))
    assert result.format == "JPEG"
    with Image.open(result.path) as out:
        grey = out.getpixel((100, 100))
    assert isinstance(grey, tuple)
    assert all(120 <= channel <= 136 for channel in grey)


def test_multi_picture_jpeg_keeps_only_the_main_picture(tmp_path: Path) -> None:
    main, extra = Image.new("RGB", (640, 480), (200, 0, 0)), Image.new("RGB", (640, 480))
    buf = io.BytesIO()
    main.save(buf, format="MPO", save_all=True, append_images=[extra], exif=_exif(gps=True))
    result = _run(tmp_path, "phone.jpg", buf.getvalue())
    assert result.format == "JPEG"
    assert result.changes == (Change("metadata_removed", {"kinds": "location, device"}),)
    with Image.open(result.path) as out:
        assert out.format == "JPEG"
        assert not getattr(out, "is_animated", False)


def test_heic_is_converted(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    assert images.HEIF_SUPPORTED
    im = Image.new("RGB", (800, 600), (30, 160, 90))
    result = _run(tmp_path, "IMG_0001.HEIC", _encode(im, "HEIF", exif=_exif(gps=True)))
    assert result.format == "JPEG"
    assert _change(result, "converted").params == {"from": "HEIC", "to": "JPEG"}
    assert _change(result, "metadata_removed").params == {"kinds": "location, device"}


# --- orientation and metadata ----------------------------------------------------------------


def test_exif_orientation_is_applied_and_gps_removed(tmp_path: Path) -> None:
    im = Image.new("RGB", (640, 480), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 160, 120))  # red marks the stored top-left corner
    data = _encode(im, "JPEG", exif=_exif(6, gps=True), quality=95)
    with Image.open(io.BytesIO(data)) as check:  # the fixture really carries GPS
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    result = _run(tmp_path, "phone.jpg", data)
    assert (result.width, result.height) == (480, 640)
    assert _change(result, "rotated").params == {"orientation": 6}
    assert _change(result, "metadata_removed").params == {"kinds": "location, device"}
    assert "converted" not in _codes(result)
    raw = result.path.read_bytes()
    assert b"Exif" not in raw
    assert b"PhoneMaker" not in raw
    with Image.open(result.path) as out:
        assert not out.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        # Orientation 6 means "rotate 90° clockwise to display": top-left goes to top-right.
        assert _is_close(out.getpixel((470, 10)), (255, 0, 0))
        assert _is_close(out.getpixel((10, 10)), (0, 0, 255))


def test_metadata_alone_forces_a_clean_copy(tmp_path: Path) -> None:
    data = _encode(Image.new("RGB", (640, 480), (9, 9, 9)), "JPEG", exif=_exif(1), comment=b"hi")
    result = _run(tmp_path, "meta.jpg", data)
    assert result.changes == (Change("metadata_removed", {"kinds": "device, comment"}),)
    assert b"PhoneMaker" not in result.path.read_bytes()


def test_png_text_and_xmp_are_removed(tmp_path: Path) -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Jane Doe")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret</x:xmpmeta>")
    data = _encode(Image.new("RGB", (640, 480), (5, 5, 5)), "PNG", pnginfo=text)
    result = _run(tmp_path, "shot.png", data)
    assert _change(result, "metadata_removed").params == {"kinds": "xmp, text"}
    assert b"Jane Doe" not in result.path.read_bytes()


def test_icc_profile_is_kept(tmp_path: Path) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _encode(Image.new("RGB", (640, 480)), "JPEG", exif=_exif(), icc_profile=icc)
    result = _run(tmp_path, "p3.jpg", data)
    assert "metadata_removed" in _codes(result)
    with Image.open(result.path) as out:
        assert out.info.get("icc_profile") == icc


# --- geometry --------------------------------------------------------------------------------


def test_large_image_is_downscaled(tmp_path: Path) -> None:
    result = _run(tmp_path, "big.jpg", image_bytes(8000, 4000, "JPEG"))
    assert (result.width, result.height) == (6000, 3000)
    assert result.changes == (Change("downscaled", {"from": "8000×4000", "to": "6000×3000"}),)


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (200, 200, (300, 300)),
        (299, 299, (300, 300)),
        (299, 400, (300, 401)),
        (100, 120, (300, 360)),
    ],
)
def test_small_image_is_upscaled(
    tmp_path: Path, width: int, height: int, expected: tuple[int, int]
) -> None:
    result = _run(tmp_path, "small.jpg", image_bytes(width, height, "JPEG"))
    assert (result.width, result.height) == expected
    assert _codes(result) == ["upscaled"]


@pytest.mark.parametrize(
    ("width", "height", "padded"),
    [(3000, 1000, (3000, 1200)), (1000, 3000, (1200, 3000)), (100, 6000, (2400, 6000))],
)
def test_extreme_aspect_is_padded(
    tmp_path: Path, width: int, height: int, padded: tuple[int, int]
) -> None:
    result = _run(tmp_path, "wide.jpg", image_bytes(width, height, "JPEG"))
    assert (result.width, result.height) == padded
    assert result.changes == (
        Change("padded", {"from": f"{width}×{height}", "to": f"{padded[0]}×{padded[1]}"}),
    )


def test_padding_uses_the_edge_colour_and_centres_the_picture(tmp_path: Path) -> None:
    data = _encode(Image.new("RGB", (3000, 1000), (20, 140, 60)), "PNG")
    result = _run(tmp_path, "banner.png", data)
    assert (result.width, result.height) == (3000, 1200)
    with Image.open(result.path) as out:
        for y in (0, 99, 1100, 1199):  # the bars: 100 px above and below
            assert _is_close(out.getpixel((1500, y)), (20, 140, 60))


def test_pad_then_downscale(tmp_path: Path) -> None:
    result = _run(tmp_path, "pano.jpg", image_bytes(9000, 2000, "JPEG"))
    assert (result.width, result.height) == (6000, 2400)
    assert result.changes == (
        Change("padded", {"from": "9000×2000", "to": "9000×3600"}),
        Change("downscaled", {"from": "9000×3600", "to": "6000×2400"}),
    )


def test_pad_then_upscale(tmp_path: Path) -> None:
    result = _run(tmp_path, "strip.jpg", image_bytes(400, 100, "JPEG"))
    assert (result.width, result.height) == (750, 300)
    assert _codes(result) == ["padded", "upscaled"]


@example(width=100, height=6326)  # found by hypothesis: rounding on the long side
@example(width=100, height=38_250)  # a sliver: content rounds to a few pixels
@given(
    width=st.integers(MIN_UPSCALE_SIDE, 40_000),
    height=st.integers(MIN_UPSCALE_SIDE, 40_000),
)
def test_plan_always_lands_inside_every_limit(width: int, height: int) -> None:
    plan = images._plan(width, height)
    cw, ch = plan.canvas
    assert limits.IMAGE_MIN_SIDE <= cw <= limits.IMAGE_MAX_SIDE
    assert limits.IMAGE_MIN_SIDE <= ch <= limits.IMAGE_MAX_SIDE
    assert limits.ASPECT_MIN <= cw / ch <= limits.ASPECT_MAX
    assert plan.content[0] <= cw
    assert plan.content[1] <= ch
    # The picture is scaled uniformly (to the pixel) and touches two opposite edges.
    assert plan.content[0] == cw or plan.content[1] == ch
    # The side that set the scale lands exactly on its bound, so it gives the exact scale.
    if max(plan.padded) > limits.IMAGE_MAX_SIDE:
        scale = Fraction(max(plan.canvas), max(plan.padded))
    else:
        scale = Fraction(min(plan.canvas), min(plan.padded))
    assert abs(plan.content[0] - width * scale) <= 1
    assert abs(plan.content[1] - height * scale) <= 1


# --- refused ---------------------------------------------------------------------------------


def test_too_small_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaRejected) as info:
        normalise_image(_write(tmp_path, "t.jpg", image_bytes(80, 80)), tmp_path, stem="x")
    assert info.value.code == "too_small"
    assert info.value.params == {"width": 80, "height": 80, "min": 300}


def test_a_thin_strip_below_the_upscale_floor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaRejected) as info:
        normalise_image(_write(tmp_path, "t.png", image_bytes(99, 5000, "PNG")), tmp_path, stem="x")
    assert info.value.code == "too_small"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.jpg", b"", "corrupt"),
        ("cut.jpg", image_bytes(1280, 960, "JPEG")[:4000], "damaged_picture"),
        ("cut.png", image_bytes(1280, 960, "PNG")[:2000], "damaged_picture"),
        ("notes.jpg", b"just some text, not a picture\n" * 20, "not_an_image"),
        ("page.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 600 600\n", "not_an_image"),
    ],
    ids=["zero-bytes", "truncated-jpeg", "truncated-png", "text", "eps-not-decoded"],
)
def test_broken_or_foreign_files_are_refused(
    tmp_path: Path, name: str, data: bytes, code: str
) -> None:
    with pytest.raises(MediaRejected) as info:
        normalise_image(_write(tmp_path, name, data), tmp_path / "out", stem="x")
    assert info.value.code == code
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_decompression_bomb_is_refused_without_decoding(tmp_path: Path) -> None:
    bomb = _write(tmp_path, "bomb.png", _png_declaring(20_000, 20_000))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(MediaRejected) as info:
        normalise_image(bomb, tmp_path / "out", stem="x")
    assert info.value.code == "too_many_pixels"
    assert info.value.params == {"width": 20_000, "height": 20_000, "max": MAX_PIXELS}


def test_just_over_the_pixel_limit_is_refused_even_if_warnings_are_ignored(
    tmp_path: Path,
) -> None:
    # 10000×9000 is above MAX_PIXELS but below twice it, where Pillow only warns.
    big = _write(tmp_path, "big.png", _png_declaring(10_000, 9_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MediaRejected) as info:
            normalise_image(big, tmp_path / "out", stem="x")
    assert info.value.code == "too_many_pixels"
    assert info.value.params == {"width": 10_000, "height": 9_000, "max": MAX_PIXELS}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_bomb_uses_little_memory(tmp_path: Path) -> None:
    bomb = _write(tmp_path, "bomb.png", _png_declaring(20_000, 20_000))
    # VmHWM is the peak of this process image only; ru_maxrss would include the forked pytest.
    script = (
        "import re\n"
        "from pathlib import Path\n"
        "from bot.media.images import MediaRejected, normalise_image\n"
        "try:\n"
        f"    normalise_image(Path({str(bomb)!r}), Path({str(tmp_path / 'out')!r}), stem='x')\n"
        "except MediaRejected as exc:\n"
        "    status = Path('/proc/self/status').read_text()\n"
        "    print(exc.code, re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    code, peak_kib = done.stdout.split()
    assert code == "too_many_pixels"
    assert int(peak_kib) < 150 * 1024  # decoding would need 400 MB+ at one byte per pixel


# --- byte limit ------------------------------------------------------------------------------


def _noise(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def test_output_over_the_byte_limit_is_recompressed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    noise = _noise(600, 600)
    at_85 = len(_encode(noise, "JPEG", quality=85))
    at_75 = len(_encode(noise, "JPEG", quality=75))
    monkeypatch.setattr(images, "IMAGE_MAX_BYTES", (at_85 + at_75) // 2)
    result = normalise_image(
        _write(tmp_path, "noise.bmp", _encode(noise, "BMP")), tmp_path, stem="n"
    )
    assert result.size <= (at_85 + at_75) // 2
    assert result.changes == (
        Change("converted", {"from": "BMP", "to": "JPEG"}),
        Change("compressed", {"quality": 75}),
    )


def test_transparent_output_over_the_byte_limit_falls_back_to_webp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    noise = _noise(600, 600).convert("RGBA")
    noise.putalpha(128)
    png = _encode(noise, "PNG")
    monkeypatch.setattr(images, "IMAGE_MAX_BYTES", len(png) // 2)
    result = normalise_image(_write(tmp_path, "n.png", png), tmp_path, stem="n")
    assert (result.format, result.mime_type, result.path.suffix) == ("WEBP", "image/webp", ".webp")
    assert _codes(result) == ["converted", "compressed"]
    with Image.open(result.path) as out:
        assert out.mode == "RGBA"


def test_nothing_fits_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "IMAGE_MAX_BYTES", 1_000)
    src = _write(tmp_path, "n.bmp", _encode(_noise(400, 400), "BMP"))
    with pytest.raises(MediaRejected) as info:
        normalise_image(src, tmp_path / "out", stem="n")
    assert info.value.code == "too_big"
    assert info.value.params["limit"] == 1_000
    assert not any((tmp_path / "out").iterdir())


# --- API details -----------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["", "../escape", "a/b", ".hidden"])
def test_stem_must_be_a_plain_name(tmp_path: Path, stem: str) -> None:
    src = _write(tmp_path, "a.jpg", image_bytes(400, 400))
    with pytest.raises(ValueError, match="stem"):
        normalise_image(src, tmp_path, stem=stem)


def test_media_rejected_keeps_code_and_params_through_pickle() -> None:
    exc = MediaRejected("too_small", width=80, height=80, min=300)
    clone = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object
    assert (clone.code, clone.params) == ("too_small", {"width": 80, "height": 80, "min": 300})
    assert str(exc) == "too_small (width=80, height=80, min=300)"


def test_existing_output_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "ref.jpg").write_bytes(b"stale")
    result = _run(tmp_path, "a.jpg", image_bytes(640, 480))
    assert result.path.read_bytes() != b"stale"
