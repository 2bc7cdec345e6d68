"""Property-based fuzzing of the loaders and the frozen-model reader (hypothesis).

Loaders: any variant of cells, survey or catalog either loads or raises ContractError, never
another exception; what loads really follows the contract. Frozen models: every changed
byte, insertion, deletion or truncation of a valid model.json is refused with
FrozenModelError; random JSON documents are refused; sealed documents with wrong content
are refused; accepted content always compiles and scores; reading never executes code.
"""

from __future__ import annotations

import ast
import copy
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import ROOT, tiny_tables
from lbm_model.catalog import Catalog
from lbm_model.contract import load_catalog, read_table, validate_cells, validate_survey
from lbm_model.errors import ContractError, FrozenModelError
from lbm_model.frozen import document_bytes, read_frozen_model, seal
from lbm_model.scoring import CompiledScorer

pytestmark = pytest.mark.filterwarnings("ignore::lbm_model.errors.ContractWarning")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CELLS, SURVEY, CATALOG = tiny_tables(n_cells=12, n_respondents=30)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def frozen_bytes(work) -> bytes:
    """A valid model.json fitted on the tiny inputs."""
    from bad_input_cases import make_model

    return (make_model(work / "model-source") / "model.json").read_bytes()


# ---- values that real files contain by mistake ---------------------------------------------------
nasty_values = st.one_of(
    st.none(), st.just(np.nan), st.just(np.inf), st.just(-np.inf), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["", " ", "NA", "null", "1e400", "-0", "3,5", "2020.0", "E1200N4500",
                                           "[/x]", "\u00a0", "=cmd|' /C calc'!A0"]),
)


