"""Speed of the offline analyzer on a 50 000-character document built from the samples.

Run: uv run python -m bench.analyzer_speed [runs]
"""

import json
import statistics
import sys
import time
from pathlib import Path

from app.analyzer.chat_model import OfflineAnalyzer
from app.analyzer.engine import analyse
from app.prompt import build_messages
from app.schemas import MAX_CONTENT_CHARS

ROOT = Path(__file__).resolve().parents[1]

SAMPLES = ("contract", "privacy_policy", "dpa", "employment")


def build_document(size: int = MAX_CONTENT_CHARS) -> str:
    texts = [(ROOT / "examples" / f"{name}.txt").read_text(encoding="utf-8") for name in SAMPLES]
    parts: list[str] = []
    length = 0
    while length < size:
        for text in texts:
            parts.append(text)
            length += len(text) + 2
    return "\n\n".join(parts)[:size]


def build_terms_document(size: int = 500_000) -> str:
    """Real Terms of Service (the labelled set's texts) joined to `size` characters."""
    data = json.loads((ROOT / "data" / "claudette" / "claudette_en_dev.json").read_text("utf-8"))
    return "\n\n".join(document["text"] for document in data["documents"])[:size]


def timed(function: object, runs: int) -> list[float]:
    assert callable(function)
    function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"{label:<34} median {statistics.median(samples):7.2f} ms   p95 {p95:7.2f} ms   "
        f"max {ordered[-1]:7.2f} ms"
    )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    document = build_document()
    findings = len(analyse(document, "contract").findings)
    print(f"document: {len(document)} chars, {findings} findings (contract), {runs} runs")
    for document_type in ("contract", "privacy_policy", "unknown-type"):
        report(
            f"analyse({document_type!r})", timed(lambda t=document_type: analyse(document, t), runs)
        )
    terms = build_terms_document()
    analyse(terms[:2000], "terms_of_service")  # reads the sentence model once
    report(
        f"analyse('terms_of_service') {len(terms) // 1000}k",
        timed(lambda: analyse(terms, "terms_of_service"), max(3, runs // 10)),
    )
    model = OfflineAnalyzer()
    messages = build_messages(document, "contract", "bench")
    report("OfflineAnalyzer.stream (all chunks)", timed(lambda: list(model.stream(messages)), runs))


if __name__ == "__main__":
    main()
