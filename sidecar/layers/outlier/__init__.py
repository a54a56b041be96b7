"""Outlier ejection and health: per-endpoint gates flipped by passive and active controllers."""
