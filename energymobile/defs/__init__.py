"""Dagster definitions: assets, checks, partitions and sensors wired to the pure code."""
