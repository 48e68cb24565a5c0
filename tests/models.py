"""Models the tests export and run, written here so every test builds them
the same way."""

import torch
from torch import nn


class SimpleModel(nn.Module):
    """The seed model: Linear(10, 1) then ReLU."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)

    def forward(self, x):
        return torch.relu(self.linear(x))
