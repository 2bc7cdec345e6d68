"""Named, order-independent random streams: the same (seed, component, keys) always gives the same stream."""

from __future__ import annotations

import numpy as np

COMPONENTS = (
    "settlements", "cells", "areas", "households", "era", "factor", "indicator", "development", "year",
    "survey", "controls", "buurt", "residual", "noise", "weights",
    "candidates",  # appended last: the index of every earlier component (its stream) is unchanged
    "transactions",  # appended after candidates, for the same reason
    "reference",  # the local surveys of the reference table, appended last for the same reason
)


def component_rng(seed: int, component: str, *keys: int) -> np.random.Generator:
    """A generator for one component of the world (and optional integer keys such as a year)."""
    spawn_key = (COMPONENTS.index(component), *(int(k) for k in keys))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=spawn_key))
