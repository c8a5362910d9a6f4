"""Data: record schemas, source loaders, BM25 hard-negative mining and the Stage-2 blend."""
