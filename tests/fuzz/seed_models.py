"""The models the fuzz seeds are made from (defined in a file so that
torch.jit.script can read their source)."""

import torch
from torch import Tensor, nn


class Small(nn.Module):
    """Linear, ReLU, Linear: weights in constants (frozen) or data (not)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 8)
        self.b = nn.Linear(8, 3)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class Branchy(nn.Module):
    """Two inputs, a data-dependent branch, a loop, a nested result."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(5, 5))
        self.register_buffer("offset", torch.arange(5, dtype=torch.float32))

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        z = x @ self.w + self.offset
        if bool(z.sum() > 0):
            z = z * 2
        for _ in range(3):
            z = z + y
        return z, {"sum": z.sum(dim=1), "max": z.max(dim=1).values}
