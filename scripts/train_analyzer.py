"""Train the offline analyzer's learned sentence models from the committed labelled data.

    python -m scripts.train_analyzer            # every corpus (make train-analyzer)
    python -m scripts.train_analyzer claudette  # one corpus
    python -m scripts.train_analyzer --check    # exit 1 when a committed artifact is stale

Deterministic: the same data gives the same bytes (liblinear with a fixed seed, sorted
features, rounded weights). A corpus is a loader of labelled documents plus its settings; add
one to CORPORA to train another model with the same code (`app.analyzer.learned`).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from app.analyzer.contract_model import ContractModel, chars_path
from app.analyzer.learned import SentenceModel, featurise, model_path
from app.analyzer.normalise import fold, squash
from scripts.cuad_corpus import CATEGORIES as CUAD_CATEGORIES
from scripts.cuad_corpus import GATES, labelled_sentences, load_contracts

ROOT = Path(__file__).resolve().parent.parent

SEED = 13
INNER_FOLDS = 3
THRESHOLD_GRID = tuple(round(-2.0 + 0.1 * step, 1) for step in range(31))
"""-2.0 to 1.0: the balanced classifier's own boundary is 0."""


@dataclass(frozen=True, slots=True)
class LabelledSentence:
    start: int
    end: int
    labels: frozenset[str]


@dataclass(frozen=True, slots=True)
class LabelledDocument:
    name: str
    text: str
    sentences: tuple[LabelledSentence, ...]


@dataclass(frozen=True, slots=True)
class Corpus:
    name: str
    categories: tuple[str, ...]
    load: Callable[[], list[LabelledDocument]]
    c: float = 4.0
    """Inverse L2 regularisation strength of each category's logistic regression."""
    min_df: int = 2
    """A feature must occur in at least this many training documents (not sentences)."""
    threshold: float = 0.5
    """Decision value (logit) a sentence must reach; above 0 because the classes are balanced
    in training while unfair sentences are rare in real documents."""
    context: bool = False
    """Each sentence also carries the first words of the sentence before it (a clause's heading,
    or the lead-in of a list), as separate features."""
    gates: Mapping[str, str] = field(default_factory=dict)
    """Category -> regex on the folded, squashed sentence: that category's model is trained on
    (and its analyzer applies it to) only the sentences its gate matches."""
    threshold_precision: float | None = None
    """When set, each category's threshold is chosen from the training documents alone: the
    lowest decision value (on `THRESHOLD_GRID`, never above `threshold`) at which the category's
    sentences reach this precision when scored by models trained on the other parts of an inner
    split. Categories that never reach it keep `threshold`."""
    min_words: int = 5
    """Sentences shorter than this (headings) are never classified, so thresholds ignore them."""
    fitter: Callable[[Corpus, Sequence[LabelledDocument]], SentenceModel] | None = None
    """Replaces `fit` for this corpus (the contract model chooses its thresholds its own way)."""


# --- CLAUDETTE: Terms of Service, sentence labels -------------------------------------------

CLAUDETTE_CODES = {
    "ltd": "limitation_of_liability",
    "ter": "unilateral_termination",
    "ch": "unilateral_change",
    "cr": "content_removal",
    "use": "contract_by_using",
    "law": "choice_of_law",
    "j": "jurisdiction",
    "a": "arbitration",
}
CLAUDETTE_PATH = ROOT / "data" / "claudette" / "claudette_en_dev.json"


def claudette_labels(tags: Sequence[str]) -> frozenset[str]:
    """A sentence is unfair of a kind when tagged at level 2 (potentially) or 3 (clearly)."""
    labels = set()
    for tag in tags:
        code, level = tag[:-1], tag[-1:]
        if code in CLAUDETTE_CODES and level in {"2", "3"}:
            labels.add(CLAUDETTE_CODES[code])
    return frozenset(labels)


def load_claudette() -> list[LabelledDocument]:
    data = json.loads(CLAUDETTE_PATH.read_text(encoding="utf-8"))
    return [
        LabelledDocument(
            name=document["name"],
            text=document["text"],
            sentences=tuple(
                LabelledSentence(start, end, claudette_labels(tags))
                for start, end, tags in document["sentences"]
            ),
        )
        for document in data["documents"]
    ]


# --- CUAD: commercial contracts, clause spans (see scripts/cuad_corpus.py) ------------------


