"""The indicator catalog: which indicators exist, their dimension, transform and flags."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Indicator:
    """One environment indicator as the catalog describes it."""

    name: str
    dimension: str
    description: str = ""
    expected_sign: int = 0
    stigmatising: bool = False
    transform: str = "none"
    candidate: bool = False  # a candidate for the next version: a model term only in sets that include candidates


@dataclass(frozen=True)
class Catalog:
    """All indicators plus the respondent-level controls and the dwelling (price) controls, used in estimation only."""

    indicators: tuple[Indicator, ...]
    controls: tuple[str, ...] = field(default_factory=tuple)
    price_controls: tuple[str, ...] = field(default_factory=tuple)  # dwelling controls of the transactions table

    @property
    def names(self) -> list[str]:
        return [ind.name for ind in self.indicators]

    @property
    def model_indicators(self) -> tuple[Indicator, ...]:
        """Indicators that may be model terms: everything not flagged stigmatising."""
        return tuple(ind for ind in self.indicators if not ind.stigmatising)

    @property
    def stigmatising_indicators(self) -> tuple[Indicator, ...]:
        return tuple(ind for ind in self.indicators if ind.stigmatising)

    def by_name(self, name: str) -> Indicator:
        for ind in self.indicators:
            if ind.name == name:
                return ind
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {
            "indicators": [
                {
                    "name": i.name,
                    "dimension": i.dimension,
                    "description": i.description,
                    "expected_sign": i.expected_sign,
                    "stigmatising": i.stigmatising,
                    "transform": i.transform,
                    **({"candidate": True} if i.candidate else {}),
                }
                for i in self.indicators
            ],
            "controls": list(self.controls),
            **({"price_controls": list(self.price_controls)} if self.price_controls else {}),
        }
