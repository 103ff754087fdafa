"""Audit tooling: filter and show events, diff two sessions, golden files."""
