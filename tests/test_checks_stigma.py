"""The stigmatisation hard gate: flags, English and Dutch theme words, false positives, allow-list."""

from __future__ import annotations

import dataclasses

import pytest

from lbm_model.catalog import Catalog, Indicator
from lbm_model.audit import gate as enforce_gate
from lbm_model.checks.config import checks_config, load_checks_config
from lbm_model.checks.stigma import AllowEntry, StigmatisationError, stigma_gate
from lbm_model.checks.themes import BUILTIN_THEMES, load_themes, name_words
from lbm_model.errors import ConfigError


@pytest.fixture(scope="module")
def stigma():
    return load_checks_config().stigma


def ind(name: str, description: str = "", stigmatising: bool = False) -> Indicator:
    return Indicator(name=name, dimension="soc", description=description, stigmatising=stigmatising)


def gate(indicators, stigma, catalog_extra=()):
    return stigma_gate(indicators, Catalog(indicators=tuple(indicators) + tuple(catalog_extra)), stigma)


ALLOWED_INDICATORS = [
    ("green_percentage", "percentage of the area within 500 m that is green"),
    ("green_percentage_500m", ""),
    ("building_age_mean", "mean age of the residential buildings, years"),
    ("mean_building_age", ""),
    ("leeftijd_woningen", "gemiddelde leeftijd van de woningen"),
    ("nuisance_youth_share", "share of residents reporting nuisance from groups of youths"),
    ("dwelling_value_mean", "mean assessed (WOZ) value of dwellings, euros"),
    ("single_family_home_share", "share of single-family (ground-level) homes"),
    ("dist_primary_school_m", "road distance to the nearest primary school, metres"),
    ("inkomende_verhuizingen", "aandeel inkomende verhuizingen"),
    ("average_garage_count", "average number of garages"),
    ("village_usage_share", "storage and passage usage share"),
]

STIGMATISING_BY_WORDS = [
    # (name, description, theme)
    ("migration_background_share", "", "migration_background"),
    ("pct_niet_westerse_herkomst", "", "migration_background"),
    ("aandeel_allochtonen", "", "migration_background"),
    ("x1", "share of residents with a migration background", "migration_background"),
    ("single_parent_household_share", "", "household_composition"),
    ("aandeel_eenoudergezinnen", "", "household_composition"),
    ("x2", "huishoudsamenstelling: aandeel alleenstaanden", "household_composition"),
    ("benefit_dependence_share", "", "benefit_dependence"),
    ("aandeel_bijstandsuitkeringen", "", "benefit_dependence"),
    ("x3", "share of residents receiving social assistance", "benefit_dependence"),
    ("income_mean", "", "income"),
    ("gemiddeld_huishoudinkomen", "", "income"),
    ("x4", "gemiddeld besteedbaar inkomen per huishouden", "income"),
    ("aged_65plus_share", "", "age"),
    ("mean_age", "", "age"),
    ("aandeel_65plus", "", "age"),
    ("ouderen_aandeel", "", "age"),
    ("x5", "share of elderly residents", "age"),
    ("low_education_share", "", "education"),
    ("laagopgeleiden_aandeel", "", "education"),
    ("x6", "aandeel inwoners met opleidingsniveau laag", "education"),
    ("lowEducationShare", "", "education"),
]


@pytest.mark.parametrize("name, description", ALLOWED_INDICATORS)
def test_ordinary_indicators_pass(stigma, name, description):
    result = gate([ind(name, description)], stigma)
    assert result.verdict == "pass", result.summary


@pytest.mark.parametrize("name, description, theme", STIGMATISING_BY_WORDS)
def test_stigmatising_words_fail_naming_indicator_and_theme(stigma, name, description, theme):
    result = gate([ind("green_share_500m"), ind(name, description)], stigma)
    assert result.verdict == "fail"
    assert f"indicator '{name}'" in result.summary
    themes = {v["theme"] for v in result.details["violations"] if v["indicator"] == name}
    assert theme in themes
    assert stigma.theme_set().themes[theme].label in result.summary


def test_flagged_indicator_named_as_model_term_fails(stigma):
    flagged = ind("share_xyz", "an innocent description", stigmatising=True)
    result = gate([ind("green_share_500m"), flagged], stigma)
    assert result.verdict == "fail"
    assert "indicator 'share_xyz'" in result.summary and "flagged stigmatising in the catalog" in result.summary


