"""Named, independent random streams derived from the config's seed.

Every part of the generator draws from its own stream, keyed by a fixed stream id (and, for
events, the day index). Because the streams do not share state, changing how one part draws
(for example the backlog) never shifts the numbers another part (for example events) sees,
and each day can be generated on its own, in any order.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.random import PCG64, Generator, SeedSequence


class Stream(IntEnum):
    """Stream ids; values are part of the determinism contract, so never renumber them."""

    SIGNUP_COUNTS = 1
    SIGNUP_USERS = 2
    FUNNEL = 3
    ENGAGEMENT = 4
    ADOPTION = 5
    EVENTS = 6
    BACKLOG = 7
    ANOMALIES = 8
    SPIKE_USERS = 9
    IDENTITY = 10


def stream(seed: int, which: Stream, *keys: int) -> Generator:
    """A PCG64 generator for ``(seed, which, *keys)``, independent of every other stream.

    Args:
        seed: The config's root seed.
        which: The part of the generator that owns the stream.
        *keys: Further non-negative ints (e.g. a day index) to split the stream.

    Returns:
        A fresh ``numpy.random.Generator``.
    """
    # spawn_key is exactly what SeedSequence.spawn() sets on children; setting it directly
    # lets us address a child by name instead of by spawn order.
    sequence = SeedSequence(seed, spawn_key=(int(which), *keys))
    return Generator(PCG64(sequence))


def uniform_bytes(rng: Generator, rows: int, width: int) -> np.ndarray:
    """``rows`` x ``width`` random bytes as a uint8 array."""
    return np.frombuffer(rng.bytes(rows * width), dtype=np.uint8).reshape(rows, width)
