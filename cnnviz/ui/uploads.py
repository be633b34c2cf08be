"""Uploaded images: decoded once per file (cached by a hash of its bytes), shrunk to what the page needs.

A rerun of the page (any widget change) finds the decoded image in the cache instead of
decoding the upload again; the cache holds the shrunk picture, not the full-size one.
"""
from __future__ import annotations

import hashlib

import streamlit as st
from PIL import Image
from streamlit.runtime.uploaded_file_manager import UploadedFile

from cnnviz.inspect import images


@st.cache_data(max_entries=16, show_spinner="Decoding the image…")
def _decoded(digest: str, shorter: int, name: str, _data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """The upload shrunk to ``shorter`` pixels on its shorter side, and its size as uploaded."""
    _, w, h = images.probe(_data, name)
    return images.decode_upload(_data, name, shorter=shorter), (w, h)


def uploaded_image(file: UploadedFile, shorter: int) -> tuple[Image.Image, str, tuple[int, int]]:
    """The picture of ``file`` (shorter side at most ``shorter``), a key for its content, its original size.

    ConfigError (with the numbers and the limit) when the file is refused.
    """
    data = file.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    img, size = _decoded(digest, int(shorter), file.name, data)
    return img, digest, size
