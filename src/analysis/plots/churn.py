"""Figures of the churn notebook."""

from __future__ import annotations
