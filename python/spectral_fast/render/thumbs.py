"""Image thumbnails inlined as data URIs: found under an image root, downscaled, contrast-stretched."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from spectral_fast.render.primitives import esc

#: Longest side of a thumbnail, pixels (shown at 58-96 px; 2x for sharp screens).
THUMB = 128


def resolve_image(image_id: str, root: Path | None) -> Path | None:
    """The file of ``image_id`` under ``root`` (or as given), or None."""
    candidates = [Path(image_id)] if root is None else [root / image_id, Path(image_id)]
    for p in candidates:
        try:
            if p.is_file():
                return p
        except OSError:  # a hostile id (too long, NUL) is not a file
            return None
    return None


def thumbnail(path: Path, size: int = THUMB) -> str | None:
    """PNG data URI of a small gray thumbnail, or None if the file cannot be read as an image."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            im = im.convert("L") if im.mode not in ("L", "I;16", "I") else im
            arr = np.asarray(im, dtype=np.float64)
    except Exception:
        return None
    if arr.ndim != 2 or arr.size == 0:
        return None
    lo, hi = np.percentile(arr, [0.5, 99.5])
    arr = np.clip((arr - lo) / (hi - lo if hi > lo else 1.0) * 255.0, 0, 255).astype(np.uint8)
    im = Image.fromarray(arr)
    im.thumbnail((size, size))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def thumb_img(image_id: str, root: Path | None, *, error: bool = False) -> str | None:
    """An ``<img>`` of the image (ringed red when the model erred on it), or None when it cannot be read."""
    path = resolve_image(image_id, root)
    uri = thumbnail(path) if path else None
    if uri is None:
        return None
    cls = ' class="err"' if error else ""
    tip = esc(image_id) + (" (model error)" if error else "")
    return f'<img{cls} src="{uri}" alt="{esc(image_id)}" title="{tip}">'
