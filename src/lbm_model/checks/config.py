"""The typed configuration of the checks (``checks.*``), assembled from the registry.

``ChecksConfig`` has the audit-wide fields (``run``, ``fail_on``, ``seed``, ``disclosure``,
``stigma``) plus one section per registered check module, typed by the config dataclass that
module owns. Hydra validates overrides against it before any work (a typo in
``checks.spatial.permutaions`` or an unknown name in ``checks.run`` is refused at compose
time); ``OmegaConf.to_object`` then runs each section's range checks. ``lbm check`` validates
a recorded or given configuration with the same schema.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lbm_model.checks.registry import CHECK_NAMES, config_sections
from lbm_model.checks.stigma import StigmaConfig
from lbm_model.errors import ConfigError, LbmError

CheckName = StrEnum("CheckName", {name: name for name in CHECK_NAMES})
FailOn = StrEnum("FailOn", {name: name for name in (*CHECK_NAMES, "all")})


@dataclass
class DisclosureConfig:
    """``checks.disclosure``: minimum counts behind any published area figure (primer, section 3)."""

    min_respondents: int = 10        # survey-based area figures need at least this many respondents
    min_households: int = 10         # score-based area figures need at least this many households
    unsafe_reason: str = ""          # required (and recorded in audit.json) to go below the primer's 10

    def __post_init__(self) -> None:
        from lbm_model.disclosure import DEFAULT_MIN_HOUSEHOLDS, DEFAULT_MIN_RESPONDENTS, checked_minimum

        try:
            for name, value, default in (("min_respondents", self.min_respondents, DEFAULT_MIN_RESPONDENTS),
                                         ("min_households", self.min_households, DEFAULT_MIN_HOUSEHOLDS)):
                checked_minimum(value, default, self.unsafe_reason, f"checks.disclosure.{name}={value}",
                                "checks.disclosure.unsafe_reason='reason'")
        except LbmError as exc:
            raise ConfigError(str(exc)) from None


def _to_dict(self) -> dict:
    """Plain data (recorded in audit.json so ``lbm check`` can repeat the same checks)."""
    return dataclasses.asdict(self)


ChecksConfig = dataclasses.make_dataclass(
    "ChecksConfig",
    [("run", list[CheckName], field(default_factory=lambda: [CheckName(n) for n in CHECK_NAMES])),
     ("fail_on", list[FailOn], field(default_factory=list)),
     ("seed", int, 0),
     ("disclosure", DisclosureConfig, field(default_factory=DisclosureConfig)),
     ("stigma", StigmaConfig, field(default_factory=StigmaConfig)),
     *[(key, section, field(default_factory=section)) for key, section in config_sections().items()]],
    namespace={"to_dict": _to_dict, "__module__": __name__,
                            "__doc__": "``checks``: which checks run, which fails are fatal, and each check's settings."},
)


def checks_config(raw: Mapping | None) -> ChecksConfig:
    """Validate a mapping (a recorded audit config, a YAML file's content) into a ChecksConfig."""
    try:
        node = OmegaConf.merge(OmegaConf.structured(ChecksConfig), raw or {})
        return OmegaConf.to_object(node)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"checks configuration: {str(exc).splitlines()[0]}"
                          + (f" (at checks.{exc.full_key})" if getattr(exc, "full_key", None) else "") + ".") from None


def load_checks_config(source: str | Path | None = None) -> ChecksConfig:
    """A checks configuration by option name of the package (``default``, ``fast``) or from a YAML file.

    A file may start with a Hydra defaults list (``defaults: [default, _self_]``): it is composed
    with Hydra in its own directory, exactly as lbm-experiment composes the package's options.
    """
    from lbm_model.config import compose_checks

    return checks_config(compose_checks(source or "default"))
