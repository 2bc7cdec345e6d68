"""Evidence files of the checks: deterministic CSV tables and PNG figures under export_dir/evidence/.

Only area-level or model-level rows are ever written here; respondent-level data never
is (docs/checks.md, Confidentiality). Figures are drawn with matplotlib's Agg backend and
saved without a software stamp, so the same data give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lbm_model.atomic import write_atomic, write_bytes_atomic
from lbm_model.inputs import file_sha256

EVIDENCE_DIR = "evidence"
FORBIDDEN_COLUMNS = ("respondent_id", "response", "survey_weight")


class EvidenceWriter:
    """Writes one check's evidence into ``export_dir/evidence/`` and remembers the relative names."""

    def __init__(self, export_dir: str | Path, check: str) -> None:
        self.export_dir = Path(export_dir)
        self.check = check
        self.files: list[str] = []

    def _target(self, filename: str) -> tuple[Path, str]:
        rel = f"{EVIDENCE_DIR}/{self.check}/{filename}"
        return self.export_dir / rel, rel

    def table(self, frame: pd.DataFrame, filename: str, float_digits: int = 10) -> str:
        """Write an area- or model-level table as CSV; refuses respondent-level columns."""
        leaked = [c for c in frame.columns if str(c).lower() in FORBIDDEN_COLUMNS]
        if leaked:
            raise ValueError(f"evidence table {filename} has respondent-level column(s) {leaked}; "
                             "only area- or model-level rows may be written")
        path, rel = self._target(filename)
        text = frame.to_csv(index=False, lineterminator="\n", float_format=f"%.{float_digits}g")
        write_bytes_atomic(path, text.encode("utf-8"))
        self.files.append(rel)
        return rel

    def figure(self, fig, filename: str) -> str:
        """Save a matplotlib Figure as PNG without a software stamp (same data, same bytes)."""
        path, rel = self._target(filename)
        write_atomic(path, lambda p: fig.savefig(p, format="png", dpi=110, metadata={"Software": None}))
        self.files.append(rel)
        return rel

    def hashes(self) -> dict[str, str]:
        """sha256 of every evidence file written so far, by relative name."""
        return {rel: file_sha256(self.export_dir / rel) for rel in self.files}
