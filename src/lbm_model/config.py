"""The typed configuration of ``lbm-experiment``: Hydra structured configs in a ConfigStore.

One dataclass per config group (the YAML files in ``lbm_model/conf/`` only set values):

========== ================================== ==============================================
group      schema                             options (lbm_model/conf/<group>/)
========== ================================== ==============================================
data       :class:`DataConfig`                synthetic, files
indicators :class:`IndicatorsConfig`          lbm3 (default), next (adds candidates), all (= lbm3)
model      :class:`ModelConfig` + one         ordinal_logit, ols, multilevel, elastic_net, spatial_error, spatial_lag, hedonic, combined (each extends its family's
           estimator dataclass per family     ``/schema/model/<option>`` from the ConfigStore)
classes    :class:`~lbm_model.classes.ThresholdRule`  fixed_width_anchored
checks     :class:`~lbm_model.checks.config.ChecksConfig` (each check module owns its section)
promotion  :class:`~lbm_model.registry.PromotionConfig`  default (the gates of ``lbm promote``)
export     :class:`ExportConfig`
tracking   :class:`TrackingConfig`
========== ================================== ==============================================

Types and closed choices (Enums) are checked by OmegaConf while Hydra composes, so a typo in
any override is refused before any data is read; ``OmegaConf.to_object`` then runs the range
checks in each dataclass's ``__post_init__`` (:func:`typed_config`). Code below the entry
point receives these plain objects, never the global config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING, DictConfig, OmegaConf

from lbm_model.checks.config import ChecksConfig
from lbm_model.classes import ThresholdRule
from lbm_model.errors import ConfigError
from lbm_model.registry import PromotionConfig

CONF_DIR = Path(__file__).with_name("conf")
VERSION_BASE = "1.3"


class DataKind(StrEnum):
    synthetic = "synthetic"
    files = "files"


class WorldScale(StrEnum):
    small = "small"
    nl = "nl"


class CovType(StrEnum):
    cluster = "cluster"          # by buurt
    robust = "robust"
    nonrobust = "nonrobust"


@dataclass
class DataConfig:
    """``data``: the input files (data=files) or the synthetic Netherlands generated on first use."""

    kind: DataKind = MISSING
    cells: str = MISSING
    survey: str = MISSING
    catalog: str = MISSING
    transactions: str = ""         # optional sold-dwellings table (model=hedonic); synthetic: the world's own
    scale: WorldScale = WorldScale.small
    seed: int = II("seed")
    dir: str = "data/world-${data.scale}-seed${data.seed}"


@dataclass
class IndicatorsConfig:
    """``indicators``: the indicator set. ``lbm3`` (default) is the 3.0-shaped set, every catalog indicator not
    flagged ``candidate``; ``next`` adds the candidates. Stigmatising indicators are never model terms;
    ``exclude`` leaves further ones out."""

    name: str = "lbm3"
    candidates: bool = False       # include catalog indicators flagged `candidate: true`
    exclude: list[str] = field(default_factory=list)


@dataclass
class EstimatorConfig:
    """``model.estimator``: the family's class (``_target_``) and its hyper-parameters."""

    _target_: str = MISSING


@dataclass
class LeastSquaresConfig(EstimatorConfig):
    _target_: str = "lbm_model.estimators.LeastSquares"
    cov_type: CovType = CovType.cluster


@dataclass
class OrdinalLogitConfig(EstimatorConfig):
    _target_: str = "lbm_model.estimators.OrdinalLogit"
    cov_type: CovType = CovType.cluster
    max_iter: int = 200
    tol: float = 1e-10
    progress: bool = True          # one line per Newton iteration on stderr (display only, not hashed)

    def __post_init__(self) -> None:
        if self.max_iter < 1:
            raise ConfigError(f"config: model.estimator.max_iter={self.max_iter} is not valid; expected a whole "
                              "number >= 1.")
        if not self.tol > 0:
            raise ConfigError(f"config: model.estimator.tol={self.tol} is not valid; expected a positive number.")


@dataclass
class HedonicConfig(EstimatorConfig):
    """The behaviour model: log transaction price, dwelling controls, year fixed effects, buurt clusters."""

    _target_: str = "lbm_model.estimators.Hedonic"
    cov_type: CovType = CovType.cluster
    index_sd: float = 0.3          # judgement points per sd of the hedonic place index (the scale rule)

    def __post_init__(self) -> None:
        if not self.index_sd > 0:
            raise ConfigError(f"config: model.estimator.index_sd={self.index_sd} is not valid; expected a positive "
                              "number (judgement points per standard deviation of the place index).")


