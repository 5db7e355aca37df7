"""Figures of the clv notebook."""

from __future__ import annotations
