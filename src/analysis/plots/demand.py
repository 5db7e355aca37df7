"""Figures of the demand notebook."""

from __future__ import annotations
