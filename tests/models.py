"""Models the tests export and run, written here so every test builds them
the same way."""

import torch
from torch import Tensor, nn


class SimpleModel(nn.Module):
    """The seed model: Linear(10, 1) then ReLU."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)

    def forward(self, x):
        return torch.relu(self.linear(x))


class MLP(nn.Module):
    """Three Linear layers with GELU between them."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.layers(x)


class ConvNet(nn.Module):
    """A small image classifier: Conv2d, BatchNorm2d, ReLU, MaxPool2d, Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(x, 1))


class ConvVariety(nn.Module):
    """Convolutions of every kind a CNN has: strided with bias, batch-normed,
    grouped, depthwise, dilated, 1x1 without bias; a ReLU after most, one
    output used twice (no ReLU of its own to fuse), a residual sum."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 5, stride=2, padding=2)
        self.bn = nn.BatchNorm2d(16)
        self.grouped = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.depthwise = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.dilated = nn.Conv2d(16, 32, 3, padding=2, dilation=2)
        self.pointwise = nn.Conv2d(32, 16, 1, bias=False)
        self.fc = nn.Linear(16, 6)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        shared = self.grouped(x)
        x = torch.relu(shared) + shared
        x = torch.relu(self.depthwise(x))
        x = self.pointwise(torch.relu(self.dilated(x))) + x
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class LSTMModel(nn.Module):
    """A batch-first LSTM whose last step goes through a Linear."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=6, hidden_size=12, num_layers=2, batch_first=True)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.fc(output[:, -1, :])


class EncoderModel(nn.Module):
    """One TransformerEncoderLayer (d_model 32, 4 heads, batch first)."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)

    def forward(self, x):
        return self.layer(x)


class TwoInputsTupleOutput(nn.Module):
    """Two inputs, a tuple of three results."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, a, b):
        return a + b, torch.matmul(a, b.transpose(0, 1)), self.proj(a * b)


class DictOutput(nn.Module):
    """Returns a dict of named tensors."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 3)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        logits = self.linear(x)
        return {"logits": logits, "probs": torch.softmax(logits, dim=1), "top": logits.argmax(dim=1)}


class ControlFlow(nn.Module):
    """Data-dependent branch on x.sum() and a loop running x.size(0) times."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x: Tensor) -> Tensor:
        if x.sum() > 0:
            h = torch.relu(self.linear(x))
        else:
            h = torch.tanh(self.linear(-x)) * 2.0
        acc = torch.zeros_like(h[0])
        for i in range(x.size(0)):
            acc = acc * 0.5 + h[i]
        return acc


class ScalarArgs(nn.Module):
    """forward takes int, float, bool and List[int] arguments beside the tensor."""

    def forward(self, x: Tensor, n: int, scale: float, flag: bool, dims: list[int]) -> Tensor:
        y = x * scale
        for _ in range(n):
            y = y + x
        if flag:
            y = torch.sigmoid(y)
        return y.sum(dim=dims)


class MultiMethod(nn.Module):
    """forward, an exported `embed`, and `other` compiled only when named to tsbridge.script."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(8, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.embed(x))

    @torch.jit.export
    def embed(self, x: Tensor) -> Tensor:
        return torch.tanh(self.encoder(x))

    def other(self, x: Tensor, k: int) -> Tensor:
        return self.encoder(x) * k


class DictInput(nn.Module):
    """Takes a dict of named tensors."""

    def __init__(self):
        super().__init__()
        self.image = nn.Linear(5, 3)
        self.text = nn.Linear(7, 3)

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        return self.image(inputs["image"]) + self.text(inputs["text"]) * inputs["weight"]


class Pair(nn.Module):
    """forward(x, y) over a shared dynamic batch dim, with no weights to hide a bad read."""

    def forward(self, x, y):
        return (x * 2 + y).sum(dim=1, keepdim=True)


class DeepEncoder(nn.Module):
    """Four post-norm encoder layers (width 64): deep enough that rounding
    every activation to bf16 misses eager by several times 1e-2."""

    def __init__(self, width: int = 64, layers: int = 4):
        super().__init__()
        layer = nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=4 * width, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x)


class TinyBert(nn.Module):
    """A BERT-like encoder: token ids in, a learned position table of 64 rows
    sliced to the sequence length (as Hugging Face's BERT does), so torch.export
    can only take `seq` up to 64."""

    def __init__(self, vocab: int = 100, positions: int = 64, width: int = 32):
        super().__init__()
        self.tokens = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(positions, width)
        self.register_buffer("position_ids", torch.arange(positions).unsqueeze(0), persistent=False)
        self.layer = nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=64, batch_first=True)

    def forward(self, ids: Tensor) -> Tensor:
        h = self.tokens(ids) + self.positions(self.position_ids[:, : ids.shape[1]])
        return self.layer(h)


# Factories `tsbridge export models:NAME` imports by name (tests/test_cli.py).
def small_classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def not_a_model():
    return 42
