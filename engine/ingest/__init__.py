"""Importers that turn recorded feed files into stored sessions."""

from .jsonl import ImportSummary, import_jsonl

__all__ = ["ImportSummary", "import_jsonl"]