@st.composite
def mutated_frame(draw, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a few random edits: cells overwritten, columns dropped, renamed or retyped, rows doubled."""
    frame = frame.copy()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "set", "set", "drop", "rename", "duplicate_row", "as_text", "empty"]))
        column = draw(st.sampled_from(list(frame.columns))) if len(frame.columns) else None
        if column is None:
            break
        if kind == "set" and len(frame):
            rows = draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=3, unique=True))
            value = draw(nasty_values)
            frame[column] = frame[column].astype(object)
            for row in rows:
                frame.at[frame.index[row], column] = value
        elif kind == "drop":
            frame = frame.drop(columns=[column])
        elif kind == "rename":
            frame = frame.rename(columns={column: draw(st.sampled_from(["x", "year", "cell_id", " households", "Year",
                                                                         "respondent_id", ""]))})
        elif kind == "duplicate_row" and len(frame):
            frame = pd.concat([frame, frame.iloc[[draw(st.integers(0, len(frame) - 1))]]], ignore_index=True)
        elif kind == "as_text":
            frame[column] = frame[column].astype(str)
        elif kind == "empty":
            frame = frame.iloc[:0]
    return frame


def _write(frame: pd.DataFrame, path: Path) -> bool:
    """Write CSV or Parquet; False when the writer itself refuses the frame (nothing to test then)."""
    try:
        if path.suffix == ".parquet":
            try:
                frame.to_parquet(path, index=False)
            except Exception:  # pyarrow cannot store mixed-type columns: store them as text instead
                mixed = {c: str for c in frame.columns if frame[c].dtype == object}
                frame.astype(mixed).to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    except Exception:  # e.g. duplicate column names in Parquet
        return False
    return True


def _assert_follows_contract(cells: pd.DataFrame, catalog: Catalog) -> None:
    """What validate_cells accepted must really follow the contract."""
    for column in ("cell_id", "buurt_code", "wijk_code", "gemeente_code"):
        assert cells[column].map(lambda v: isinstance(v, str) and v.strip() != "").all()
    assert cells["year"].dtype == np.int64 and cells["households"].dtype == np.int64
    assert (cells["households"] >= 0).all()
    assert not cells.duplicated(["cell_id", "year"]).any()
    for name in [i.name for i in catalog.model_indicators] + ["x", "y"]:
        values = cells[name].to_numpy(dtype=float)
        assert np.isfinite(values).all()


@FUZZ
@given(frame=mutated_frame(CELLS), fmt=st.sampled_from(["csv", "parquet"]))
def test_cells_variants_load_or_raise_contract_error(work, frame, fmt):
    path = work / f"cells.{fmt}"
    assume(_write(frame, path))
    catalog = load_catalog_from(CATALOG, work)
    try:
        cells = validate_cells(read_table(path), catalog, str(path))
    except ContractError as exc:
        assert str(path) in str(exc)
        return
    _assert_follows_contract(cells, catalog)


@FUZZ
@given(frame=mutated_frame(SURVEY), fmt=st.sampled_from(["csv", "parquet"]))
def test_survey_variants_load_or_raise_contract_error(work, frame, fmt):
    path = work / f"survey.{fmt}"
    assume(_write(frame, path))
    catalog = load_catalog_from(CATALOG, work)
    cells = validate_cells(CELLS.copy(), catalog, "cells")
    try:
        survey = validate_survey(read_table(path), cells, catalog, str(path))
    except ContractError as exc:
        assert str(path) in str(exc)
        return
    assert survey["respondent_id"].is_unique
    assert survey["response"].between(1, 5).all() and survey["response"].dtype == np.int64
    if "weight" in survey.columns:
        assert (survey["weight"].to_numpy(float) > 0).all()
    located = pd.MultiIndex.from_frame(survey[["cell_id", "year"]]).isin(pd.MultiIndex.from_frame(cells[["cell_id", "year"]]))
    assert located.all()


def load_catalog_from(catalog: dict, work: Path) -> Catalog:
    path = work / "catalog-valid.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return load_catalog(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
catalog_fields = ("name", "dimension", "description", "expected_sign", "stigmatising", "transform")


@st.composite
def mutated_catalog(draw) -> dict:
    catalog = copy.deepcopy(CATALOG)
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(["field", "field", "entry", "controls"]))
        entries = [e for e in catalog["indicators"] if isinstance(e, dict)]
        if target == "field" and entries:
            entry = entries[draw(st.integers(0, len(entries) - 1))]
            key = draw(st.sampled_from(catalog_fields + ("dimenson", "weight")))
            entry[key] = draw(json_values | st.sampled_from(["fys", "won", "none", "log1p", -1, 0, 1]))
        elif target == "entry":
            catalog["indicators"].append(draw(json_values))
        else:
            catalog["controls"] = draw(json_values | st.lists(st.sampled_from(["tenure", "year", "respondent_id"])))
    if draw(st.integers(0, 9)) == 0:  # now and then, a document of the wrong shape altogether
        catalog = draw(st.dictionaries(st.sampled_from(["indicators", "controls", "other"]), json_values, max_size=3))
    return catalog


@FUZZ
@given(catalog=mutated_catalog())
def test_catalog_variants_load_or_raise_contract_error(work, catalog):
    path = work / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False, allow_unicode=True))
    try:
        loaded = load_catalog(path)
    except ContractError as exc:
        assert str(path) in str(exc)
        return
    assert loaded.indicators and len(set(loaded.names)) == len(loaded.names)
    assert all(isinstance(i.name, str) and i.dimension in ("fys", "won", "vrz", "soc", "onv") for i in loaded.indicators)
    assert not set(loaded.controls) & {"respondent_id", "year", "cell_id", "response", "weight"}


@FUZZ
@given(text=st.text(max_size=300) | st.sampled_from(["[" * 5000, "a: &a [*a]", "{a: 1, a: 2}", "!!python/object:os.system ls",
                                                      "indicators: !!python/name:os.system", "\x00\x01", "\ufeffindicators: []"]))
def test_arbitrary_catalog_text_loads_or_raises_contract_error(work, text):
    path = work / "catalog-text.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_catalog(path)
    except ContractError:
        pass


@FUZZ
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(str.encode), fmt=st.sampled_from(["csv", "parquet"]))
def test_arbitrary_bytes_as_table_read_or_raise_contract_error(work, data, fmt):
    path = work / f"raw.{fmt}"
    path.write_bytes(data)
    try:
        frame = read_table(path)
    except ContractError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0


@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_corrupted_parquet_reads_or_raises_contract_error(work, edits):
    buffer = io.BytesIO()
    CELLS.to_parquet(buffer, index=False)
    data = bytearray(buffer.getvalue())
    for where, value in edits:
        data[min(int(where * len(data)), len(data) - 1)] = value
    path = work / "corrupt.parquet"
    path.write_bytes(bytes(data))
    try:
        read_table(path)
    except ContractError:
        pass


# ---- the frozen model ----------------------------------------------------------------------------
@st.composite
def byte_edits(draw, size: int) -> list[tuple]:
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, size - 1))
        if kind == "flip":
            edits.append((kind, at, 1 << draw(st.integers(0, 7))))
        elif kind == "set":
            edits.append((kind, at, draw(st.integers(0, 255))))
        elif kind == "insert":
            edits.append((kind, at, draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b" ", b"\n", b"0", b"-"]))))
        elif kind == "delete":
            edits.append((kind, at, draw(st.integers(1, 16))))
        else:
            edits.append((kind, at, None))
    return edits


def _apply(data: bytes, edits: list[tuple]) -> bytes:
    buf = bytearray(data)
    for kind, at, arg in edits:
        at = min(at, max(len(buf) - 1, 0))
        if kind == "flip" and buf:
            buf[at] ^= arg
        elif kind == "set" and buf:
            buf[at] = arg
        elif kind == "insert":
            buf[at:at] = arg
        elif kind == "delete":
            del buf[at:at + arg]
        elif kind == "truncate":
            del buf[at:]
    return bytes(buf)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_changed_model_file_is_refused(work, frozen_bytes, data):
    changed = _apply(frozen_bytes, data.draw(byte_edits(len(frozen_bytes))))
    assume(changed != frozen_bytes)
    path = work / "changed" / "model.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(changed)
    with pytest.raises(FrozenModelError):
        read_frozen_model(path)


def test_the_unchanged_model_file_is_accepted(work, frozen_bytes):
    path = work / "unchanged" / "model.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(frozen_bytes)
    assert read_frozen_model(path)["format"] == "lbm-frozen-model"


@FUZZ
@given(document=json_values)
def test_random_json_documents_are_refused(work, document):
    path = work / "random.json"
    path.write_text(json.dumps(document))
    with pytest.raises(FrozenModelError):
        read_frozen_model(path)


@FUZZ
@given(text=st.sampled_from(["[" * 100_000, '{"a": 1e400}', '{"a": NaN}', '{"a": Infinity}', "1" * 5000,
                             '{"format": "lbm-frozen-model", "format_version": 1}', "\ufeff{}", ""]))
def test_hostile_json_text_is_refused(work, text):
    path = work / "hostile.json"
    path.write_text(text)
    with pytest.raises(FrozenModelError):
        read_frozen_model(path)


def test_out_of_range_number_in_a_model_is_refused(work, frozen_bytes):
    """1e400 parses as infinity in Python's json; the reader must refuse it, not crash re-sealing it."""
    document = json.loads(frozen_bytes)
    weight = repr(document["content"]["indicators"][0]["weight"]).encode()
    assert frozen_bytes.count(weight) >= 1
    path = work / "overflow" / "model.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(frozen_bytes.replace(weight, b"1e400", 1))
    with pytest.raises(FrozenModelError, match="out of range"):
        read_frozen_model(path)


CONTENT_FIELDS = ("name", "dimension", "transform", "mean", "sd", "train_min", "train_max", "weight")


@st.composite
def wrong_content(draw, content: dict) -> dict:
    """Valid content with one to three fields replaced, removed or made inconsistent."""
    content = copy.deepcopy(content)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["indicator_field", "indicator_field", "drop_field", "thresholds", "labels",
                                     "top", "duplicate"]))
        entries = [e for e in content["indicators"] if isinstance(e, dict)] \
            if isinstance(content.get("indicators"), list) else []
        entry = entries[draw(st.integers(0, len(entries) - 1))] if entries else None
        if kind == "indicator_field" and isinstance(entry, dict):
            entry[draw(st.sampled_from(CONTENT_FIELDS))] = draw(json_values | st.sampled_from([0, -1.0, 1e300, "fys"]))
        elif kind == "drop_field" and isinstance(entry, dict):
            entry.pop(draw(st.sampled_from(CONTENT_FIELDS)), None)
        elif kind == "thresholds" and isinstance(content.get("classes"), dict) \
                and isinstance(content["classes"].get("thresholds"), list) and content["classes"]["thresholds"]:
            thresholds = list(content["classes"]["thresholds"])
            i = draw(st.integers(0, len(thresholds) - 1))
            thresholds[i] = draw(st.sampled_from([-1e3, 1e3, 0.0, None, "0.1"]) | json_values)
            content["classes"]["thresholds"] = thresholds if draw(st.booleans()) else thresholds[::-1]
        elif kind == "labels" and isinstance(content.get("classes"), dict):
            content["classes"]["labels"] = draw(json_values)
        elif kind == "top":
            content[draw(st.sampled_from(["indicators", "classes", "model_version"]))] = draw(json_values)
        elif kind == "duplicate" and isinstance(entry, dict) and isinstance(content.get("indicators"), list):
            content["indicators"].append(copy.deepcopy(entry))
    return content


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_sealed_but_wrong_content_is_refused_or_scores(work, frozen_bytes, data):
    """A correctly sealed document with edited content: refused, or (if still valid) it compiles and scores."""
    original = json.loads(frozen_bytes)
    content = data.draw(wrong_content(original["content"]))
    path = work / "sealed" / "model.json"
    path.parent.mkdir(exist_ok=True)
    try:
        path.write_bytes(document_bytes(seal(content, original["provenance"])))
    except ValueError:  # content a JSON writer refuses cannot be frozen in the first place
        assume(False)
    try:
        document = read_frozen_model(path)
    except FrozenModelError:
        return
    scorer = CompiledScorer.from_document(document)
    cells = CELLS.copy()
    for name in scorer.names:
        cells[name] = cells.get(name, pd.Series(1.0, index=cells.index))
    scores = scorer.score(cells)
    assert len(scores) == len(cells)
    assert scores["class"].between(1, 9).all()


