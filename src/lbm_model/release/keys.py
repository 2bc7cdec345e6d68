"""Ed25519 release keys: generate a pair once (``lbm keygen``), load them, name a key by its fingerprint."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lbm_model.atomic import staging_directory
from lbm_model.errors import ReleaseError

KEY_FILE = "lbm-release.key"
PUBLIC_KEY_FILE = "lbm-release.pub"


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """sha256 (hex) of the raw 32-byte Ed25519 public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def generate_keys(out_dir: str | Path) -> tuple[Path, Path, str]:
    """Write a new Ed25519 key pair into ``out_dir``; never overwrites. Returns (private, public, fingerprint)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReleaseError(f"--out {out_dir}: is a file; expected a directory for the key pair. Nothing was written.")
    private_path, public_path = out_dir / KEY_FILE, out_dir / PUBLIC_KEY_FILE
    existing = [p for p in (private_path, public_path) if p.exists() or p.is_symlink()]
    if existing:
        raise ReleaseError(f"{existing[0]}: already exists; lbm keygen never overwrites a key (bundles signed with it "
                           "could no longer be verified). Move it away or choose another --out. Nothing was written.")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _create_exclusive(private_path, private_pem, 0o600)
        try:
            _create_exclusive(public_path, public_pem, 0o644)
        except BaseException:
            private_path.unlink(missing_ok=True)   # ours: created a moment ago
            raise
    except FileExistsError as exc:
        raise ReleaseError(f"{exc.filename}: already exists; lbm keygen never overwrites a key. "
                           "Nothing was written.") from None
    except OSError as exc:
        raise ReleaseError(f"--out {out_dir}: cannot write the key pair ({exc.strerror or exc}). "
                           "Nothing was written.") from None
    return private_path, public_path, key_fingerprint(key.public_key())


def _create_exclusive(target: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a temp file of ``mode`` beside ``target`` and link it into place only if
    ``target`` does not exist (FileExistsError otherwise): complete or absent, never overwritten."""
    temp = staging_directory(target, create=False)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)                   # exactly ``mode``, whatever the umask
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, target)
        except FileExistsError as exc:
            exc.filename = str(target)
            raise
    finally:
        temp.unlink(missing_ok=True)


def _read_key_file(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise ReleaseError(f"{path}: {what} not found.")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReleaseError(f"{path}: {what} cannot be read ({exc.strerror or exc}).") from None


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 signing key in a PEM file written by ``lbm keygen``."""
    path = Path(path)
    data = _read_key_file(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ReleaseError(f"{path}: the signing key is encrypted with a passphrase; lbm release reads the "
                           "unencrypted PEM keys that lbm keygen writes.") from None
    except (ValueError, UnsupportedAlgorithm):
        hint = " (this is a public key; --key takes the private lbm-release.key)" if b"PUBLIC KEY" in data else ""
        raise ReleaseError(f"{path}: not a PEM private key{hint}; expected the lbm-release.key written by "
                           "lbm keygen.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReleaseError(f"{path}: is a {type(key).__name__.lstrip('_')} key; expected an Ed25519 key "
                           "(lbm keygen writes one).")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """An Ed25519 public key in a PEM file (``lbm-release.pub``)."""
    path = Path(path)
    data = _read_key_file(path, "public key")
    if b"PRIVATE KEY" in data:
        raise ReleaseError(f"{path}: is a private key; --public-key takes the public lbm-release.pub "
                           "(the private key never needs to leave the releaser).")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ReleaseError(f"{path}: not a PEM public key; expected the lbm-release.pub written by lbm keygen.") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ReleaseError(f"{path}: is a {type(key).__name__.lstrip('_')} key; expected an Ed25519 public key "
                           "(lbm keygen writes one).")
    return key


# --- building a bundle -----------------------------------------------------------------------
