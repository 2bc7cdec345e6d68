"""Disclosure control of published area figures: minimum counts and complementary suppression.

Primary suppression hides the figures of an area below the minimum count (primer, section 3:
10 households, or 10 respondents for survey-based figures). That alone can be undone by
subtraction: a wijk's figure is the household-weighted sum of its buurten's, so a wijk with one
hidden buurt gives that buurt away (score, dimension scores and the nine per-class household
counts). Complementary (secondary) suppression closes this, as statistical offices do with
hierarchical tables (the sdcTable / tau-argus approach: de Wolf and Giessing; Hundepool et al.,
*Statistical Disclosure Control*, Wiley 2012, ch. 4). Within each year, over the nesting buurt
in wijk in gemeente, until nothing changes:

- a published parent may not have exactly one hidden child that holds households (it would be
  the parent minus the published children): the published sibling with the fewest households
  is hidden as well, or, when there is none, the parent;
- a hidden parent that holds households needs at least one hidden child (else it is the sum
  of its children): the child with the fewest households is hidden.

Areas without households carry no figure (no score; per-class counts are all zero) and never
count as a hidden child. A hidden value then always lies in a null direction of the published
sums: no linear combination of published figures gives it (tests/test_disclosure.py mounts the
attack). No Python library implements this for a three-level hierarchy (the tau-argus and
sdcTable solvers are Java and R; pytauargus needs input files and a solver of its own), so it is
written here; the rules are the "at least two" rules of hierarchical cell suppression.

The minimum counts cannot be lowered below the primer's defaults without an explicit reason
(``--unsafe-disclosure "reason"``, ``checks.disclosure.unsafe_reason``), which is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from lbm_model.dimensions import AREA_LEVELS
from lbm_model.errors import ContractError, LbmError

DEFAULT_MIN_HOUSEHOLDS = 10      # primer, section 3
DEFAULT_MIN_RESPONDENTS = 10
NESTING: tuple[tuple[str, str], ...] = (("buurt", "wijk"), ("wijk", "gemeente"))   # (child, parent)
PRIMARY, COMPLEMENTARY, PUBLISHED = "primary", "complementary", ""


def checked_minimum(value: int, default: int, unsafe_reason: str | None, setting: str, acknowledge: str) -> int:
    """``value`` as a minimum count: at least 1, and below ``default`` only with a stated reason.

    ``setting`` shows the option with its value (``--min-households 5``); ``acknowledge`` is how
    to state the reason (``--unsafe-disclosure "reason"``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise LbmError(f"{setting}: expected a whole number >= 1 (the primer's disclosure minimum is {default}); "
                       "a minimum below 1 would publish every area.")
    if value < default and not (unsafe_reason or "").strip():
        raise LbmError(f"{setting} is below the primer's disclosure minimum of {default}; it would publish figures of "
                       f"smaller areas. If that is intended, state why with {acknowledge} (recorded with the output).")
    return int(value)


def nesting(codes: pd.DataFrame) -> dict[str, pd.Series]:
    """Per child level, the parent code of each child code (one row per code); refuses codes that do not nest."""
    parents = {}
    for child, parent in NESTING:
        pairs = codes[[f"{child}_code", f"{parent}_code"]].drop_duplicates()
        split = pairs[pairs.duplicated(f"{child}_code", keep=False)]
        if len(split):
            first = split.iloc[0][f"{child}_code"]
            listed = ", ".join(sorted(split.loc[split[f"{child}_code"] == first, f"{parent}_code"].astype(str)))
            raise ContractError(f"{child}_code {first} lies in more than one {parent} ({listed}) in one year; expected "
                                f"each {child} inside exactly one {parent} ({len(split[f'{child}_code'].unique())} "
                                f"{child}(en) conflict).")
        parents[child] = pairs.set_index(f"{child}_code")[f"{parent}_code"]
    return parents


def suppression_pattern(households: Mapping[str, pd.Series], parents: Mapping[str, pd.Series], minimum: int,
                        complementary: bool = True) -> dict[str, pd.Series]:
    """For one year: per level, '' (published), 'primary' or 'complementary' for every area code.

    ``households`` maps each level to households per code; ``parents`` maps a child level to the
    parent code of each child code (from :func:`nesting`).
    """
    hh = {level: dict(zip(series.index, series.to_numpy().tolist())) for level, series in households.items()}
    state = {level: {code: PRIMARY if n < minimum else PUBLISHED for code, n in counts.items()}
             for level, counts in hh.items()}
    if complementary:
        groups = {child: {parent: sorted(members, key=lambda c: (hh[child][c], str(c)))
                          for parent, members in parents[child].groupby(parents[child], sort=True).groups.items()}
                  for child, _ in NESTING}
        while any([_complete_level(groups[child], hh[child], state[child], hh[parent], state[parent])
                   for child, parent in NESTING]):
            pass
    return {level: pd.Series(codes, dtype=object).reindex(households[level].index) for level, codes in state.items()}


def _complete_level(groups: dict, hh_child: dict, hidden: dict, hh_parent: dict, parent_state: dict) -> bool:
    """One pass of the two rules over every parent and its children (sorted by households); True if anything changed."""
    changed = False
    for code, members in groups.items():
        holding = [c for c in members if hh_child[c] > 0]
        hidden_holding = [c for c in holding if hidden[c]]
        shown_holding = [c for c in holding if not hidden[c]]
        if not parent_state[code] and len(hidden_holding) == 1:
            if shown_holding:
                hidden[shown_holding[0]] = COMPLEMENTARY
            else:
                parent_state[code] = COMPLEMENTARY
            changed = True
        elif parent_state[code] and hh_parent[code] > 0 and not hidden_holding:
            hidden[shown_holding[0]] = COMPLEMENTARY
            changed = True
    return changed


def protect(frames: Mapping[str, pd.DataFrame], codes: pd.DataFrame, figures: list[str], minimum: int,
            complementary: bool = True) -> dict[str, pd.DataFrame]:
    """Hide ``figures`` of every area-year the pattern suppresses, in each level's frame.

    ``frames`` are per level (columns ``<level>_code``, ``year``, ``households``, figures);
    ``codes`` holds the area codes of every cell-year (for the nesting). Adds ``suppressed``
    (bool) and ``suppression`` ('', 'primary' or 'complementary').
    """
    out = {level: frame.copy() for level, frame in frames.items()}
    for frame in out.values():
        frame["suppression"] = PUBLISHED
    for year, in_year in codes.groupby("year", sort=True):
        parents = nesting(in_year)
        households = {}
        for level, frame in out.items():
            rows = frame[frame["year"] == year]
            households[level] = pd.Series(rows["households"].to_numpy(), index=rows[f"{level}_code"].to_numpy())
        pattern = suppression_pattern(households, parents, minimum, complementary)
        for level, frame in out.items():
            rows = (frame["year"] == year).to_numpy()
            frame.loc[rows, "suppression"] = frame.loc[rows, f"{level}_code"].map(pattern[level]).to_numpy()
    for frame in out.values():
        frame["suppressed"] = frame["suppression"] != PUBLISHED
        frame[figures] = frame[figures].astype(float)
        frame.loc[frame["suppressed"], figures] = np.nan
    return out


def hidden_parts(counts: np.ndarray, minimum: int) -> np.ndarray:
    """Which parts of one published total to hide: those below ``minimum`` and, when exactly one
    part holding a count is hidden, the smallest other part too (else total minus the rest gives it).

    For flat breakdowns such as cross-validation folds, whose pooled figure is published.
    """
    counts = np.asarray(counts)
    hidden = counts < minimum
    holding = counts > 0
    if (hidden & holding).sum() == 1:
        shown = np.flatnonzero(~hidden & holding)
        if len(shown):
            hidden[shown[np.argmin(counts[shown])]] = True
    return hidden


def published_areas(cells: pd.DataFrame, year: int, level: str, minimum: int) -> set[str]:
    """Codes of ``level`` whose figures the area tables of ``year`` publish (after primary and
    complementary suppression), for other outputs that show area figures of the same cells."""
    in_year = cells[cells["year"] == year]
    households = {lvl: in_year.groupby(f"{lvl}_code", sort=True)["households"].sum() for lvl in AREA_LEVELS}
    pattern = suppression_pattern(households, nesting(in_year), minimum)[level]
    return set(pattern.index[pattern == PUBLISHED])
