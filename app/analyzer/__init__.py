"""The offline analyzer: a deterministic clause-risk engine.

The service streams it as `app.analyzer.stream.OfflineStream`; the LangChain chat model is
`app.analyzer.chat_model.OfflineAnalyzer`. Neither is imported here, so using the engine never
pays for importing LangChain. `python -m app.analyzer` compiles the learned models (learned.py).
"""

import os

# NumPy's OpenBLAS starts a thread per core as it loads, for matrix products this analyzer never
# makes: 0.1-0.2 s of wall time in every worker's start here, and a pre-fork supervisor should
# hold no native threads when it forks. Set here, before any module of the package imports
# NumPy. An operator's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from app.analyzer.document_types import normalise_document_type
from app.analyzer.engine import Hit, analyse, find_hits

__all__ = ["Hit", "analyse", "find_hits", "normalise_document_type"]
