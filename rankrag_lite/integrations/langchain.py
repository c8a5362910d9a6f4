"""LangChain: ``RankRAGCompressor``, a document compressor that reranks by RankRAG's P("True").

    from rankrag_lite.integrations.langchain import RankRAGCompressor
    compressor = RankRAGCompressor(model=RankRAG.from_pretrained("smollm2-135m-rankrag"), top_n=3)
    docs = compressor.compress_documents(documents, "who wrote hamlet")
    # in a chain: retriever | RunnableLambda(lambda docs: compressor.compress_documents(docs, query)),
    # or langchain's ContextualCompressionRetriever(base_compressor=compressor, base_retriever=...)

Each returned document is a copy of an input one with ``metadata["relevance_score"]`` (P("True")),
best first; the title, when the metadata has one (``metadata["title"]``), goes into the prompt as in
training.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import BaseDocumentCompressor, Document
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError("rankrag_lite.integrations.langchain needs langchain-core: "
                      "pip install 'rankrag-lite[langchain]'") from e
from pydantic import ConfigDict, Field, field_validator

from rankrag_lite.model import RankRAG


class RankRAGCompressor(BaseDocumentCompressor):
    """Keep the ``top_n`` documents by RankRAG's P("True") for the query."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: Any = Field(description="A RankRAG, or a name or path for RankRAG.from_pretrained.")
    top_n: int = Field(default=3, ge=1, description="How many documents to return.")
    title_key: str = Field(default="title", description="Metadata key of a document's title (if any).")

    @field_validator("model", mode="before")
    @classmethod
    def _load(cls, value):
        if isinstance(value, RankRAG):
            return value
        if isinstance(value, (str, os.PathLike)):
            return RankRAG.from_pretrained(value)
        raise TypeError(f"model must be a RankRAG or a model name or path, got {type(value).__name__}")

    def compress_documents(self, documents: Sequence[Document], query: str,
                           callbacks: Callbacks | None = None) -> Sequence[Document]:
        if not documents:
            return []
        passages = [{"title": str(d.metadata.get(self.title_key) or ""), "text": d.page_content}
                    for d in documents]
        out = []
        for hit in self.model.rank(query, passages, top_k=self.top_n):
            doc = documents[hit["corpus_id"]]
            out.append(Document(page_content=doc.page_content, id=doc.id,
                                metadata={**doc.metadata, "relevance_score": hit["score"]}))
        return out
