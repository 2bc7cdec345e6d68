"""Hydra configuration shipped with the package (values only; schemas in lbm_model/config.py).

Importing this package registers the schemas and resolvers, so tools that compose these files
by module name (DVC's Hydra composition: ``config_module = lbm_model.conf``) see them too.
"""

import lbm_model.config  # noqa: F401  (registers the ConfigStore schemas and the lbm_job_dir resolver)
