"""Hostile uploads: refused from the header before decoding, decoded once, within a memory budget."""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz.errors import ConfigError
from cnnviz.inspect import images

ROOT = Path(__file__).resolve().parents[1]
PEAK_BUDGET_MIB = 300
"""Extra peak memory allowed for decoding a near-limit upload (about 70 MiB of RGB pixels; 183 MiB measured)."""


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` grey pixels but holds one tiny data block (a bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def near_limit_png() -> bytes:
    """A 4,800 x 5,000 colour PNG (24M pixels, just under the budget) that compresses to a few hundred KB."""
    w, h = 4800, 5000
    row = np.linspace(0, 255, w, dtype=np.uint8)
    arr = np.broadcast_to(row[None, :, None], (h, w, 3)).copy()
    return png_bytes(Image.fromarray(arr, "RGB"))


@pytest.mark.parametrize("size", [(10000, 10), (60000, 1), (10000, 2), (2, 10000), (300, 29)])
def test_thin_strips_are_refused_with_the_numbers(size: tuple[int, int]) -> None:
    data = png_bytes(Image.new("L", size, 200))
    with pytest.raises(ConfigError, match=rf"times longer than wide; the limit is {images.MAX_ASPECT}:1"):
        images.decode_upload(data, "strip.png", shorter=256)


def test_aspect_at_the_limit_is_accepted() -> None:
    img = images.decode_upload(png_bytes(Image.new("RGB", (2000, 200), (9, 9, 9))), shorter=100)
    assert img.size == (1000, 100)


@pytest.mark.parametrize("size", [(9400, 9400), (60000, 60000), (2**31 - 1, 2**31 - 1)])
def test_too_many_pixels_are_refused_before_decoding(size: tuple[int, int]) -> None:
    with pytest.raises(ConfigError, match="too large to decode safely") as info:
        images.decode_upload(png_header_only(*size), "bomb.png")
    assert f"{size[0]:,}x{size[1]:,} pixels" in str(info.value) or "more than" in str(info.value)


def test_sixteen_bit_upload_is_shrunk_and_scaled() -> None:
    arr = (np.arange(3000 * 2000, dtype=np.uint32).reshape(2000, 3000) % 65536).astype(np.uint16)
    img = images.decode_upload(png_bytes(Image.fromarray(arr)), shorter=256)
    assert img.mode == "L" and img.size == (384, 256)


def test_jpeg_is_decoded_at_a_reduced_scale() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 10, 10)).save(buf, format="JPEG")
    img = images.decode_upload(buf.getvalue(), shorter=300)
    assert img.size == (400, 300)
    assert np.abs(np.asarray(img, dtype=int)[150, 200] - [200, 10, 10]).max() <= 6


def test_near_limit_upload_stays_within_the_memory_budget(tmp_path: Path) -> None:
    """Peak RSS of a fresh process decoding a 24M-pixel PNG for a model (shorter side 256)."""
    file = tmp_path / "big.png"
    file.write_bytes(near_limit_png())
    script = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from cnnviz.inspect import images
        data = Path({str(file)!r}).read_bytes()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        img = images.decode_upload(data, "big.png", shorter=256)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(img.size[0], img.size[1], (after - before) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    w, h, extra_mib = map(int, out.stdout.split())
    assert (w, h) == (256, 267)
    assert extra_mib < PEAK_BUDGET_MIB, f"decoding took {extra_mib} MiB more at its peak"


def test_a_rerun_does_not_decode_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from cnnviz.ui import uploads

    calls = []
    real = images.decode_upload
    monkeypatch.setattr(images, "decode_upload", lambda *a, **k: calls.append(1) or real(*a, **k))

    class Upload:
        name = "cat.png"

        def getvalue(self) -> bytes:
            return png_bytes(Image.new("RGB", (640, 480), (1, 2, 3)))

    uploads._decoded.clear()
    first = uploads.uploaded_image(Upload(), 256)
    second = uploads.uploaded_image(Upload(), 256)
    assert len(calls) == 1
    assert first[1] == second[1] and first[2] == (640, 480) and second[0].size == (341, 256)
