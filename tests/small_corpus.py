"""A three-document corpus (Hamlet, Python, Paris) that several test files index, rerank or evaluate
on (not a test module); tests/conftest.py's ``corpus`` and ``index`` fixtures are built from it."""

DOCS = [{"id": "d1", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
        {"id": "d2", "title": "Python", "text": "Python is a programming language by Guido van Rossum."},
        {"id": "d3", "title": "Paris", "text": "Paris is the capital and largest city of France."}]
