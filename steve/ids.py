"""Opaque, type-prefixed public ids that sort by creation time.

An id is the prefix, an underscore and 26 Crockford base32 characters: 48 bits of
milliseconds since the epoch followed by 80 random bits (the ULID layout), so ids
made later sort later and keyset pagination can order by id alone.
"""

import secrets
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, *, at_ms: int | None = None) -> str:
    millis = int(time.time() * 1000) if at_ms is None else at_ms
    return f"{prefix}_{_encode(millis, 10)}{_encode(secrets.randbits(80), 16)}"


def id_factory(prefix: str):
    """A callable Django can use as a field default (and serialise in migrations)."""
    return IdFactory(prefix)


class IdFactory:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self) -> str:
        return new_id(self.prefix)

    def deconstruct(self) -> tuple[str, tuple, dict]:
        return ("steve.ids.IdFactory", (self.prefix,), {})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdFactory) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)
