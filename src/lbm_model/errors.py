"""Errors and warnings meant for users, caught once at the command-line edge."""

from __future__ import annotations

from collections.abc import Sequence


class LbmError(Exception):
    """A problem the user can fix; printed as one paragraph, no traceback."""


class ContractError(LbmError):
    """Input data that does not follow the data contract (docs/data-contract.md)."""


class ConfigError(LbmError):
    """A configuration value that its type cannot rule out but its meaning does (ranges, combinations)."""


class FrozenModelError(LbmError):
    """A frozen model file that is missing, malformed or fails verification."""


class ReleaseError(LbmError):
    """A signing key or release bundle that is missing, malformed or fails verification."""


class ContractWarning(UserWarning):
    """Input that is accepted but deserves the user's attention."""


def describe_rows(rows: Sequence[int], limit: int = 5) -> str:
    """'rows 3, 8, 9 and 12 more' for 1-based data row numbers (header not counted)."""
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    more = len(rows) - limit
    noun = "row" if len(rows) == 1 else "rows"
    return f"{len(rows)} {noun} ({noun} {shown}{f' and {more} more' if more > 0 else ''})"


def rows_error(file: str, column: str, rows: Sequence[int], problem: str, expected: str) -> ContractError:
    """A ContractError naming the file, the column, the offending rows and what was expected."""
    return ContractError(
        f"{file}: column '{column}': {problem} in {describe_rows(rows)}; expected {expected}."
    )
