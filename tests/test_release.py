"""Signed release bundles: lbm keygen, lbm release, lbm verify BUNDLE --public-key, lbm score --expect-sha256.

Commands run in-process through ``lbm_model.cli.main`` (sys.argv patched, SystemExit caught);
one test runs the whole path through the installed console script.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN

HEX = "[0-9a-f]{64}"


def lbm(monkeypatch, capsys, *args) -> tuple[int, str]:
    """Run ``lbm ARGS`` in this process; returns (exit code, stdout + stderr)."""
    from lbm_model.cli import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["lbm", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rewrite_sums(bundle: Path) -> None:
    """SHA256SUMS recomputed for the bundle's current files (what a forger without the key can do)."""
    files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*")
                   if p.is_file() and p.name not in ("SHA256SUMS", "SHA256SUMS.sig"))
    (bundle / "SHA256SUMS").write_text("".join(f"{sha256(bundle / f)}  {f}\n" for f in files))


@pytest.fixture
def keys(tmp_path, monkeypatch, capsys) -> tuple[Path, Path]:
    code, text = lbm(monkeypatch, capsys, "keygen", "--out", tmp_path / "keys")
    assert code == 0, text
    return tmp_path / "keys" / "lbm-release.key", tmp_path / "keys" / "lbm-release.pub"


@pytest.fixture
def bundle(tiny_frozen, keys, tmp_path, monkeypatch, capsys) -> Path:
    _, _, model = tiny_frozen
    out = tmp_path / "releases" / "v1"
    code, text = lbm(monkeypatch, capsys, "release", "--model", model.parent, "--key", keys[0], "--out", out)
    assert code == 0, text
    assert re.search(r"released test -> .*v1: 5 files, content sha256 " + HEX + r", signed by key [0-9a-f]{16}", text)
    return out


# --- keygen ----------------------------------------------------------------------------------

def test_keygen_writes_a_0600_private_key_and_a_public_key(keys):
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")   # PEM PKCS8, unencrypted
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    assert not list(private.parent.glob(".*")), "no temp files left beside the keys"


def test_keygen_refuses_to_overwrite_an_existing_key(keys, monkeypatch, capsys):
    private, public = keys
    before = private.read_bytes(), public.read_bytes()
    code, text = lbm(monkeypatch, capsys, "keygen", "--out", private.parent)
    assert code == 2
    assert re.search(r"error .*lbm-release\.key: already exists; lbm keygen never overwrites a key", text), text
    assert "Traceback" not in text
    assert (private.read_bytes(), public.read_bytes()) == before
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


# --- release and verify ----------------------------------------------------------------------

def test_bundle_holds_the_verified_model_and_signed_checksums(bundle, tiny_frozen, keys):
    from cryptography.hazmat.primitives import serialization

    _, _, model = tiny_frozen
    assert sorted(p.name for p in bundle.iterdir()) == ["MODEL_CARD.md", "SHA256SUMS", "SHA256SUMS.sig",
                                                       "model.json", "release.json"]
    assert (bundle / "model.json").read_bytes() == model.read_bytes()
    lines = (bundle / "SHA256SUMS").read_text().splitlines()
    assert lines == [f"{sha256(bundle / name)}  {name}" for name in ("MODEL_CARD.md", "model.json", "release.json")]
    signature = base64.b64decode((bundle / "SHA256SUMS.sig").read_text().strip(), validate=True)
    public_key = serialization.load_pem_public_key(keys[1].read_bytes())
    public_key.verify(signature, (bundle / "SHA256SUMS").read_bytes())       # raises if invalid
    record = json.loads((bundle / "release.json").read_text())
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert record["public_key_sha256"] == hashlib.sha256(raw).hexdigest()
    assert record["content_sha256"] == json.loads(model.read_text())["content_sha256"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record["created_at"])
    assert not list(bundle.parent.glob(".*")), "no staging directory left beside the bundle"


def test_bundle_verifies_with_the_right_public_key(bundle, keys, monkeypatch, capsys):
    code, text = lbm(monkeypatch, capsys, "verify", bundle, "--public-key", keys[1])
    assert code == 0, text
    content_sha256 = json.loads((bundle / "model.json").read_text())["content_sha256"]
    assert re.search(rf"verified release .*v1: signature by key [0-9a-f]{{16}}, 3 files match SHA256SUMS; test, "
                     rf"content sha256 {content_sha256}", text), text


def test_verification_fails_with_another_key(bundle, tmp_path, monkeypatch, capsys):
    assert lbm(monkeypatch, capsys, "keygen", "--out", tmp_path / "other")[0] == 0
    code, text = lbm(monkeypatch, capsys, "verify", bundle, "--public-key", tmp_path / "other" / "lbm-release.pub")
    assert code == 2
    assert re.search(r"v1: release verification failed: signature check failed: SHA256SUMS\.sig is not a valid "
                     r"signature of SHA256SUMS by the public key .*other/lbm-release\.pub \(fingerprint [0-9a-f]{64}\)",
                     text), text
    assert "changed since release" not in text and "Traceback" not in text


