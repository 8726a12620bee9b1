"""Helpers for testing layers and nets (gradient checks, layer construction)."""
