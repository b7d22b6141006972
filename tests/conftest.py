"""Shared fixtures: a seeded generator and float64 torch."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(231)