def test_resealed_weight_change_with_updated_checksums_fails_the_signature(bundle, keys, monkeypatch, capsys):
    from lbm_model.frozen import document_bytes, seal

    document = json.loads((bundle / "model.json").read_text())
    document["content"]["indicators"][0]["weight"] += 0.5
    (bundle / "model.json").write_bytes(document_bytes(seal(document["content"], document["provenance"])))
    code, text = lbm(monkeypatch, capsys, "verify", bundle / "model.json")     # a valid model on its own
    assert code == 0, text
    rewrite_sums(bundle)
    code, text = lbm(monkeypatch, capsys, "verify", bundle, "--public-key", keys[1])
    assert code == 2
    assert re.search(r"release verification failed: signature check failed: SHA256SUMS\.sig is not a valid signature "
                     r"of SHA256SUMS by the public key .*lbm-release\.pub .*SHA256SUMS was changed after signing", text), text
    assert "changed since release" not in text          # the checksums themselves are consistent


def test_changed_file_without_updating_checksums_is_named(bundle, keys, monkeypatch, capsys):
    with open(bundle / "MODEL_CARD.md", "a") as handle:
        handle.write("\nAll checks passed.\n")
    code, text = lbm(monkeypatch, capsys, "verify", bundle, "--public-key", keys[1])
    assert code == 2
    assert re.search(rf"release verification failed: changed since release: MODEL_CARD\.md \(sha256 {HEX}, "
                     rf"SHA256SUMS lists {HEX}\)\.", text), text
    assert "signature check failed" not in text


def test_missing_and_unlisted_files_are_named(bundle, keys, monkeypatch, capsys):
    (bundle / "release.json").unlink()
    (bundle / "extra").mkdir()
    (bundle / "extra" / "notes.txt").write_text("added later\n")
    code, text = lbm(monkeypatch, capsys, "verify", bundle, "--public-key", keys[1])
    assert code == 2
    assert re.search(r"missing \(listed in SHA256SUMS\): release\.json\. not listed in SHA256SUMS: extra/notes\.txt\.",
                     text), text


def test_bundle_without_public_key_is_refused(bundle, monkeypatch, capsys):
    code, text = lbm(monkeypatch, capsys, "verify", bundle)
    assert code == 2
    assert re.search(r"v1: is a release bundle \(it has SHA256SUMS, SHA256SUMS\.sig, release\.json\); pass "
                     r"--public-key PUB", text), text


def test_plain_model_verify_is_unchanged_and_refuses_a_public_key(tiny_frozen, keys, monkeypatch, capsys):
    _, _, model = tiny_frozen
    code, text = lbm(monkeypatch, capsys, "verify", model.parent)
    assert code == 0
    flat = " ".join(text.split())                        # the existing success line is wrapped by rich
    assert re.search(rf"verified .*export: test, 2 indicators, content sha256 {HEX}", flat), text
    code, text = lbm(monkeypatch, capsys, "verify", model.parent, "--public-key", keys[1])
    assert code == 2
    assert re.search(r"export: not a release bundle \(no SHA256SUMS\); --public-key applies to release bundles only",
                     text), text


def test_release_refuses_a_non_empty_out_and_leaves_nothing_when_it_fails(tiny_frozen, keys, tmp_path, monkeypatch,
                                                                          capsys):
    _, _, model = tiny_frozen
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "old.txt").write_text("x")
    code, text = lbm(monkeypatch, capsys, "release", "--model", model.parent, "--key", keys[0], "--out", taken)
    assert code == 2
    assert re.search(r"--out .*taken: exists and is not empty; .* Nothing was written\.", text), text
    assert [p.name for p in taken.iterdir()] == ["old.txt"]

    out = tmp_path / "rel"
    code, text = lbm(monkeypatch, capsys, "release", "--model", model.parent, "--key", keys[1], "--out", out)
    assert code == 2
    assert re.search(r"lbm-release\.pub: not a PEM private key \(this is a public key; --key takes the private "
                     r"lbm-release\.key\)", text), text
    assert not out.exists()

    model.write_text(model.read_text().replace('"model_version": "test"', '"model_version": "tset"'))
    code, text = lbm(monkeypatch, capsys, "release", "--model", model.parent, "--key", keys[0], "--out", out)
    assert code == 2
    assert re.search(r"model\.json: verification failed: content_sha256", text), text
    assert not out.exists() and not list(tmp_path.glob(".rel.tmp-*"))


