"""What a clear option error must say: the option's name (or, for conflicting activations, that they conflict)."""

from __future__ import annotations

import re


def names_an_option(params: dict) -> str:
    """A ``pytest.raises(match=...)`` pattern: one of the given option names, ``Incompatible`` (several
    activations), or MONAI's ``... is not a valid LossReduction / MetricReduction`` (case-insensitive)."""
    names = [re.escape(str(key)) for key in params] + ["Incompatible", "is not a valid"]
    return "(?i)(" + "|".join(names) + ")"