class MixedLMMethod(StrEnum):
    bfgs = "bfgs"                # default: lbfgs was seen to stop at a zero variance (docs/estimators.md)
    lbfgs = "lbfgs"
    cg = "cg"
    powell = "powell"
    nm = "nm"


@dataclass
class MultilevelConfig(EstimatorConfig):
    _target_: str = "lbm_model.estimators.Multilevel"
    method: MixedLMMethod = MixedLMMethod.bfgs
    reml: bool = True
    max_iter: int = 200
    progress: bool = False

    def __post_init__(self) -> None:
        if self.max_iter < 1:
            raise ConfigError(f"config: model.estimator.max_iter={self.max_iter} is not valid; expected a whole "
                              "number >= 1.")


class AlphaRule(StrEnum):
    one_se = "one_se"
    min = "min"


class RefitFamily(StrEnum):
    ordinal_logit = "ordinal_logit"
    least_squares = "least_squares"


@dataclass
class ElasticNetConfig(EstimatorConfig):
    _target_: str = "lbm_model.estimators.ElasticNetSelection"
    l1_ratio: float = 0.9
    n_alphas: int = 40
    n_folds: int = 5               # blocked by gemeente
    alpha_rule: AlphaRule = AlphaRule.one_se
    n_subsamples: int = 50         # stability selection: half-samples of buurten
    threshold: float = 0.6         # selected when the selection frequency is at least this
    refit: RefitFamily = RefitFamily.ordinal_logit
    random_state: int = 0
    progress: bool = False
    sign_constraints: bool = False  # weights of the catalog's expected_sign only (docs/estimators.md)

    def __post_init__(self) -> None:
        problems = [f"l1_ratio={self.l1_ratio} (expected 0 < l1_ratio <= 1)" for _ in [0] if not 0 < self.l1_ratio <= 1]
        problems += [f"n_alphas={self.n_alphas} (expected >= 5)" for _ in [0] if self.n_alphas < 5]
        problems += [f"n_folds={self.n_folds} (expected >= 2)" for _ in [0] if self.n_folds < 2]
        problems += [f"n_subsamples={self.n_subsamples} (expected >= 10)" for _ in [0] if self.n_subsamples < 10]
        problems += [f"threshold={self.threshold} (expected 0.5 < threshold <= 1)" for _ in [0]
                     if not 0.5 < self.threshold <= 1]
        if problems:
            raise ConfigError(f"config: model.estimator: {'; '.join(problems)} is not valid.")


class CombinedScale(StrEnum):
    judgement = "judgement"      # the combined place index gets the judgement model's own spread
    index_sd = "index_sd"        # ... a fixed spread of index_sd judgement points (model=hedonic's rule)


@dataclass
class CombinedConfig(EstimatorConfig):
    """The judgement and the behaviour model on one indicator set, weights combined by a recorded rule
    (estimators/combined.py: each model's weights per sd of its own place index, a weighted mean)."""

    _target_: str = "lbm_model.estimators.Combined"
    judgement: RefitFamily = RefitFamily.ordinal_logit
    judgement_share: float = 0.5
    behaviour_share: float = 0.5
    scale_to: CombinedScale = CombinedScale.judgement
    index_sd: float = 0.3          # judgement points per sd of the combined index when scale_to=index_sd
    cov_type: CovType = CovType.cluster

    def __post_init__(self) -> None:
        shares = (self.judgement_share, self.behaviour_share)
        if min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-9:
            raise ConfigError(f"config: model.estimator.judgement_share={self.judgement_share}, behaviour_share="
                              f"{self.behaviour_share} is not valid; expected non-negative shares that sum to 1.")
        if not self.index_sd > 0:
            raise ConfigError(f"config: model.estimator.index_sd={self.index_sd} is not valid; expected a positive "
                              "number (judgement points per standard deviation of the place index).")


@dataclass
class SpatialConfig(EstimatorConfig):
    min_respondents: int = 10      # buurten with fewer respondents are left out of the aggregated fit
    k_neighbours: int = 6          # k-nearest-neighbour graph of buurt centroids, row-standardised

    def __post_init__(self) -> None:
        if self.min_respondents < 1 or self.k_neighbours < 1:
            raise ConfigError(f"config: model.estimator: min_respondents={self.min_respondents}, k_neighbours="
                              f"{self.k_neighbours}; expected whole numbers >= 1.")


@dataclass
class SpatialErrorConfig(SpatialConfig):
    _target_: str = "lbm_model.estimators.SpatialError"


@dataclass
class SpatialLagConfig(SpatialConfig):
    _target_: str = "lbm_model.estimators.SpatialLag"


