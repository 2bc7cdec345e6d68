"""The frozen scoring model: a pickle-free, language-neutral, verifiable JSON manifest.

Layout of model.json (see docs/frozen-model.md)::

    {"format": "lbm-frozen-model", "format_version": 1,
     "content": {...everything that determines scores...},
     "content_sha256": sha256 of the canonical JSON of content,
     "provenance": {...run id, timestamp: recorded, not part of content...},
     "seal_sha256": sha256 of canonical content + canonical provenance}

The file itself is the canonical serialisation of that document, so a change to any byte,
a truncation or an edit of provenance is refused on load. Loading parses JSON only and
never executes code. Imports nothing from estimators, checks or tracking.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from lbm_model.atomic import write_bytes_atomic
from lbm_model.classes import CLASS_LABELS, N_CLASSES
from lbm_model.dimensions import DIMENSION_KEYS, TRANSFORMS
from lbm_model.errors import FrozenModelError

FORMAT = "lbm-frozen-model"
FORMAT_VERSION = 2                 # 2: estimator recorded by family name and params; standard_error may be null
READABLE_VERSIONS = (1, 2)
MODEL_FILE = "model.json"
INDICATOR_FIELDS = ("name", "dimension", "description", "transform", "mean", "sd", "train_min", "train_max",
                    "weight", "native_weight", "standard_error", "expected_sign")
INTERVAL_FIELD = "interval_90"     # optional (posterior families): [lower, upper] 90% credible interval, judgement points
DRAWS_FIELD = "posterior_draws"    # optional: {"weights": draws x indicators (judgement points, indicator order), ...}


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no NaN, shortest round-trip floats."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(content: dict, provenance: dict) -> dict:
    """The full document with both hashes."""
    content_json = canonical_json(content)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "content": content,
        "content_sha256": sha256_text(content_json),
        "provenance": provenance,
        "seal_sha256": sha256_text(content_json + canonical_json(provenance)),
    }


def document_bytes(document: dict) -> bytes:
    """The one byte layout of a document: indented for reviewers, keys sorted, final newline."""
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def frozen_bytes(content: dict, provenance: dict) -> bytes:
    """Validate ``content`` and return the bytes of its sealed document (nothing is written)."""
    validate_content(content, "content to freeze")
    try:
        return document_bytes(seal(content, provenance))
    except ValueError as exc:       # a NaN or infinity anywhere (fit statistics included)
        raise FrozenModelError(f"content to freeze: invalid frozen model: {exc}; nothing was written.") from None


def write_frozen_model(directory: str | Path, content: dict, provenance: dict) -> Path:
    """Validate ``content``, seal it and write ``directory/model.json`` atomically."""
    return write_bytes_atomic(Path(directory) / MODEL_FILE, frozen_bytes(content, provenance))


def with_native_weights(directory: str | Path, weights: dict[str, float]) -> dict:
    """Reseal the frozen model in ``directory`` with its native weights replaced by ``weights`` (per indicator
    name; everything else kept), e.g. a prior centred on known weights; returns the verified document."""
    document = read_frozen_model(directory)
    content = json.loads(json.dumps(document["content"]))
    for entry in content["indicators"]:
        entry["native_weight"] = float(weights[entry["name"]])
    write_frozen_model(directory, content, document["provenance"])
    return read_frozen_model(directory)


def read_frozen_model(path: str | Path) -> dict:
    """Read and verify a frozen model (a model.json or the directory holding it); returns the document."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise FrozenModelError(f"{path}: frozen model not found.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FrozenModelError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise FrozenModelError(f"{path}: not a valid frozen model: the JSON does not parse ({exc}); "
                               "the file is truncated or corrupted.") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise FrozenModelError(f"{path}: not an lbm frozen model (expected \"format\": \"{FORMAT}\").")
    if document.get("format_version") not in READABLE_VERSIONS:
        raise FrozenModelError(f"{path}: format_version {document.get('format_version')!r} is not supported "
                               f"(this code reads versions {', '.join(map(str, READABLE_VERSIONS))}).")
    for key in ("content", "provenance"):
        if not isinstance(document.get(key), dict):
            raise FrozenModelError(f"{path}: field '{key}' is missing or not an object.")
    expected = seal(document["content"], document["provenance"]) | {"format_version": document["format_version"]}
    for key in ("content_sha256", "seal_sha256"):
        if document.get(key) != expected[key]:
            raise FrozenModelError(f"{path}: verification failed: {key} is {document.get(key)!r} but the file's "
                                   f"content hashes to {expected[key]!r}; the model was modified after freezing.")
    if raw != document_bytes(expected):
        raise FrozenModelError(f"{path}: verification failed: the file is not byte-for-byte the canonical "
                               "serialisation of its content; it was edited after freezing.")
    validate_content(document["content"], str(path))
    return document


