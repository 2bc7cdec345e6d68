"""Word matching of indicator names and descriptions against the stigmatising themes.

Names are split into words first (``aged_65plus_share`` -> ``aged 65plus share``,
``migrationBackground`` -> ``migration background``), then every theme's regular
expressions (case-insensitive, anchored on word boundaries, English and Dutch) are
searched. A match that lies inside one of the theme's ``not_within`` phrases (for
example ``building age``) does not count: words are matched, never substrings, and a
word is judged in its phrase. Dutch writes compounds as one word, so Dutch patterns
anchor at a word start and may continue into the compound (``\\binkomen(s\\w*)?\\b``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lbm_model.checks.config import ChecksConfigError, ThemeConfig

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_words(name: str) -> str:
    """An identifier as lower-case words: underscores, dots and camelCase become spaces."""
    spaced = _CAMEL.sub(" ", name).replace("_", " ").replace(".", " ")
    return " ".join(spaced.lower().split())


def text_words(text: str) -> str:
    """A description as lower-case text with single spaces (punctuation kept)."""
    return " ".join(str(text).replace("_", " ").lower().split())


@dataclass(frozen=True)
class ThemeMatch:
    """One place where an indicator's name or description matches a theme."""

    indicator: str
    theme: str
    label: str
    field: str          # "name" or "description"
    matched: str        # the matched words
    pattern: str

    def describe(self) -> str:
        return f"its {self.field} matches the theme '{self.label}' ('{self.matched}')"


@lru_cache(maxsize=512)
def _compile(pattern: str, where: str) -> re.Pattern:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ChecksConfigError(f"{where}: pattern {pattern!r} is not a valid regular expression ({exc}).") from None


def _shielded(text: str, theme: ThemeConfig, key: str) -> list[tuple[int, int]]:
    spans = []
    for pattern in theme.not_within:
        spans += [m.span() for m in _compile(pattern, f"checks.stigma.themes.{key}.not_within").finditer(text)]
    return spans


def theme_matches(indicator: str, text: str, field_name: str, themes: dict[str, ThemeConfig]) -> list[ThemeMatch]:
    """Every theme with at least one unshielded match in ``text`` (first match per theme)."""
    found = []
    for key, theme in themes.items():
        shields = _shielded(text, theme, key)
        for pattern in theme.patterns:
            hit = next((m for m in _compile(pattern, f"checks.stigma.themes.{key}.patterns").finditer(text)
                        if not any(a <= m.start() and m.end() <= b for a, b in shields)), None)
            if hit is not None:
                found.append(ThemeMatch(indicator, key, theme.label, field_name, hit.group(0), pattern))
                break
    return found


def indicator_matches(name: str, description: str, themes: dict[str, ThemeConfig]) -> list[ThemeMatch]:
    """Theme matches in an indicator's name (as words) and in its description."""
    return (theme_matches(name, name_words(name), "name", themes)
            + theme_matches(name, text_words(description), "description", themes))