def _freeze_with_audit(model: Path, *, standard_error_null: bool = False) -> Path:
    """Re-freeze the tiny model with an audit.json and one evidence file that it records."""
    from lbm_model.frozen import write_frozen_model

    export = model.parent
    (export / "evidence" / "sign_plausibility").mkdir(parents=True)
    evidence = export / "evidence" / "sign_plausibility" / "signs.csv"
    evidence.write_text("indicator,sign\ngreen_share_500m,-1\n")
    audit = {"format": "lbm-audit", "format_version": 2, "verdict": "warn",
             "verdicts": {"stigma": "pass", "sign_plausibility": "warn"},
             "checks": [{"name": "stigma", "verdict": "pass", "summary": "no stigmatising indicator is a model term"},
                        {"name": "sign_plausibility", "verdict": "warn",
                         "summary": "1 of 2 weights | against the expected sign"}],
             "evidence_sha256": {"evidence/sign_plausibility/signs.csv": sha256(evidence)}}
    data = (json.dumps(audit, sort_keys=True, indent=2) + "\n").encode()
    (export / "audit.json").write_bytes(data)
    document = json.loads(model.read_text())
    content = document["content"]
    content["audit"] = {"file": "audit.json", "sha256": hashlib.sha256(data).hexdigest(), "verdict": "warn"}
    if standard_error_null:
        for entry in content["indicators"]:
            entry["standard_error"] = None
    return write_frozen_model(export, content, document["provenance"])


def test_release_bundles_audit_evidence_and_a_model_card(tiny_frozen, keys, tmp_path, monkeypatch, capsys):
    _, _, model = tiny_frozen
    _freeze_with_audit(model, standard_error_null=True)
    out = tmp_path / "rel"
    code, text = lbm(monkeypatch, capsys, "release", "--model", model.parent, "--key", keys[0], "--out", out)
    assert code == 0, text
    listed = [line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines()]
    assert listed == ["MODEL_CARD.md", "audit.json", "evidence/sign_plausibility/signs.csv", "model.json",
                      "release.json"]
    assert (out / "audit.json").read_bytes() == (model.parent / "audit.json").read_bytes()
    card = (out / "MODEL_CARD.md").read_text()
    document = json.loads(model.read_text())
    content = document["content"]
    assert re.search(r"^# Model card: test$", card, re.M)
    assert re.search(rf"^\| content_sha256 \| `{document['content_sha256']}` \|$", card, re.M)
    assert re.search(r"^\| estimator family \| ordinal_logit \|$", card, re.M)
    assert re.search(r"^\| estimator params \| `cov_type=\"cluster\"`, `max_iter=200`, `tol=1e-10` \|$", card, re.M)
    assert "**Score scale.** judgement points" in card
    assert re.search(rf"^\| training_data fingerprint \(sha256\) \| `{content['training_data']['fingerprint_sha256']}` \|$",
                     card, re.M)
    assert re.search(r"^\| cell years \| 2018, 2020 \|$", card, re.M)
    assert re.search(r"^\| respondents \(n\) \| 120 \|$", card, re.M)
    assert re.search(r"^### fys: Fysieke omgeving \(physical environment\)$", card, re.M)
    green = next(e for e in content["indicators"] if e["name"] == "green_share_500m")
    assert re.search(rf"^\| green_share_500m \| share of green within 500 m \| none \| 1 \| {green['weight']:.4f} \| n/a \|$",
                     card, re.M)
    assert re.search(r"^### won: Woningvoorraad \(housing stock\)\n\nNo indicators in this dimension\.$", card, re.M)
    thresholds, shares = content["classes"]["thresholds"], content["classes"]["base_year_household_shares"]
    assert re.search(rf"^\| 1 \| zeer onvoldoende \| -inf \| {thresholds[0]:.4f} \| {100 * shares[0]:.1f}% \|$", card, re.M)
    assert re.search(rf"^\| 5 \| voldoende \| {thresholds[3]:.4f} \| {thresholds[4]:.4f} \| {100 * shares[4]:.1f}% \|$",
                     card, re.M)
    assert re.search(r"^\| 9 \| uitstekend \| [-0-9.]+ \| \+inf \| ", card, re.M)
    assert re.search(r"^Overall verdict: \*\*warn\*\*; audit\.json is the one model\.json records\.$", card, re.M)
    assert re.search(r"^\| sign_plausibility \| warn \| 1 of 2 weights \\\| against the expected sign \|$", card, re.M)
    assert re.search(r"^## Limits\n\nScores estimate how residents would judge", card, re.M)
    code, text = lbm(monkeypatch, capsys, "verify", out, "--public-key", keys[1])
    assert code == 0, text
    assert "5 files match SHA256SUMS" in text


