"""The offline analyzer: a deterministic clause-risk engine.

The LangChain chat model that serves it is `app.analyzer.chat_model.OfflineAnalyzer`; it is
not imported here, so using the engine never pays for importing LangChain.
"""

from app.analyzer.document_types import normalise_document_type
from app.analyzer.engine import Hit, analyse, find_hits

__all__ = ["Hit", "analyse", "find_hits", "normalise_document_type"]
