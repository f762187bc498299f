"""The one seed scheme of the pipeline.

Every random choice takes the config's seed for its stage. Where one stage makes many independent
choices (one per item, shard, category, missing rate or bootstrap cell), each gets its own seed from
:func:`derive_seed`, named by the parts that tell the choices apart. A choice that a stage makes once
takes the config's seed as it is.
"""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *parts) -> int:
    """A seed in [0, 2**32) for one random choice, from the config's ``seed`` and the ``parts`` that name
    the choice (e.g. ``derive_seed(2026, "B0X12")`` for one item's cover, ``derive_seed(7, "i2t",
    "All_Beauty", "bertscore")`` for one bootstrap cell).

    It is the first 4 bytes (big-endian) of the SHA-256 of ``seed`` and the parts' ``str()`` joined by
    the unit separator (U+001F), so it is the same on every machine, Python and process (unlike
    ``hash()``), and different parts give unrelated seeds. Numbers and strings in ``parts`` are told
    apart only by their text: ``1`` and ``"1"`` give the same seed."""
    text = "\x1f".join([str(int(seed)), *(str(part) for part in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