class Sampler(StrEnum):
    pymc = "pymc"                # PyMC's own NUTS
    nutpie = "nutpie"            # nutpie (Rust NUTS on a numba-compiled graph): default, fastest here (docs/estimators.md)
    numpyro = "numpyro"          # NumPyro (JAX), when installed


@dataclass
class BayesOrdinalConfig(EstimatorConfig):
    """Hierarchical ordinal logit sampled with NUTS; the prior model is ``model.prior``."""

    _target_: str = "lbm_model.estimators.BayesOrdinal"
    sampler: Sampler = Sampler.nutpie
    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    target_accept: float = 0.9
    weak_sd: float = 2.5           # sd of the weakly informative prior on a weight (logit units per indicator sd)
    prior_strength: float = 0.0    # power of the previous model's information in the prior (0 = weakly informative)
    interval_level: float = 0.9
    saved_draws: int = 200         # thinned posterior draws kept in model.json (lbm score --class-probabilities)
    random_seed: int = 0
    cores: int = 1                 # chains run in parallel processes when > 1 (same draws either way)
    progress: bool = False

    def __post_init__(self) -> None:
        problems = [f"{name}={getattr(self, name)} (expected >= {low})"
                    for name, low in (("draws", 50), ("tune", 50), ("chains", 2), ("saved_draws", 0), ("cores", 1))
                    if getattr(self, name) < low]
        problems += [f"target_accept={self.target_accept} (expected 0.5 < target_accept < 1)"
                     for _ in [0] if not 0.5 < self.target_accept < 1]
        problems += [f"weak_sd={self.weak_sd} (expected > 0)" for _ in [0] if not self.weak_sd > 0]
        problems += [f"prior_strength={self.prior_strength} (expected >= 0)" for _ in [0] if not self.prior_strength >= 0]
        problems += [f"interval_level={self.interval_level} (expected 0 < level < 1)"
                     for _ in [0] if not 0 < self.interval_level < 1]
        if problems:
            raise ConfigError(f"config: model.estimator: {'; '.join(problems)} is not valid.")
        import importlib.util

        if self.sampler != Sampler.pymc and importlib.util.find_spec(str(self.sampler)) is None:
            raise ConfigError(f"config: model.estimator.sampler={self.sampler}: the package {self.sampler} is not "
                              "installed; choose sampler=nutpie or sampler=pymc (docs/estimators.md).")


# conf/model/<option>.yaml -> the estimator dataclass its /schema/model/<option> is built from
MODEL_OPTIONS: dict[str, type[EstimatorConfig]] = {"ordinal_logit": OrdinalLogitConfig, "ols": LeastSquaresConfig,
                                                   "multilevel": MultilevelConfig, "elastic_net": ElasticNetConfig,
                                                   "spatial_error": SpatialErrorConfig, "spatial_lag": SpatialLagConfig,
                                                   "hedonic": HedonicConfig, "combined": CombinedConfig,
                                                   "bayes_ordinal": BayesOrdinalConfig}


@dataclass
class ModelConfig:
    """``model``: a name for exports and runs, and the estimator to instantiate."""

    name: str = MISSING
    estimator: EstimatorConfig = MISSING
    prior: str = ""                # a previous frozen model (model.json or its directory) to centre priors on (bayes_ordinal)


@dataclass
class ExportConfig:
    """``export``: where the frozen model, audit.json and evidence go."""

    dir: str = "exports/${model.name}"
    model_version: str = "lbm-${model.name}-dev"

    def __post_init__(self) -> None:
        if not self.dir.strip():
            raise ConfigError("config: export.dir='' is not valid; expected a directory path (override export.dir=...).")
        if Path(self.dir).exists() and not Path(self.dir).is_dir():
            raise ConfigError(f"config: export.dir={self.dir!r} is not valid; expected a directory path, not an "
                              "existing file (override export.dir=...).")


@dataclass
class TrackingConfig:
    """``tracking``: the MLflow store (local SQLite by default) and experiment."""

    enabled: bool = True
    uri: str = "sqlite:///mlruns.db"
    artifact_dir: str = "mlartifacts"
    experiment: str = "lbm-recalibration"
    registered_model: str = "leefbaarometer"     # registry name of every run's MLflow Model; "" logs it unregistered


@dataclass
class LbmConfig:
    """The whole ``lbm-experiment`` configuration."""

    data: DataConfig = MISSING
    indicators: IndicatorsConfig = field(default_factory=IndicatorsConfig)
    model: ModelConfig = MISSING
    classes: ThresholdRule = MISSING
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    seed: int = 0
    export: ExportConfig = field(default_factory=ExportConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)