def test_release_refuses_evidence_that_does_not_match_the_audit(tiny_frozen, keys, tmp_path, monkeypatch, capsys):
    _, _, model = tiny_frozen
    _freeze_with_audit(model)
    (model.parent / "evidence" / "sign_plausibility" / "signs.csv").write_text("indicator,sign\ngreen_share_500m,1\n")
    out = tmp_path / "rel"
    code, text = lbm(monkeypatch, capsys, "release", "--model", model.parent, "--key", keys[0], "--out", out)
    assert code == 2
    assert re.search(rf"evidence does not match audit\.json: evidence/sign_plausibility/signs\.csv \(sha256 {HEX}, "
                     rf"audit\.json records {HEX}\)\. Nothing was written\.", text), text
    assert not out.exists()

    (model.parent / "audit.json").write_text("{}\n")
    code, text = lbm(monkeypatch, capsys, "release", "--model", model.parent, "--key", keys[0], "--out", out)
    assert code == 2
    assert re.search(rf"audit\.json: sha256 is {HEX} but model\.json records {HEX}; this audit does not belong to the "
                     r"model", text), text
    assert not out.exists()


def test_release_help_offers_a_model_dir_or_a_registry_alias(monkeypatch, capsys):
    code, text = lbm(monkeypatch, capsys, "release", "--help")
    flat = " ".join(text.split())
    assert code == 0 and "--model" in flat and "--alias" in flat and "champion" in flat, text


# --- score --expect-sha256 -------------------------------------------------------------------

@pytest.fixture
def cells_file(tiny_frozen, tmp_path) -> Path:
    inputs, _, _ = tiny_frozen
    path = tmp_path / "cells.parquet"
    inputs.cells.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("target", ["model", "bundle"])
def test_wrong_expected_sha256_is_refused_and_the_right_one_scores(target, tiny_frozen, bundle, cells_file, tmp_path,
                                                                   monkeypatch, capsys):
    _, _, model = tiny_frozen
    source = model.parent if target == "model" else bundle
    actual = json.loads(model.read_text())["content_sha256"]
    wrong = hashlib.sha256(b"another model").hexdigest()
    out_dir = tmp_path / "scores"
    out_dir.mkdir()
    out = out_dir / "scores.csv"
    code, text = lbm(monkeypatch, capsys, "score", "--model", source, "--cells", cells_file, "--out", out,
                     "--aggregate", "buurt", "--expect-sha256", wrong)
    assert code == 2
    assert re.search(rf"the model's content_sha256 is {actual} but --expect-sha256 is {wrong}; refusing to score with "
                     r"a model other than the pinned one\. Nothing was written\.", text), text
    assert list(out_dir.iterdir()) == []

    code, text = lbm(monkeypatch, capsys, "score", "--model", source, "--cells", cells_file, "--out", out,
                     "--aggregate", "buurt", "--expect-sha256", actual.upper())
    assert code == 0, text
    assert re.search(rf"scored 80 cells -> \S*scores\.csv \(model {actual[:12]}\)", " ".join(text.split())), text
    assert out.is_file() and (out_dir / "scores_buurt.csv").is_file()


def test_malformed_expected_sha256_is_refused(tiny_frozen, cells_file, tmp_path, monkeypatch, capsys):
    _, _, model = tiny_frozen
    out = tmp_path / "scores.csv"
    code, text = lbm(monkeypatch, capsys, "score", "--model", model.parent, "--cells", cells_file, "--out", out,
                     "--expect-sha256", "abc123")
    assert code == 2
    assert re.search(r"--expect-sha256 'abc123': expected 64 hexadecimal characters", text), text
    assert not out.exists()


# --- the installed command, end to end -------------------------------------------------------

def test_release_path_through_the_console_script(tiny_frozen, cells_file, tmp_path):
    _, _, model = tiny_frozen

    def run(*args):
        return subprocess.run([str(BIN / "lbm"), *map(str, args)], capture_output=True, text=True)

    assert run("keygen", "--out", tmp_path / "k").returncode == 0
    made = run("release", "--model", model.parent, "--key", tmp_path / "k" / "lbm-release.key", "--out", tmp_path / "b")
    assert made.returncode == 0, made.stderr
    checked = run("verify", tmp_path / "b", "--public-key", tmp_path / "k" / "lbm-release.pub")
    assert checked.returncode == 0, checked.stderr
    content_sha256 = json.loads((tmp_path / "b" / "release.json").read_text())["content_sha256"]
    assert f"content sha256 {content_sha256}" in checked.stderr
    scored = run("score", "--model", tmp_path / "b", "--cells", cells_file, "--out", tmp_path / "s.parquet",
                 "--expect-sha256", content_sha256)
    assert scored.returncode == 0, scored.stderr
    assert (tmp_path / "s.parquet").is_file()
    sums = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=tmp_path / "b", capture_output=True,
                          text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr                      # the coreutils format
