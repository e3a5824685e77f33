"""The finding category contract: a published taxonomy, lenient to a chat model's inventions."""

import json

import pytest

from app.analyzer.catalogue import CATEGORIES
from app.analyzer.categories import category_of
from app.analyzer.engine import analyse
from app.prompt import answer_shape, build_messages
from app.schemas import AnalysisDraft, Category, Finding

CLAUDETTE = (
    "limitation_of_liability",
    "unilateral_termination",
    "unilateral_change",
    "content_removal",
    "contract_by_using",
    "choice_of_law",
    "jurisdiction",
    "arbitration",
)


def finding(**extra: object) -> dict[str, object]:
    return {"clause": "x", "risk": "high", "explanation": "why", "confidence": 0.5, **extra}


def test_the_eight_unfair_kinds_and_other_are_published_slugs() -> None:
    slugs = {category.value for category in Category}
    assert set(CLAUDETTE) <= slugs
    assert "other" in slugs
    assert all(slug == slug.lower() and " " not in slug for slug in slugs)


@pytest.mark.parametrize("value", ["made_up_kind", "", 7, None, ["arbitration"]])
def test_an_unknown_category_is_kept_as_other(value: object) -> None:
    assert Finding.model_validate(finding(category=value)).category is Category.OTHER


def test_a_missing_category_is_other_so_older_answers_and_rows_still_validate() -> None:
    assert Finding.model_validate(finding()).category is Category.OTHER


@pytest.mark.parametrize("value", ["arbitration", "Choice of law", " choice-of-law "])
def test_a_known_category_is_read_loosely(value: str) -> None:
    assert Finding.model_validate(finding(category=value)).category in {
        Category.ARBITRATION,
        Category.CHOICE_OF_LAW,
    }


def test_a_whole_model_answer_with_an_unknown_category_validates() -> None:
    raw = json.dumps({"findings": [finding(category="gdpr_art_28")], "summary": "s"})
    draft = AnalysisDraft.model_validate_json(raw)
    assert draft.findings[0].category is Category.OTHER


def test_the_prompt_shows_the_shape_generated_from_the_contract() -> None:
    system = build_messages("text", "terms_of_service", "org")[0][1]
    assert isinstance(system, str)
    assert answer_shape() in system
    listed = answer_shape().split('"category": "', 1)[1].split('"', 1)[0].split("|")
    assert listed == [category.value for category in Category]
    for name in Finding.model_fields:
        assert f'"{name}":' in answer_shape()


def test_every_catalogue_rule_has_a_real_category() -> None:
    for rule_id in CATEGORIES:
        assert category_of(rule_id) is not Category.OTHER, rule_id


def test_the_offline_analyzer_puts_a_category_on_every_finding() -> None:
    text = (
        "12.4 The limitations set out in this Clause 12 shall not apply to the Customer, whose "
        "liability for any breach of this Agreement is unlimited."
    )
    draft = analyse(text, "contract")
    assert [f.category for f in draft.findings] == [Category.UNCAPPED_LIABILITY]
