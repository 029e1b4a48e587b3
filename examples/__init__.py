"""Worked examples built on miestim's public API."""
