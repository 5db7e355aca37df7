"""Potential customers' conversion to a first purchase (Kaplan-Meier curves)."""

from __future__ import annotations
