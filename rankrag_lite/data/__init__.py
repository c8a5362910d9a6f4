"""Data: record schemas, source loaders and the Stage-2 blend."""