def load_cuad() -> list[LabelledDocument]:
    return [
        LabelledDocument(
            contract.name,
            contract.text,
            tuple(LabelledSentence(*sentence) for sentence in labelled_sentences(contract)),
        )
        for contract in load_contracts()
    ]


def _fit_cuad(corpus: Corpus, documents: Sequence[LabelledDocument]) -> SentenceModel:
    from scripts.train_cuad import fit_contracts  # it builds on this module

    return fit_contracts(corpus, documents)


CORPORA: dict[str, Corpus] = {
    "claudette": Corpus("claudette", tuple(CLAUDETTE_CODES.values()), load_claudette, c=2.0),
    "cuad": Corpus(
        "cuad",
        CUAD_CATEGORIES,
        load_cuad,
        c=16.0,
        threshold=0.0,
        context=True,
        gates=GATES,
        fitter=_fit_cuad,
    ),
}


# --- fitting --------------------------------------------------------------------------------


def _examples(
    documents: Sequence[LabelledDocument], *, context: bool = False
) -> tuple[list[Counter[str]], list[frozenset[str]], list[int]]:
    features, labels, owners = [], [], []
    for number, document in enumerate(documents):
        before = ""
        for sentence in document.sentences:
            text = document.text[sentence.start : sentence.end]
            features.append(featurise(text, before if context else None))
            before = text
            labels.append(sentence.labels)
            owners.append(number)
    return features, labels, owners


def _fit_weights(
    corpus: Corpus,
    features: list[Counter[str]],
    labels: list[frozenset[str]],
    owners: list[int],
    gated: list[frozenset[str]] | None = None,
) -> SentenceModel:
    """Vocabulary, IDF and one class-balanced logistic regression per category."""
    per_document: dict[int, set[str]] = {}
    for feature_counts, owner in zip(features, owners, strict=True):
        per_document.setdefault(owner, set()).update(feature_counts)
    document_frequency: Counter[str] = Counter()
    for seen in per_document.values():
        document_frequency.update(seen)
    vocabulary_list = sorted(f for f, n in document_frequency.items() if n >= corpus.min_df)
    vocabulary = {feature: i for i, feature in enumerate(vocabulary_list)}
    sentence_frequency = np.zeros(len(vocabulary))
    for feature_counts in features:
        for feature in feature_counts:
            index = vocabulary.get(feature)
            if index is not None:
                sentence_frequency[index] += 1
    idf = np.log((1 + len(features)) / (1 + sentence_frequency)) + 1.0
    matrix = tfidf_matrix(features, vocabulary, idf)
    weights = np.zeros((len(vocabulary), len(corpus.categories)))
    bias = np.zeros(len(corpus.categories))
    for k, category in enumerate(corpus.categories):
        target = np.asarray([category in sentence_labels for sentence_labels in labels])
        rows = np.asarray([gated is None or category in g for g in gated or labels])
        target = target[rows]
        if target.all() or not target.any():
            bias[k] = 10.0 if target.all() else -10.0
            continue
        classifier = LogisticRegression(
            C=corpus.c, solver="liblinear", class_weight="balanced", random_state=SEED
        )
        classifier.fit(matrix[rows], target)
        weights[:, k] = classifier.coef_[0]
        bias[k] = classifier.intercept_[0]
    return SentenceModel(
        corpus=corpus.name,
        categories=corpus.categories,
        vocabulary=vocabulary,
        idf=idf,
        weights=weights,
        bias=bias,
        thresholds=np.full(len(corpus.categories), corpus.threshold),
    )


def tfidf_matrix(
    features: list[Counter[str]], vocabulary: dict[str, int], idf: np.ndarray
) -> sparse.csr_matrix:
    """The same TF-IDF the inference computes: (1 + ln tf) * idf, L2-normalised per sentence."""
    rows, cols, values = [], [], []
    for row, feature_counts in enumerate(features):
        entries = [
            (vocabulary[f], (1.0 + math.log(n)) * idf[vocabulary[f]])
            for f, n in feature_counts.items()
            if f in vocabulary
        ]
        norm = math.sqrt(sum(v * v for _, v in entries)) or 1.0
        for col, value in entries:
            rows.append(row)
            cols.append(col)
            values.append(value / norm)
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(features), len(vocabulary)))


