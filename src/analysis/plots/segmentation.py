"""Figures of the segmentation notebook."""

from __future__ import annotations
