"""Which document types a learned sentence model reads, and what its categories mean there.

A document type listed here gets the model's findings for the categories in its advice, and the
catalogue's rules of those same categories are left out for it (the model owns them). Add an
entry to give another type its own model, trained by `make train-analyzer`.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from app.analyzer import catalogue_tos, contract_model, tos_model
from app.analyzer.document_types import TERMS_OF_SERVICE
from app.analyzer.learned import MODELS_DIR, Advice, SentenceModel, load


@dataclass(frozen=True, slots=True)
class LearnedSet:
    corpus: str
    """The artifact app/analyzer/models/<corpus>.json."""
    advice: Mapping[str, Advice]
    """Category slug -> advice; the model's other categories are not reported."""
    rule_blockers: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    """Category slug -> a pattern that cancels a catalogue rule's finding on this type."""
    load: Callable[[str], SentenceModel] = load
    """Reads the committed model of `corpus` (once per process)."""
    fair: Callable[[str, str], bool] | None = None
    """(category, sentence) -> whether the model's finding of that category on the sentence
    (whitespace squashed, case kept) is a fair clause of the kind, which is not reported."""


SETS: dict[str, LearnedSet] = {
    TERMS_OF_SERVICE: LearnedSet(
        tos_model.CORPUS,
        catalogue_tos.ADVICE,
        catalogue_tos.RULE_BLOCKERS,
        tos_model.load,
        catalogue_tos.fair_reading,
    ),
}


def learned_set_for(document_type: str) -> LearnedSet | None:
    return SETS.get(document_type)


def load_models() -> None:
    """Read every model the analyzer serves now (the chat model is built in a worker thread at
    start-up), so that no analysis pays for one on the event loop. Each corpus is read once, by
    its own loader (a learned set's model may be more than the plain word model)."""
    loaders = {learned.corpus: learned.load for learned in SETS.values()}
    loaders[contract_model.CORPUS] = contract_model.load
    for path in sorted(MODELS_DIR.glob("*.json")):
        loaders.get(path.stem, load)(path.stem)
