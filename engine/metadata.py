"""Former name of :mod:`engine.exif`, kept only while engine/store/export.py still imports it.

Remove this file once that import reads ``from engine.exif import clean_image_bytes``.
"""

from engine.exif import clean_image_bytes, clean_jpeg, clean_png

__all__ = ["clean_image_bytes", "clean_jpeg", "clean_png"]
