"""The whole catalogue, and which rules apply to which document type."""

from app.analyzer import (
    catalogue_control,
    catalogue_employment,
    catalogue_money,
    catalogue_privacy,
)
from app.analyzer.document_types import GENERAL
from app.analyzer.rules import DocumentRule, Rule

RULES: tuple[Rule, ...] = (
    *catalogue_money.RULES,
    *catalogue_control.RULES,
    *catalogue_privacy.RULES,
    *catalogue_employment.RULES,
)
DOCUMENT_RULES: tuple[DocumentRule, ...] = catalogue_privacy.DOCUMENT_RULES
DOCUMENT_LEVEL: frozenset[str] = frozenset(rule.id for rule in DOCUMENT_RULES)
CATEGORIES: tuple[str, ...] = (
    *(rule.id for rule in RULES),
    *(rule.id for rule in DOCUMENT_RULES),
)


def rules_for(document_type: str) -> tuple[Rule, ...]:
    """Clause rules for a canonical type; GENERAL (an unknown label) gets every rule."""
    if document_type == GENERAL:
        return RULES
    return tuple(rule for rule in RULES if document_type in rule.document_types)


def document_rules_for(document_type: str) -> tuple[DocumentRule, ...]:
    return tuple(rule for rule in DOCUMENT_RULES if document_type in rule.document_types)