def register_configs() -> None:
    """Put the schemas into Hydra's ConfigStore (idempotent; done on import)."""
    store = ConfigStore.instance()
    store.store(name="lbm_schema", node=LbmConfig)
    for option, estimator in MODEL_OPTIONS.items():
        store.store(group="schema/model", name=option, node=ModelConfig(name=option, estimator=estimator()))


register_configs()


def job_output_dir(single_run_dir: str) -> str:
    """``${lbm_job_dir:DIR}``: DIR for a single run; in a sweep (``-m``) the job's own Hydra output folder
    (``multirun/<date>/<time>/<job>/export``), so parallel jobs never write into one export directory."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            return str(Path(HydraConfig.get().runtime.output_dir) / "export")
    except ValueError:       # no Hydra job (compose API, DVC's composition)
        pass
    return single_run_dir


if not OmegaConf.has_resolver("lbm_job_dir"):
    OmegaConf.register_new_resolver("lbm_job_dir", job_output_dir)


def with_schema(cfg: DictConfig) -> DictConfig:
    """``cfg`` under the typed schema. A configuration composed from lbm_model/conf already is; a resolved one
    used as the primary config (DVC's params.yaml: ``lbm-experiment --config-dir . --config-name params``) is
    merged into the schema here, with the estimator dataclass its ``model.estimator._target_`` names, so
    unknown keys and wrong types are refused the same way."""
    if OmegaConf.get_type(cfg) is LbmConfig:
        return cfg
    target = OmegaConf.select(cfg, "model.estimator._target_", default=None)
    by_target = {option()._target_: option for option in MODEL_OPTIONS.values()}
    if target not in by_target:
        raise ConfigError(f"config: model.estimator._target_={target!r} is not a known estimator; expected one of "
                          f"{', '.join(sorted(by_target))}.")
    schema = OmegaConf.structured(LbmConfig(model=ModelConfig(name=MISSING, estimator=by_target[target]())))
    return OmegaConf.merge(schema, cfg)


def typed_config(cfg: DictConfig) -> LbmConfig:
    """Refuse unset values, then build the typed objects (running every range check)."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"config: no value for {', '.join(missing)}; set it on the command line, for example "
                          f"{missing[0]}=PATH (see lbm_model/conf/ and docs/data-contract.md).")
    refuse_unknown_keys(cfg)
    try:
        return OmegaConf.to_object(cfg)
    except ValueError as exc:      # ThresholdRule's own checks
        raise ConfigError(f"config: classes: {exc} (see lbm_model/conf/classes/).") from None


def refuse_unknown_keys(node, where: str = "") -> None:
    """Refuse keys a schema does not have (Hydra's ``+key=value`` can add them to a typed node)."""
    if not isinstance(node, DictConfig):
        return
    schema = OmegaConf.get_type(node)
    if dataclasses.is_dataclass(schema):
        known = {f.name for f in dataclasses.fields(schema)}
        unknown = sorted(str(k) for k in node.keys() if k not in known)
        if unknown:
            raise ConfigError(f"config: {', '.join(f'{where}{k}' for k in unknown)}: no such setting in "
                              f"{schema.__name__}; expected one of {', '.join(sorted(known))}.")
    for key in node.keys():
        refuse_unknown_keys(node._get_node(key), f"{where}{key}.")


def plain(cfg: DictConfig) -> dict:
    """The resolved configuration as plain JSON-ready data (MLflow params, rerun record)."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """Compose the package configuration with ``overrides`` (Hydra's compose API, as lbm-experiment does)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=VERSION_BASE):
        return compose(config_name="config", overrides=list(overrides or []))


def compose_checks(source: str | Path) -> DictConfig:
    """The ``checks`` node of a package option (``default``, ``fast``) or of a YAML file.

    A file is composed with Hydra in its own directory, with the package's checks options on
    the search path, so a defaults list in it (``defaults: [default, _self_]``) refers to files
    beside it or to the package's options.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    path = Path(source)
    try:
        if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
            if path.suffix != ".yaml":
                raise ConfigError(f"{path}: a checks configuration must be a .yaml file (Hydra reads .yaml only).")
            if not path.is_file():
                raise ConfigError(f"{path}: checks configuration not found.")
            from lbm_model.contract import load_yaml_bounded

            load_yaml_bounded(path)     # an alias bomb is refused before Hydra expands it
            package_options = f"hydra.searchpath=[file://{CONF_DIR / 'checks'}]"    # so `defaults: [default]` works
            with initialize_config_dir(config_dir=str(path.parent.resolve()), version_base=VERSION_BASE):
                return compose(config_name=path.stem, overrides=[package_options])
        return compose_config([f"checks={source}"]).checks
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"checks configuration {source}: {' '.join(str(exc).split())}") from None