def test_loading_a_frozen_model_never_executes_code(work, tmp_path):
    """A pickle or YAML payload that would create a file if executed is refused and runs nothing."""
    import pickle

    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    payloads = [pickle.dumps(Payload()),
                f"!!python/object/apply:pathlib.Path.touch [{json.dumps(str(marker))}]\n".encode(),
                json.dumps({"__reduce__": ["os.system", f"touch {marker}"], "format": "lbm-frozen-model"}).encode()]
    for n, payload in enumerate(payloads):
        path = tmp_path / f"m{n}" / "model.json"
        path.parent.mkdir()
        path.write_bytes(payload)
        with pytest.raises(FrozenModelError):
            read_frozen_model(path)
        with pytest.raises(FrozenModelError):
            CompiledScorer.load(path.parent)
    assert not marker.exists()


def test_frozen_model_reader_uses_no_code_executing_loader():
    """frozen.py and scoring.py import no pickle, marshal, yaml, joblib or dill and call no eval/exec."""
    forbidden_modules = {"pickle", "marshal", "shelve", "dill", "joblib", "cloudpickle", "yaml", "importlib"}
    forbidden_calls = {"eval", "exec", "compile", "__import__"}
    for module in ("frozen.py", "scoring.py", "transforms.py", "classes.py"):
        tree = ast.parse((ROOT / "src" / "lbm_model" / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & forbidden_modules, module
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in forbidden_modules, module
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in forbidden_calls, module
