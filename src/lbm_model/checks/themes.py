"""The stigmatising themes: a versioned word-pattern data file, its loader, and word matching.

The themes of LBM 3.0's exclusion rule ship as ``stigma_themes_v<N>.yaml`` beside this module
(``format: lbm-stigma-themes``, ``version``, ``themes: {key: {label, patterns, not_within}}``);
``checks.stigma.themes_file`` points at another file of the same format. The audit records
the version and sha256 of the file it used.

Matching: names are split into words first (``aged_65plus_share`` -> ``aged 65plus share``,
``migrationBackground`` -> ``migration background``), then every theme's regular
expressions (case-insensitive, anchored on word boundaries, English and Dutch) are
searched. A match that lies inside one of the theme's ``not_within`` phrases (for
example ``building age``) does not count: words are matched, never substrings, and a
word is judged in its phrase. Dutch writes compounds as one word, so Dutch patterns
anchor at a word start and may continue into the compound (``\\binkomen(s\\w*)?\\b``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lbm_model.errors import ConfigError

THEMES_FORMAT = "lbm-stigma-themes"
BUILTIN_THEMES = Path(__file__).with_name("stigma_themes_v1.yaml")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class Theme:
    """One stigmatising theme: a label and word patterns, with phrases that shield a match."""

    label: str
    patterns: tuple[str, ...]
    not_within: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThemeSet:
    """The themes of one data file, with where they came from."""

    themes: dict[str, Theme]
    version: int
    source: str
    sha256: str

    def describe(self) -> dict:
        return {"source": self.source, "version": self.version, "sha256": self.sha256}


@lru_cache(maxsize=8)
def load_themes(path: str | None = None) -> ThemeSet:
    """Read and validate a themes file (default: the built-in, newest version)."""
    import yaml

    file = Path(path) if path else BUILTIN_THEMES
    where = f"checks.stigma.themes_file={file}"
    if not file.is_file():
        raise ConfigError(f"{where}: file not found; expected a YAML file of format {THEMES_FORMAT}.")
    raw = file.read_bytes()
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid YAML ({' '.join(str(exc).split())}).") from None
    if not isinstance(data, dict) or data.get("format") != THEMES_FORMAT or not isinstance(data.get("version"), int):
        raise ConfigError(f"{where}: expected 'format: {THEMES_FORMAT}' and a whole-number 'version'.")
    if not isinstance(data.get("themes"), dict) or not data["themes"]:
        raise ConfigError(f"{where}: 'themes' must be a non-empty mapping of theme key to label and patterns.")
    themes = {str(key): _theme(key, spec, where) for key, spec in data["themes"].items()}
    source = "builtin" if file == BUILTIN_THEMES else str(file)
    return ThemeSet(themes, data["version"], source, hashlib.sha256(raw).hexdigest())


def _theme(key, spec, where: str) -> Theme:
    if not isinstance(spec, dict) or set(spec) - {"label", "patterns", "not_within"}:
        raise ConfigError(f"{where}: theme {key!r} must have label, patterns and optionally not_within.")
    patterns = tuple(spec.get("patterns") or ())
    if not patterns:
        raise ConfigError(f"{where}: theme {key!r} needs at least one pattern.")
    theme = Theme(str(spec.get("label") or str(key).replace("_", " ")), patterns, tuple(spec.get("not_within") or ()))
    for pattern in (*theme.patterns, *theme.not_within):
        _compile(pattern, f"{where}: theme {key!r}")
    return theme


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
        raise ConfigError(f"{where}: pattern {pattern!r} is not a valid regular expression ({exc}).") from None


def _shielded(text: str, theme: Theme, key: str) -> list[tuple[int, int]]:
    spans = []
    for pattern in theme.not_within:
        spans += [m.span() for m in _compile(pattern, f"theme {key!r} not_within").finditer(text)]
    return spans


def theme_matches(indicator: str, text: str, field_name: str, themes: dict[str, Theme]) -> list[ThemeMatch]:
    """Every theme with at least one unshielded match in ``text`` (first match per theme)."""
    found = []
    for key, theme in themes.items():
        shields = _shielded(text, theme, key)
        for pattern in theme.patterns:
            hit = next((m for m in _compile(pattern, f"theme {key!r} patterns").finditer(text)
                        if not any(a <= m.start() and m.end() <= b for a, b in shields)), None)
            if hit is not None:
                found.append(ThemeMatch(indicator, key, theme.label, field_name, hit.group(0), pattern))
                break
    return found


def indicator_matches(name: str, description: str, themes: dict[str, Theme]) -> list[ThemeMatch]:
    """Theme matches in an indicator's name (as words) and in its description."""
    return (theme_matches(name, name_words(name), "name", themes)
            + theme_matches(name, text_words(description), "description", themes))
