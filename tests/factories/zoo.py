"""Factories the `tsbridge export` CLI tests import by name."""

import torch
from torch import nn


def small_classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def not_a_model():
    return 42
