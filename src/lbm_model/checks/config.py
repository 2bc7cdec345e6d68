"""Typed configuration of the checks (``conf/checks/default.yaml``), validated before any work.

Numbers have defaults here so a partial config works; the stigmatisation theme patterns
have none: they live in conf/ only (one source of truth, extendable there).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lbm_model.errors import LbmError

CHECK_NAMES: tuple[str, ...] = ("residual_autocorrelation", "score_autocorrelation", "proxy_audit", "collinearity",
                                "sign_plausibility", "blocked_cv", "cluster_bootstrap")


class ChecksConfigError(LbmError):
    """A checks configuration that cannot be used."""


@dataclass(frozen=True)
class DisclosureConfig:
    min_respondents: int = 10        # survey-based area figures need at least this many respondents
    min_households: int = 10         # score-based area figures need at least this many households


@dataclass(frozen=True)
class SpatialConfig:
    permutations: int = 999
    levels: tuple[str, ...] = ("cell", "buurt")
    weights: tuple[str, ...] = ("knn", "distance_band")
    knn_k: int = 8
    distance_band_m: dict = field(default_factory=lambda: {"cell": 500.0, "buurt": 2500.0})
    alpha: float = 0.05
    warn_moran_i: dict = field(default_factory=lambda: {"cell": 0.03, "buurt": 0.05})
    fail_moran_i: dict = field(default_factory=lambda: {"cell": 0.1, "buurt": 0.2})
    lisa: bool = True
    lisa_permutations: int = 999
    score_levels: tuple[str, ...] = ("cell", "buurt")
    score_permutations: int = 999

    def __post_init__(self) -> None:
        def refuse(key: str, value, expected: str) -> None:
            raise ChecksConfigError(f"checks.spatial.{key}={value!r}; expected {expected}.")

        for key in ("levels", "score_levels"):
            if not set(getattr(self, key)) <= {"cell", "buurt"}:
                refuse(key, list(getattr(self, key)), "a list from cell, buurt")
        if not self.weights or not set(self.weights) <= {"knn", "distance_band"}:
            refuse("weights", list(self.weights), "a non-empty list from knn, distance_band")
        for key in ("permutations", "lisa_permutations", "score_permutations", "knn_k"):
            if getattr(self, key) < (1 if key == "knn_k" else 0):
                refuse(key, getattr(self, key), "a positive whole number")
        levels = set(self.levels) | set(self.score_levels)
        for key in ("distance_band_m", "warn_moran_i", "fail_moran_i"):
            table = getattr(self, key)
            needed = levels if key == "distance_band_m" else set(self.levels)
            if key == "distance_band_m" and "distance_band" not in self.weights:
                continue
            if not isinstance(table, dict) or not needed <= set(table) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in table.values()):
                refuse(key, table, f"positive numbers for {', '.join(sorted(needed))}")


@dataclass(frozen=True)
class ThemeConfig:
    label: str
    patterns: tuple[str, ...]
    not_within: tuple[str, ...] = ()


@dataclass(frozen=True)
class AllowEntry:
    indicator: str
    reason: str
    themes: tuple[str, ...] = ()     # empty: every theme


@dataclass(frozen=True)
class StigmaConfig:
    themes: dict = field(default_factory=dict)       # theme key -> ThemeConfig
    allow: tuple = ()                                 # AllowEntry, ...


@dataclass(frozen=True)
class ProxyConfig:
    r2_threshold: float = 0.3
    weighting: str = "cells"          # cells (every cell-year counts once) | households
    score_r2_warn: float = 0.5
    score_r2_fail: float = 0.9
    absorbed_share_warn: float = 0.25
    quintiles: int = 5
    absorbed_effect: bool = True

    def __post_init__(self) -> None:
        if self.weighting not in ("cells", "households"):
            raise ChecksConfigError(f"checks.proxy.weighting={self.weighting!r}; expected cells or households.")
        if self.quintiles < 2:
            raise ChecksConfigError(f"checks.proxy.quintiles={self.quintiles}; expected at least 2 groups.")


@dataclass(frozen=True)
class CollinearityConfig:
    vif_warn: float = 10.0
    vif_fail: float = 100.0
    condition_warn: float = 30.0
    condition_fail: float = 1000.0


@dataclass(frozen=True)
class SignsConfig:
    z: float = 1.96
    warn_significant: int = 1
    fail_significant_share: float = 0.1


@dataclass(frozen=True)
class CrossValConfig:
    folds: int = 5
    block: str = "gemeente_code"
    skill_ratio_warn: float = 0.5

    def __post_init__(self) -> None:
        if self.folds < 2 or self.block not in ("gemeente_code", "wijk_code", "buurt_code"):
            raise ChecksConfigError(f"checks.blocked_cv: folds={self.folds}, block={self.block!r}; expected at least 2 "
                                    "folds blocked by gemeente_code, wijk_code or buurt_code.")


@dataclass(frozen=True)
class BootstrapConfig:
    replicates: int = 99
    level: float = 0.9
    n_jobs: int = 1
    rank_width_warn: float = 0.25
    rank_width_fail: float = 0.5

    def __post_init__(self) -> None:
        if self.replicates < 2 or not 0 < self.level < 1 or self.n_jobs == 0:
            raise ChecksConfigError(f"checks.cluster_bootstrap: replicates={self.replicates}, level={self.level}, "
                                    f"n_jobs={self.n_jobs}; expected >= 2 replicates, a level between 0 and 1 and "
                                    "n_jobs >= 1 (or -1 for all cores).")


@dataclass(frozen=True)
class ChecksConfig:
    run: tuple[str, ...] = CHECK_NAMES
    fail_on: tuple[str, ...] = ()
    seed: int = 0
    disclosure: DisclosureConfig = field(default_factory=DisclosureConfig)
    spatial: SpatialConfig = field(default_factory=SpatialConfig)
    stigma: StigmaConfig = field(default_factory=StigmaConfig)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    collinearity: CollinearityConfig = field(default_factory=CollinearityConfig)
    sign_plausibility: SignsConfig = field(default_factory=SignsConfig)
    blocked_cv: CrossValConfig = field(default_factory=CrossValConfig)
    cluster_bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)

    def __post_init__(self) -> None:
        unknown = [n for n in (*self.run, *self.fail_on) if n not in CHECK_NAMES and n != "all"]
        if unknown:
            raise ChecksConfigError(f"checks.run / checks.fail_on name unknown check(s) {', '.join(unknown)}; "
                                    f"expected from {', '.join(CHECK_NAMES)} (or 'all' in fail_on).")
        if not self.stigma.themes:
            raise ChecksConfigError("checks.stigma.themes is empty; the stigmatisation themes and their patterns "
                                    "must come from conf/checks/default.yaml.")

    def to_dict(self) -> dict:
        """Plain data (recorded in audit.json so ``lbm check`` can repeat the same checks)."""
        return dataclasses.asdict(self)


def _build(cls: type, raw: Any, where: str):
    """Instantiate dataclass ``cls`` from a mapping, refusing unknown keys."""
    if dataclasses.is_dataclass(cls):
        if isinstance(raw, cls):
            return raw
        if not isinstance(raw, Mapping):
            raise ChecksConfigError(f"{where}: expected a mapping, got {type(raw).__name__}.")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise ChecksConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; expected from {', '.join(sorted(names))}.")
        return cls(**{k: _build(hints[k], v, f"{where}.{k}") for k, v in raw.items()})
    if cls is int and (isinstance(raw, bool) or not isinstance(raw, int)):
        raise ChecksConfigError(f"{where}: expected a whole number, got {raw!r}.")
    if cls is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ChecksConfigError(f"{where}: expected a number, got {raw!r}.")
        return float(raw)
    if typing.get_origin(cls) is tuple:
        if not isinstance(raw, (list, tuple)):
            raise ChecksConfigError(f"{where}: expected a list, got {raw!r}.")
        return tuple(raw)
    return raw


def _themes(raw: Mapping, where: str) -> dict[str, ThemeConfig]:
    out = {}
    for key, theme in raw.items():
        theme = dict(theme)
        theme.setdefault("label", str(key).replace("_", " "))
        out[str(key)] = _build(ThemeConfig, theme, f"{where}.{key}")
        if not out[str(key)].patterns:
            raise ChecksConfigError(f"{where}.{key}.patterns: a theme needs at least one pattern.")
    return out


def _allow(raw: list, where: str) -> tuple[AllowEntry, ...]:
    entries = []
    for n, entry in enumerate(raw or []):
        item = _build(AllowEntry, dict(entry), f"{where}[{n}]")
        if not str(item.reason).strip():
            raise ChecksConfigError(f"{where}[{n}] ({item.indicator}): an allow-list entry needs a written reason.")
        entries.append(item)
    return tuple(entries)


def checks_config(raw: Mapping | None) -> ChecksConfig:
    """Validate a plain mapping (e.g. ``OmegaConf.to_container(cfg.checks)``) into a ChecksConfig."""
    raw = dict(raw or {})
    stigma = dict(raw.pop("stigma", {}) or {})
    unknown = sorted(set(stigma) - {"themes", "allow"})
    if unknown:
        raise ChecksConfigError(f"checks.stigma: unknown key(s) {', '.join(unknown)}; expected themes, allow.")
    stigma_cfg = StigmaConfig(themes=_themes(stigma.get("themes") or {}, "checks.stigma.themes"),
                              allow=_allow(stigma.get("allow") or [], "checks.stigma.allow"))
    return _build(ChecksConfig, {**raw, "stigma": stigma_cfg}, "checks")


def default_conf_dir() -> Path:
    """conf/ of this checkout (or ``LBM_CONF_DIR``)."""
    return Path(os.environ.get("LBM_CONF_DIR", str(Path(__file__).resolve().parents[3] / "conf")))


def load_checks_config(path: str | Path | None = None) -> ChecksConfig:
    """Read a checks YAML file (default ``conf/checks/default.yaml``) without Hydra."""
    import yaml

    path = Path(path) if path is not None else default_conf_dir() / "checks" / "default.yaml"
    if not path.is_file():
        raise ChecksConfigError(f"{path}: checks configuration not found.")
    return checks_config(yaml.safe_load(path.read_text(encoding="utf-8")))
