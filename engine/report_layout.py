"""Former name of :mod:`engine.report.layout`, kept only while
tests/engine/store/test_store_trust.py still imports ``_check_photo`` from here.

Remove this file once that test reads ``from engine.report.layout import _check_photo``.
"""

from engine.report.layout import _check_photo

__all__ = ["_check_photo"]
