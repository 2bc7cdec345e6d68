"""Signed release bundles: keys (keys.py), the bundle and its verification (bundle.py), the model card (card.py).

Imports nothing from estimators, checks, audit or tracking: a release engineer's machine and
production verify and score without the training stack.
"""

from lbm_model.release.bundle import (BUNDLE_MARKERS, SUMS_FILE, BundleCheck, Release, build_release, is_bundle,
                                      verify_bundle)
from lbm_model.release.keys import KEY_FILE, PUBLIC_KEY_FILE, generate_keys, key_fingerprint

__all__ = ["BUNDLE_MARKERS", "KEY_FILE", "PUBLIC_KEY_FILE", "SUMS_FILE", "BundleCheck", "Release", "build_release",
           "generate_keys", "is_bundle", "key_fingerprint", "verify_bundle"]
