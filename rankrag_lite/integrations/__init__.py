"""Rerankers for RAG frameworks (optional extras):

- :mod:`rankrag_lite.integrations.langchain`: ``RankRAGCompressor``, a LangChain
  ``BaseDocumentCompressor`` (``pip install 'rankrag-lite[langchain]'``);
- :mod:`rankrag_lite.integrations.llamaindex`: ``RankRAGRerank``, a LlamaIndex
  ``BaseNodePostprocessor`` (``pip install 'rankrag-lite[llamaindex]'``).

Both take a loaded :class:`~rankrag_lite.RankRAG` (or a name for ``RankRAG.from_pretrained``).
"""
