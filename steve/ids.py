"""Opaque, type-prefixed public ids that sort by creation time.

An id is the prefix, an underscore and 26 Crockford base32 characters: 48 bits of
milliseconds since the epoch followed by 80 random bits (the ULID layout), so ids
made later sort later and keyset pagination can order by id alone. Within a process,
ids made in the same millisecond still sort in the order they were made.
"""

import secrets
import threading
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


RANDOM_BITS = 80
_last = (0, 0)  # the millisecond and random part of the last id made now
_lock = threading.Lock()


def new_id(prefix: str, *, at_ms: int | None = None) -> str:
    if at_ms is not None:
        return f"{prefix}_{_encode(at_ms, 10)}{_encode(secrets.randbits(RANDOM_BITS), 16)}"
    millis, random = _monotonic(int(time.time() * 1000))
    return f"{prefix}_{_encode(millis, 10)}{_encode(random, 16)}"


def _monotonic(millis: int) -> tuple[int, int]:
    """ULID's monotonic rule: within one millisecond (or if the clock steps back) the
    next id is the last one plus one, so ids a process makes in turn sort in turn. With
    a fresh random part each time, two events of one transaction made in the same
    millisecond (a claim, then the correction it enables) listed in either order."""
    global _last
    with _lock:
        last_millis, last_random = _last
        if millis > last_millis:
            _last = (millis, secrets.randbits(RANDOM_BITS))
        elif last_random + 1 < 1 << RANDOM_BITS:
            _last = (last_millis, last_random + 1)
        else:  # the random part ran out within one millisecond: borrow the next one
            _last = (last_millis + 1, secrets.randbits(RANDOM_BITS))
        return _last


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
