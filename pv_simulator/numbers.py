"""Reading a number from text the way every file format here does: finite, or a reason why not."""

from __future__ import annotations

import math


class NotAFiniteNumber(ValueError):
    """Text that is no number ("not a number"), or infinity or NaN ("not a finite number")."""


def finite_float(text: str) -> float:
    """The finite number ``text`` spells; raises NotAFiniteNumber with the reason as its message."""
    try:
        value = float(text)
    except ValueError:
        raise NotAFiniteNumber("not a number") from None
    if not math.isfinite(value):
        raise NotAFiniteNumber("not a finite number")
    return value