def _refuse_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as infinity
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def validate_content(content: dict, where: str) -> None:
    """Structural checks on the content of a frozen model."""
    def fail(msg: str) -> None:
        raise FrozenModelError(f"{where}: invalid frozen model: {msg}.")

    if not isinstance(content, dict):
        fail("'content' must be an object")
    if not isinstance(content.get("model_version"), str):
        fail("'model_version' must be a text")
    indicators = content.get("indicators")
    if not isinstance(indicators, list) or not indicators:
        fail("'indicators' must be a non-empty list")
    names = set()
    for entry in indicators:
        if not isinstance(entry, dict) or any(f not in entry for f in INDICATOR_FIELDS):
            fail(f"every indicator needs the fields {', '.join(INDICATOR_FIELDS)}")
        if not isinstance(entry["name"], str) or not entry["name"]:
            fail("every indicator needs a non-empty text 'name'")
        if entry["name"] in names:
            fail(f"indicator {entry['name']!r} appears twice")
        names.add(entry["name"])
        if entry["dimension"] not in DIMENSION_KEYS or entry["transform"] not in TRANSFORMS:
            fail(f"indicator {entry['name']!r} has an unknown dimension or transform")
        for field in ("mean", "sd", "weight", "train_min", "train_max"):
            if not _finite(entry[field]):
                fail(f"indicator {entry['name']!r}: {field} must be a finite number")
        if entry["standard_error"] is not None and not _finite(entry["standard_error"]):
            fail(f"indicator {entry['name']!r}: standard_error must be a finite number or null (no uncertainty)")
        if entry["sd"] <= 0:
            fail(f"indicator {entry['name']!r}: sd must be positive")
        if entry["train_min"] > entry["train_max"]:
            fail(f"indicator {entry['name']!r}: train_min must not exceed train_max")
        interval = entry.get(INTERVAL_FIELD)
        if interval is not None and not (isinstance(interval, list) and len(interval) == 2 and all(map(_finite, interval))
                                         and interval[0] <= interval[1]):
            fail(f"indicator {entry['name']!r}: {INTERVAL_FIELD} must be [lower, upper], finite, lower <= upper")
    _validate_draws(content.get(DRAWS_FIELD), len(indicators), fail)
    classes = content.get("classes")
    if not isinstance(classes, dict):
        fail("'classes' must be an object")
    thresholds, labels = classes.get("thresholds"), classes.get("labels")
    if not isinstance(thresholds, list) or len(thresholds) != N_CLASSES - 1 or not all(map(_finite, thresholds)):
        fail(f"'classes.thresholds' must be {N_CLASSES - 1} finite numbers")
    if any(b <= a for a, b in zip(thresholds, thresholds[1:])):
        fail("'classes.thresholds' must increase")
    if labels != list(CLASS_LABELS):
        fail("'classes.labels' must be the nine published class labels")


def _validate_draws(draws: Any, n_indicators: int, fail) -> None:
    """The optional posterior draws: one row of finite weights per draw, one weight per indicator."""
    if draws is None:
        return
    rows = draws.get("weights") if isinstance(draws, dict) else None
    if not isinstance(rows, list) or not rows:
        fail(f"'{DRAWS_FIELD}.weights' must be a non-empty list of draws")
    for row in rows:
        if not isinstance(row, list) or len(row) != n_indicators or not all(map(_finite, row)):
            fail(f"every row of '{DRAWS_FIELD}.weights' must hold {n_indicators} finite weights (one per indicator)")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
