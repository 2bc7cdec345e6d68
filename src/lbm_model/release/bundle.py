"""Signed release bundles of a frozen model: ``lbm release`` builds one, ``lbm verify BUNDLE`` checks it.

A release bundle is a directory that pins one frozen model and what it was reviewed with::

    model.json        the frozen model, verified (frozen.read_frozen_model) before it is copied
    audit.json        the model's audit, when the model directory has one (its sha256 must be the
    evidence/         one model.json records; evidence files must match audit.json's hashes)
    MODEL_CARD.md     generated from model.json and audit.json (deterministic: no timestamps)
    release.json      content_sha256 of the model, the signing key's fingerprint, created_at
    SHA256SUMS        sha256sum format, every file above, sorted by path
    SHA256SUMS.sig    base64 Ed25519 signature over the exact bytes of SHA256SUMS

The bundle is built in a hidden directory beside the target and renamed into place when
complete, so a failure leaves nothing at the target. Verification names every changed, missing
or unlisted file and a signature that does not match. This module imports nothing from
estimators, checks, audit or tracking.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lbm_model import __version__
from lbm_model.atomic import fsync_path, remove_stale_temp_files, staging_directory
from lbm_model.errors import ReleaseError
from lbm_model.frozen import MODEL_FILE, document_bytes, read_frozen_model
from lbm_model.inputs import file_sha256
from lbm_model.release.card import model_card
from lbm_model.release.keys import key_fingerprint, load_private_key, load_public_key
SUMS_FILE = "SHA256SUMS"
SIGNATURE_FILE = "SHA256SUMS.sig"
RELEASE_FILE = "release.json"
CARD_FILE = "MODEL_CARD.md"
AUDIT_FILE = "audit.json"          # as audit.AUDIT_FILE (not imported: audit.py pulls in the checks)
EVIDENCE_DIR = "evidence"          # as checks.evidence.EVIDENCE_DIR
RELEASE_FORMAT = "lbm-release"
RELEASE_FORMAT_VERSION = 1
BUNDLE_MARKERS = (SUMS_FILE, SIGNATURE_FILE, RELEASE_FILE)
_SUMS_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")


@dataclass(frozen=True)
class Release:
    """What ``lbm release`` wrote."""

    directory: Path
    model_version: str
    content_sha256: str
    key_fingerprint: str
    files: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def is_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a directory that holds (part of) a release bundle rather than a plain model."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in BUNDLE_MARKERS)


def _model_directory(model: Path) -> Path:
    if model.is_file() and model.name == MODEL_FILE:
        return model.parent
    if model.exists() and not model.is_dir():
        raise ReleaseError(f"--model {model}: expected a frozen model directory (holding model.json).")
    return model


def _read_audit(model_dir: Path, content: dict) -> tuple[bytes | None, dict | None, list[str], list[str]]:
    """audit.json (bytes and parsed), the evidence files to bundle (relative paths) and notes.

    When model.json records an audit, audit.json must be present with exactly the recorded sha256,
    and every evidence file audit.json lists must be present with its recorded sha256.
    """
    recorded = content.get("audit") if isinstance(content.get("audit"), dict) else None
    path = model_dir / AUDIT_FILE
    notes: list[str] = []
    if not path.is_file():
        if recorded is not None:
            raise ReleaseError(f"{path}: missing, but model.json records an audit (sha256 {recorded.get('sha256')}); "
                               "release from the model's own export directory. Nothing was written.")
        return None, None, [], notes
    try:
        data = path.read_bytes()
        audit = json.loads(data.decode("utf-8"))
    except OSError as exc:
        raise ReleaseError(f"{path}: cannot be read ({exc.strerror or exc}). Nothing was written.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{path}: the JSON does not parse ({exc}). Nothing was written.") from None
    if not isinstance(audit, dict):
        raise ReleaseError(f"{path}: expected a JSON object (an lbm audit). Nothing was written.")
    actual = hashlib.sha256(data).hexdigest()
    if recorded is None:
        notes.append(f"{path}: model.json records no audit, so this audit.json is bundled as it is, unverified.")
    elif actual != recorded.get("sha256"):
        raise ReleaseError(f"{path}: sha256 is {actual} but model.json records {recorded.get('sha256')}; this audit "
                           "does not belong to the model or was changed after freezing. Nothing was written.")
    problems = []
    listed = audit.get("evidence_sha256") or {}
    if not isinstance(listed, dict):
        raise ReleaseError(f"{path}: 'evidence_sha256' must be an object of file -> sha256. Nothing was written.")
    for rel, expected in sorted(listed.items()):
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts or parts[0] != EVIDENCE_DIR:
            problems.append(f"{rel} (not a path under {EVIDENCE_DIR}/)")
        elif not (model_dir / rel).is_file():
            problems.append(f"{rel} (missing)")
        elif file_sha256(model_dir / rel) != expected:
            problems.append(f"{rel} (sha256 {file_sha256(model_dir / rel)}, audit.json records {expected})")
    if problems:
        raise ReleaseError(f"{model_dir}: evidence does not match audit.json: {'; '.join(problems)}. "
                           "Nothing was written.")
    evidence_root = model_dir / EVIDENCE_DIR
    evidence = sorted(p.relative_to(model_dir).as_posix() for p in evidence_root.rglob("*") if p.is_file()) \
        if evidence_root.is_dir() else []
    return data, audit, evidence, notes


def build_release(model: str | Path, key: str | Path, out: str | Path) -> Release:
    """Verify the model at ``model``, and write a signed release bundle into the new directory ``out``."""
    model_dir, out = _model_directory(Path(model)), Path(out)
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"--out {out}: is a file; expected a new or empty directory for the release bundle. "
                           "Nothing was written.")
    if out.is_dir() and any(out.iterdir()):
        raise ReleaseError(f"--out {out}: exists and is not empty; a release bundle is written into a new or empty "
                           "directory only, never over an earlier one. Nothing was written.")
    private_key = load_private_key(key)
    key_stat = Path(key).stat()
    notes = []
    if stat.S_IMODE(key_stat.st_mode) & 0o077:
        notes.append(f"{key}: the signing key is readable by other users (mode {stat.S_IMODE(key_stat.st_mode):o}); "
                     "chmod 600 it.")
    document = read_frozen_model(model_dir)
    content = document["content"]
    audit_bytes, audit, evidence, audit_notes = _read_audit(model_dir, content)
    notes += audit_notes
    public_key = private_key.public_key()
    fingerprint = key_fingerprint(public_key)
    release_record = {
        "format": RELEASE_FORMAT, "format_version": RELEASE_FORMAT_VERSION,
        "model_version": content["model_version"],
        "content_sha256": document["content_sha256"], "seal_sha256": document["seal_sha256"],
        "public_key_sha256": fingerprint,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "created_by": f"lbm-model {__version__}",
    }

    remove_stale_temp_files(out)
    staging = staging_directory(out)
    try:
        _write(staging / MODEL_FILE, document_bytes(document))   # the verified bytes (read_frozen_model checks they are the file's)
        if audit_bytes is not None:
            _write(staging / AUDIT_FILE, audit_bytes)
        for rel in evidence:
            _write(staging / rel, (model_dir / rel).read_bytes())
        if audit is not None:                                     # the copies, against audit.json
            changed = [rel for rel, sha in sorted((audit.get("evidence_sha256") or {}).items())
                       if file_sha256(staging / rel) != sha]
            if changed:
                raise ReleaseError(f"{model_dir}: evidence changed while it was copied: {', '.join(changed)}. "
                                   "Nothing was written.")
        _write(staging / CARD_FILE, model_card(document, audit).encode("utf-8"))
        _write(staging / RELEASE_FILE, (json.dumps(release_record, sort_keys=True, indent=2) + "\n").encode("utf-8"))
        sums = sums_bytes(staging)
        _write(staging / SUMS_FILE, sums)
        _write(staging / SIGNATURE_FILE, base64.b64encode(private_key.sign(sums)) + b"\n")
        problems = bundle_problems(staging, public_key, "the signing key")
        if problems:  # pragma: no cover - a bug, not a user error
            raise RuntimeError(f"the bundle just written does not verify: {' '.join(problems)}")
        files = tuple(sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()))
        fsync_path(staging, directory=True)
        os.replace(staging, out)          # out is absent or an empty directory
        fsync_path(out.parent, directory=True)
    except OSError as exc:
        raise ReleaseError(f"--out {out}: cannot write the release bundle ({exc.strerror or exc}). "
                           "Nothing was written.") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return Release(out, content["model_version"], document["content_sha256"], fingerprint, files, tuple(notes))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _bundle_files(directory: Path) -> set[str]:
    """Relative paths of every file in a bundle that SHA256SUMS must cover."""
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()} - {SUMS_FILE, SIGNATURE_FILE}


def sums_bytes(directory: Path) -> bytes:
    """SHA256SUMS for ``directory``: ``<sha256>  <path>`` per file, sorted by path (sha256sum's format)."""
    return "".join(f"{file_sha256(directory / rel)}  {rel}\n" for rel in sorted(_bundle_files(directory))).encode("utf-8")


# --- verifying a bundle ----------------------------------------------------------------------

@dataclass(frozen=True)
class BundleCheck:
    """What ``lbm verify BUNDLE --public-key PUB`` established."""

    directory: Path
    n_files: int
    key_fingerprint: str
    model_version: str
    content_sha256: str
    created_at: str


def _parse_sums(data: bytes) -> tuple[dict[str, str], list[str]]:
    listed: dict[str, str] = {}
    problems = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return listed, [f"{SUMS_FILE} is not UTF-8 text."]
    for number, line in enumerate(text.splitlines(), 1):
        match = _SUMS_LINE.fullmatch(line)
        if match is None:
            problems.append(f"{SUMS_FILE} line {number} is not '<sha256>  <path>'.")
            continue
        digest, rel = match.groups()
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts:
            problems.append(f"{SUMS_FILE} line {number} names {rel!r}, which is outside the bundle.")
        elif rel in listed:
            problems.append(f"{SUMS_FILE} lists {rel} twice.")
        else:
            listed[rel] = digest
    return listed, problems


def bundle_problems(directory: Path, public_key: Ed25519PublicKey, key_label: str) -> list[str]:
    """Every way the bundle in ``directory`` fails its signature or its checksums (empty: it verifies)."""
    sums_path, signature_path = directory / SUMS_FILE, directory / SIGNATURE_FILE
    if not sums_path.is_file():
        return [f"{SUMS_FILE} is missing, so no file in the bundle can be checked."]
    sums = sums_path.read_bytes()
    problems = []
    if not signature_path.is_file():
        problems.append(f"signature check failed: {SIGNATURE_FILE} is missing; the bundle is not signed.")
    else:
        try:
            signature = base64.b64decode(signature_path.read_bytes().strip(), validate=True)
        except ValueError:
            signature = None
            problems.append(f"signature check failed: {SIGNATURE_FILE} is not base64 text.")
        if signature is not None:
            try:
                public_key.verify(signature, sums)
            except InvalidSignature:
                problems.append(
                    f"signature check failed: {SIGNATURE_FILE} is not a valid signature of {SUMS_FILE} by "
                    f"{key_label} (fingerprint {key_fingerprint(public_key)}); {SUMS_FILE} was changed after "
                    "signing, or the bundle was signed with another key.")
    listed, parse_problems = _parse_sums(sums)
    problems += parse_problems
    present = _bundle_files(directory)
    changed = [f"{rel} (sha256 {file_sha256(directory / rel)}, {SUMS_FILE} lists {listed[rel]})"
               for rel in sorted(present & listed.keys()) if file_sha256(directory / rel) != listed[rel]]
    missing = sorted(listed.keys() - present)
    extra = sorted(present - listed.keys())
    if changed:
        problems.append(f"changed since release: {', '.join(changed)}.")
    if missing:
        problems.append(f"missing (listed in {SUMS_FILE}): {', '.join(missing)}.")
    if extra:
        problems.append(f"not listed in {SUMS_FILE}: {', '.join(extra)}.")
    return problems


def verify_bundle(directory: str | Path, public_key_path: str | Path) -> BundleCheck:
    """Check a release bundle's signature, every checksum, its model.json and release.json."""
    directory = Path(directory)
    public_key = load_public_key(public_key_path)
    fingerprint = key_fingerprint(public_key)
    problems = bundle_problems(directory, public_key, f"the public key {public_key_path}")
    if problems:
        raise ReleaseError(f"{directory}: release verification failed: {' '.join(problems)}")
    document = read_frozen_model(directory / MODEL_FILE)
    release_path = directory / RELEASE_FILE
    try:
        record = json.loads(release_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError(f"{release_path}: missing; the bundle has no release record.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{release_path}: the JSON does not parse ({exc}).") from None
    if not isinstance(record, dict) or record.get("format") != RELEASE_FORMAT:
        raise ReleaseError(f"{release_path}: not an lbm release record (expected \"format\": \"{RELEASE_FORMAT}\").")
    if record.get("content_sha256") != document["content_sha256"]:
        raise ReleaseError(f"{release_path}: records content_sha256 {record.get('content_sha256')} but the bundle's "
                           f"model.json has {document['content_sha256']}.")
    if record.get("public_key_sha256") != fingerprint:
        raise ReleaseError(f"{release_path}: records signing key {record.get('public_key_sha256')} but the bundle "
                           f"verifies with {fingerprint}.")
    return BundleCheck(directory, len(_bundle_files(directory)), fingerprint, document["content"]["model_version"],
                       document["content_sha256"], str(record.get("created_at")))
