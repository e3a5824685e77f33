"""A valid analysis JSON split into exactly N model tokens, so both apps stream the same answer."""

import json

FINDING = {
    "clause": "The Supplier may vary the Charges at any time by giving notice to the Customer.",
    "risk": "high",
    "explanation": "Unilateral price changes: negotiate a cap, notice period and a right to terminate.",
    "confidence": 0.85,
}
FILLER = "The contract shifts pricing and liability risk to the customer and needs negotiation. "
CHARS_PER_TOKEN = 4


def answer_text(tokens: int) -> str:
    findings = [FINDING] * max(1, tokens // 100)
    target = tokens * CHARS_PER_TOKEN
    base = len(json.dumps({"findings": findings, "summary": ""}))
    summary = (FILLER * (target // len(FILLER) + 1))[: max(0, target - base)].strip() or "Fine."
    return json.dumps({"findings": findings, "summary": summary})


def answer_tokens(tokens: int) -> list[str]:
    """`tokens` non-empty pieces whose concatenation is a valid AnalysisDraft."""
    text = answer_text(tokens)
    size, extra = divmod(len(text), tokens)
    pieces, start = [], 0
    for index in range(tokens):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces
