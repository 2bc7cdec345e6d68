"""Hydra configuration shipped with the package (values only; schemas in lbm_model/config.py)."""
