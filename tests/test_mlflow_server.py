"""Against a real tracking server: `mlflow server` on 127.0.0.1 (SQLite backend, proxied artifact store), a
tracked run that logs and registers through it, promotion through it, and `mlflow models serve` of the
champion answering a scoring request with exactly the numbers of `lbm score`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import BIN, run_lbm_experiment
from lbm_model.frozen import read_frozen_model

pytestmark = pytest.mark.slow

CHECKS = ("checks.run=[residual_autocorrelation,blocked_cv]", "checks.spatial.lisa=false",
          "checks.spatial.levels=[buurt]", "checks.spatial.weights=[knn]")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the process ended ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s: {log.read_text()[-3000:]}")


def start(argv: list[str], health_url: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    handle = open(log, "w")
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                               start_new_session=True)
    wait_until_up(health_url, process, log)
    return process


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    port = free_port()
    process = start([str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
                     "--backend-store-uri", f"sqlite:///{tmp}/server.db", "--artifacts-destination",
                     str(tmp / "server-artifacts"), "--workers", "1"],
                    f"http://127.0.0.1:{port}/health", tmp / "server.log")
    yield tmp, f"http://127.0.0.1:{port}"
    stop(process)


@pytest.fixture(scope="module")
def served_run(server, small_world):
    tmp, uri = server
    done = run_lbm_experiment(tmp, small_world, "model=ols", f"export.dir={tmp}/export", *CHECKS, tracking_uri=uri)
    assert done.returncode == 0, done.stderr[-3000:]
    return read_frozen_model(tmp / "export")["provenance"]["mlflow_run_id"]


def lbm_score(tmp: Path, model_dir: Path, cells: pd.DataFrame) -> pd.DataFrame:
    cells.to_parquet(tmp / "request-cells.parquet", index=False)
    done = subprocess.run([str(BIN / "lbm"), "score", "--model", str(model_dir), "--cells",
                           str(tmp / "request-cells.parquet"), "--out", str(tmp / "request-scores.parquet")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return pd.read_parquet(tmp / "request-scores.parquet")


def request_cells(world: Path, n: int = 500) -> pd.DataFrame:
    cells = pd.read_parquet(world / "cells.parquet")
    return cells[cells["year"] == 2020].head(n).reset_index(drop=True)


def test_a_run_logs_registers_and_loads_through_a_tracking_server(server, served_run, small_world):
    import mlflow

    tmp, uri = server
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(served_run)
    assert run.info.status == "FINISHED" and run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert (tmp / "server-artifacts").is_dir() and not (tmp / "mlartifacts").exists()   # the server stores artifacts
    versions = client.search_model_versions("name='leefbaarometer'")
    assert [v.run_id for v in versions] == [served_run]
    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(f"models:/leefbaarometer/{versions[0].version}")
    finally:
        mlflow.set_tracking_uri(None)
    cells = request_cells(small_world)
    expected = lbm_score(tmp, tmp / "export", cells)
    served = model.predict(cells)
    np.testing.assert_allclose(served["score"].to_numpy(), expected["score"].to_numpy(), rtol=0, atol=1e-12)
    assert (served["class"].to_numpy() == expected["class"].to_numpy()).all()


def test_models_serve_of_the_champion_answers_like_lbm_score(server, served_run, small_world):
    tmp, uri = server
    promote = subprocess.run([str(BIN / "lbm"), "promote", served_run, "--alias", "champion", "--tracking-uri", uri],
                             capture_output=True, text=True)
    assert promote.returncode == 0, promote.stderr
    port = free_port()
    process = start([str(BIN / "mlflow"), "models", "serve", "-m", "models:/leefbaarometer@champion",
                     "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                    f"http://127.0.0.1:{port}/ping", tmp / "serve.log",       # the scoring server runs the venv's uvicorn
                    env={"MLFLOW_TRACKING_URI": uri, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    try:
        cells = request_cells(small_world)
        split = cells.to_dict(orient="split", index=False)            # Python floats: repr round-trips exactly
        body = json.dumps({"dataframe_split": split}, default=lambda value: value.item())
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            predictions = pd.DataFrame(json.loads(response.read())["predictions"])
    finally:
        stop(process)
    expected = lbm_score(tmp, tmp / "export", cells)
    assert list(predictions["cell_id"]) == list(expected["cell_id"])
    np.testing.assert_allclose(predictions["score"].to_numpy(), expected["score"].to_numpy(), rtol=0, atol=1e-12)
    assert (predictions["class"].to_numpy() == expected["class"].to_numpy()).all()