def _gated(corpus: Corpus, documents: Sequence[LabelledDocument]) -> list[frozenset[str]] | None:
    """Per sentence (in `_examples` order), the categories whose gate it passes."""
    if not corpus.gates:
        return None
    gates = {category: re.compile(pattern) for category, pattern in corpus.gates.items()}
    gated = []
    for document in documents:
        for sentence in document.sentences:
            text = squash(fold(document.text[sentence.start : sentence.end]))
            gated.append(
                frozenset(c for c in corpus.categories if c not in gates or gates[c].search(text))
            )
    return gated


def _fit_documents(corpus: Corpus, documents: Sequence[LabelledDocument]) -> SentenceModel:
    features, labels, owners = _examples(documents, context=corpus.context)
    model = _fit_weights(corpus, features, labels, owners, _gated(corpus, documents))
    # The artifact rounds; the evaluation must score exactly what would ship.
    return SentenceModel.from_json(model.to_json())


def _inner_thresholds(corpus: Corpus, documents: Sequence[LabelledDocument]) -> np.ndarray:
    """Per category, the lowest grid threshold whose out-of-fold precision reaches the target,
    over the sentences the analyzer would score (gate open, at least `min_words` words)."""
    assert corpus.threshold_precision is not None
    gates = {category: re.compile(pattern) for category, pattern in corpus.gates.items()}
    scored: dict[str, list[tuple[float, bool]]] = {c: [] for c in corpus.categories}
    for part in range(INNER_FOLDS):
        held = documents[part::INNER_FOLDS]
        names = {document.name for document in held}
        model = _fit_documents(corpus, [d for d in documents if d.name not in names])
        for document in held:
            texts, contexts, rows = [], [], []
            before = ""
            for sentence in document.sentences:
                text = document.text[sentence.start : sentence.end]
                squashed = squash(fold(text))
                opened = [
                    c for c in corpus.categories if c not in gates or gates[c].search(squashed)
                ]
                if opened and text.count(" ") + 1 >= corpus.min_words:
                    texts.append(squashed)
                    contexts.append(fold(before))
                    rows.append((sentence.labels, opened))
                before = text
            if not texts:
                continue
            values = model.scores(texts, folded=True, contexts=contexts if corpus.context else None)
            for row, (labels, opened) in enumerate(rows):
                for category in opened:
                    k = corpus.categories.index(category)
                    scored[category].append((float(values[row, k]), category in labels))
    thresholds = np.full(len(corpus.categories), corpus.threshold)
    for k, category in enumerate(corpus.categories):
        pairs = scored[category]
        for threshold in (t for t in THRESHOLD_GRID if t <= corpus.threshold):
            chosen = [positive for value, positive in pairs if value >= threshold]
            if chosen and sum(chosen) >= corpus.threshold_precision * len(chosen):
                thresholds[k] = threshold
                break
    return thresholds


def fit(corpus: Corpus, documents: Sequence[LabelledDocument]) -> SentenceModel:
    """Train on these documents only (the evaluation passes the training folds): thresholds
    included, which an inner split of these same documents chooses."""
    if corpus.fitter is not None:
        return corpus.fitter(corpus, documents)
    model = _fit_documents(corpus, documents)
    if corpus.threshold_precision is None:
        return model
    thresholds = _inner_thresholds(corpus, documents)
    return SentenceModel.from_json(replace(model, thresholds=thresholds).to_json())


def artifacts(name: str) -> dict[Path, str]:
    """Path -> text of every artifact of this corpus: the word model, and the contract model's
    character part (`app.analyzer.contract_model.chars_path`) when it has one."""
    corpus = CORPORA[name]
    model = fit(corpus, corpus.load())
    out = {model_path(name): model.to_json()}
    if isinstance(model, ContractModel) and model.chars is not None:
        out[chars_path()] = model.chars.to_json()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="*", default=sorted(CORPORA))
    parser.add_argument("--check", action="store_true", help="fail when an artifact is stale")
    arguments = parser.parse_args()
    stale = []
    for name in arguments.corpora:
        if name == "claudette":
            # Its own trainer (word and character grams): imported here, as it imports this.
            from scripts import train_tos

            stale.extend(train_tos.write(check=arguments.check))
            continue
        for path, text in artifacts(name).items():
            if arguments.check:
                if not path.exists() or path.read_text(encoding="utf-8") != text:
                    stale.append(str(path.relative_to(ROOT)))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)} ({len(text.encode()) // 1024} KiB)")
    if stale:
        sys.exit(f"stale sentence models (run make train-analyzer): {', '.join(stale)}")


if __name__ == "__main__":
    main()
