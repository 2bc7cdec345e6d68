"""A synthetic Netherlands in the input contract's shape, with a known truth.

``generate_world(out_dir, scale, seed)`` writes cells.parquet, survey.parquet,
transactions.parquet, catalog.yaml, municipality_groups.csv and truth.json and returns the truth dict.
The same seed gives bit-identical files. See docs/synthetic-world.md.
"""

from __future__ import annotations

from pathlib import Path

from lbm_model.world.build import World, build_world
from lbm_model.world.output import write_world

__all__ = ["World", "build_world", "generate_world"]


def generate_world(
    out_dir: Path,
    scale: str = "small",
    seed: int = 0,
    *,
    buurt_effect_sd: float | None = None,
    residual_field_sd: float | None = None,
    progress: bool = False,
) -> dict:
    """Generate the world for ``scale`` (``small`` or ``nl``) and ``seed`` into ``out_dir``; returns the truth.

    ``buurt_effect_sd`` (default 0.3) is the sd of an unexplained iid buurt effect on the
    latent judgement; ``residual_field_sd`` (default 0) the sd of a smooth spatial one.
    """
    world = build_world(scale, seed, buurt_effect_sd=buurt_effect_sd, residual_field_sd=residual_field_sd, progress=progress)
    write_world(world, Path(out_dir))
    return world.truth
