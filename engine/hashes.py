"""The one spelling of a content hash in the engine: a SHA-256 as 64 lower-case hex digits, and
the short prefix (6 or more digits) a person may type instead, as git lets one do."""

from __future__ import annotations

import re

#: A full SHA-256 digest, lower case (how every table and cache stores it).
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
#: A hash or a unique-enough prefix of one (6 to 64 lower-case hex digits).
HEX_PREFIX = re.compile(r"^[0-9a-f]{6,64}$")


def is_sha256(text: str) -> bool:
    """Whether ``text`` is a full lower-case SHA-256 digest (callers lower-case user input)."""
    return SHA256_HEX.match(text) is not None


def is_hex_prefix(text: str) -> bool:
    """Whether ``text`` may name a hash by prefix (6 to 64 lower-case hex digits)."""
    return HEX_PREFIX.match(text) is not None