def test_catalog_flag_wins_over_the_indicator_object(stigma):
    catalog = Catalog(indicators=(ind("share_xyz", stigmatising=True),))
    result = stigma_gate([ind("share_xyz", stigmatising=False)], catalog, stigma)
    assert result.verdict == "fail"


def test_enforce_raises_a_user_error_with_the_name(stigma):
    with pytest.raises(StigmatisationError, match="aandeel_bijstandsuitkeringen.*benefit dependence"):
        enforce_gate([ind("aandeel_bijstandsuitkeringen")], Catalog(indicators=(ind("aandeel_bijstandsuitkeringen"),)),
                     stigma)


def test_allow_list_with_reason_is_the_only_way_past_a_word_match(stigma):
    amenity = ind("dist_elderly_care_home_m", "road distance to the nearest care home for the elderly")
    assert gate([amenity], stigma).verdict == "fail"
    reason = "an amenity: distance to a care facility says nothing about who lives in the cell"
    allowed = dataclasses.replace(stigma, allow=[AllowEntry(indicator=amenity.name, reason=reason, themes=["age"])])
    result = gate([amenity], allowed)
    assert result.verdict == "pass"
    assert result.details["allowed"][0]["reason"] == reason
    assert result.to_dict()["details"]["allowed"][0]["reason"] == reason
    wrong_theme = dataclasses.replace(stigma, allow=[AllowEntry(indicator=amenity.name, reason=reason, themes=["income"])])
    assert gate([amenity], wrong_theme).verdict == "fail"


def test_allow_list_cannot_override_a_catalog_flag(stigma):
    flagged = ind("building_value_mean", stigmatising=True)
    allowed = dataclasses.replace(stigma, allow=[AllowEntry(indicator=flagged.name, reason="we like it")])
    assert gate([flagged], allowed).verdict == "fail"


def test_allow_entry_without_reason_is_refused():
    raw = {"stigma": {"allow": [{"indicator": "x", "reason": "  "}]}}
    with pytest.raises(ConfigError, match="written reason"):
        checks_config(raw)


def test_themes_are_a_versioned_data_file_that_a_new_version_can_extend(stigma, tmp_path):
    import yaml

    builtin = load_themes(None)
    assert builtin.version == 1 and builtin.source == "builtin" and set(builtin.themes) == {
        "migration_background", "household_composition", "benefit_dependence", "income", "age", "education"}
    data = yaml.safe_load(BUILTIN_THEMES.read_text())
    data["version"] = 2
    data["themes"]["religion"] = {"label": "religion", "patterns": [r"\bmosques?\b", r"\bmoskee\w*"]}
    (tmp_path / "stigma_themes_v2.yaml").write_text(yaml.safe_dump(data))
    extended = checks_config({"stigma": {"themes_file": str(tmp_path / "stigma_themes_v2.yaml")}}).stigma
    assert gate([ind("dist_moskee_m")], extended).verdict == "fail"
    assert gate([ind("dist_moskee_m")], stigma).verdict == "pass"
    assert extended.theme_set().version == 2 and extended.theme_set().sha256 != builtin.sha256


@pytest.mark.parametrize("content, message", [
    ("format: something-else\nversion: 1\nthemes: {}\n", "expected 'format: lbm-stigma-themes'"),
    ("format: lbm-stigma-themes\nversion: 1\nthemes: {}\n", "'themes' must be a non-empty mapping"),
    ("format: lbm-stigma-themes\nversion: 1\nthemes: {age: {patterns: ['(unclosed']}}\n", "not a valid regular expression"),
    ("format: lbm-stigma-themes\nversion: 1\nthemes: {age: {patterns: []}}\n", "needs at least one pattern"),
])
def test_a_broken_themes_file_is_refused_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "themes.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        stigma_gate([ind("x")], Catalog(indicators=(ind("x"),)), checks_config({"stigma": {"themes_file": str(path)}}).stigma)


def test_names_become_words():
    assert name_words("aged_65plus_share") == "aged 65plus share"
    assert name_words("lowEducationShare") == "low education share"
    assert name_words("building_age_mean") == "building age mean"


def test_the_synthetic_catalog_passes_and_its_composition_columns_all_fail(stigma):
    from lbm_model.world.indicator_table import COMPOSITION_ROWS, INDICATOR_ROWS

    allowed = [ind(row[0], row[-1]) for row in INDICATOR_ROWS]
    assert gate(allowed, stigma).verdict == "pass"
    for row in COMPOSITION_ROWS:
        result = gate([ind(row[0], row[-1])], stigma)
        assert result.verdict == "fail", row[0]
