"""The offline analyzer: a deterministic clause-risk engine.

The service streams it as `app.analyzer.stream.OfflineStream`; the LangChain chat model is
`app.analyzer.chat_model.OfflineAnalyzer`. Neither is imported here, so using the engine never
pays for importing LangChain. `python -m app.analyzer` compiles the learned models (learned.py).
"""

from app.analyzer.document_types import normalise_document_type
from app.analyzer.engine import Hit, analyse, find_hits

__all__ = ["Hit", "analyse", "find_hits", "normalise_document_type"]
