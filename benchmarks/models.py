"""The models the benchmark suite measures, written here (no downloads), and
the cases: a model at one input shape, with iteration counts sized for a
2-core machine."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import torch
from torch import nn


class SimpleModel(nn.Module):
    """The seed model: Linear(10, 1) then ReLU."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)

    def forward(self, x):
        return torch.relu(self.linear(x))


class MLP(nn.Module):
    """256 -> 512 -> 512 -> 512 -> 10 with ReLUs (about 0.66 M parameters)."""

    def __init__(self, features: int = 256, hidden: int = 512, classes: int = 10):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.layers(x)


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convolutions with batch norm and a shortcut."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )
        else:
            self.downsample = nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class ResNet18(nn.Module):
    """A ResNet-18-sized CNN (11.7 M parameters, 1000 classes), written out so
    nothing is downloaded: stem, four stages of two basic blocks, pooling, fc."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        blocks = []
        inplanes = 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes)]
            inplanes = planes
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class Encoder(nn.Module):
    """A 4-layer transformer encoder, d_model 256, 8 heads, feed-forward 1024, batch first."""

    def __init__(self, d_model: int = 256, heads: int = 8, layers: int = 4):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=4 * d_model, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x):
        return self.encoder(x)


class LSTMModel(nn.Module):
    """A 2-layer batch-first LSTM (64 -> 256) whose last step goes through a Linear."""

    def __init__(self, features: int = 64, hidden: int = 256, classes: int = 10):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.fc(output[:, -1, :])


class ControlFlow(nn.Module):
    """Data-dependent control flow: a branch on the sign of x.sum() and a
    recurrent loop over the batch rows (64 -> 256 -> 10). Scripting keeps both;
    a trace or torch.export would bake in one branch or refuse."""

    def __init__(self, features: int = 64, hidden: int = 256, classes: int = 10):
        super().__init__()
        self.inp = nn.Linear(features, hidden)
        self.pos = nn.Linear(hidden, hidden)
        self.neg = nn.Linear(hidden, hidden)
        self.step = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        if x.sum() > 0:
            h = torch.relu(self.pos(h))
        else:
            h = torch.tanh(self.neg(h)) * 2.0
        acc = torch.zeros_like(h[0])
        for i in range(h.size(0)):
            acc = torch.tanh(self.step(acc)) + h[i]
        return self.out(acc)


@dataclass(frozen=True)
class BertConfig:
    """The size of a BERT-style encoder (random weights: nothing downloaded)."""

    vocab: int = 8192
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    feed_forward: int = 1024
    max_positions: int = 512


class BertEncoder(nn.Module):
    """A BERT-style encoder from a config: token and position embeddings, a
    layer norm, then post-norm GELU encoder layers; token ids (int64) in, the
    hidden states out."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.tokens = nn.Embedding(config.vocab, config.hidden)
        self.positions = nn.Embedding(config.max_positions, config.hidden)
        self.norm = nn.LayerNorm(config.hidden)
        layer = nn.TransformerEncoderLayer(
            config.hidden, config.heads, config.feed_forward, activation="gelu", batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)

    def forward(self, x):
        positions = torch.arange(x.size(1), device=x.device).unsqueeze(0)
        return self.encoder(self.norm(self.tokens(x) + self.positions(positions)))


# Token-id models: their config gives the vocabulary the inputs are drawn from.
TOKEN_MODELS = {
    "bert": BertConfig(),
    # --quick's: the same code at a size that compiles in seconds.
    "bert_tiny": BertConfig(vocab=1000, hidden=64, layers=2, heads=2, feed_forward=256, max_positions=64),
}

MODELS = {
    "simple": SimpleModel,
    "mlp": MLP,
    "cnn": ResNet18,
    "transformer": Encoder,
    "lstm": LSTMModel,
    "control_flow": ControlFlow,
    **{name: functools.partial(BertEncoder, config) for name, config in TOKEN_MODELS.items()},
}
# Models whose forward branches or loops on data: scripted before ONNX export
# (so If/Loop survive), and no .pt2 (torch.export cannot capture them).
DATA_DEPENDENT = {"control_flow"}


def build(model: str) -> nn.Module:
    """The model in eval mode with the same weights in every process (seeded)."""
    torch.manual_seed(0)
    module = MODELS[model]()
    # Batch norm with non-trivial running statistics, so folding it matters.
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.BatchNorm2d):
                sub.running_mean.uniform_(-0.1, 0.1)
                sub.running_var.uniform_(0.5, 1.5)
    return module.eval()


@dataclass(frozen=True)
class Case:
    """One model at one input shape, and how many calls to time."""

    name: str
    model: str
    shape: tuple[int, ...]
    warmup: int  # untimed calls after the first call (tsrun --untimed-calls)
    iters: int  # timed calls per process
    quick: bool = False  # part of --quick
    tags: tuple[str, ...] = field(default=())
    title: str = ""  # how the headline table names it

    @property
    def batch(self) -> int:
        return self.shape[0]

    @property
    def shape_arg(self) -> str:
        return "x".join(str(d) for d in self.shape)

    @property
    def dtype(self) -> str:
        """The input's dtype: token ids for a token-id model, float32 otherwise."""
        return "int64" if self.model in TOKEN_MODELS else "float32"


CASES = [
    Case("simple_b5", "simple", (5, 10), warmup=200, iters=5000, quick=True, title="seed model, batch 5"),
    Case("mlp_b1", "mlp", (1, 256), warmup=100, iters=3000, quick=True, title="MLP 512×3, batch 1"),
    Case("mlp_b64", "mlp", (64, 256), warmup=50, iters=600, title="MLP 512×3, batch 64"),
    Case("cnn_b1", "cnn", (1, 3, 224, 224), warmup=3, iters=25, title="ResNet-18, batch 1"),
    Case("cnn_b8", "cnn", (8, 3, 224, 224), warmup=2, iters=8, title="ResNet-18, batch 8"),
    Case("cnn_b32", "cnn", (32, 3, 224, 224), warmup=1, iters=4, title="ResNet-18, batch 32 (throughput)"),
    Case("transformer_b1", "transformer", (1, 128, 256), warmup=5, iters=50, title="transformer encoder 1×128×256"),
    Case("bert_b1", "bert", (1, 128), warmup=5, iters=50, title="BERT-style encoder 4×256, 1×128 tokens"),
    Case("lstm_b1", "lstm", (1, 64, 64), warmup=10, iters=200, title="LSTM 2×256, 1×64×64"),
    Case(
        "control_flow_b4",
        "control_flow",
        (4, 64),
        warmup=100,
        iters=2000,
        quick=True,
        title="scripted control flow, batch 4",
    ),
    Case("bert_tiny_b1", "bert_tiny", (1, 32), warmup=20, iters=300, quick=True, title="tiny BERT 2×64, 1×32 tokens"),
]
# The cases of the issue-17 headline table (`--cases headline`).
HEADLINE = ("simple_b5", "mlp_b1", "cnn_b1", "cnn_b32", "transformer_b1", "bert_b1", "control_flow_b4")

# --quick: tiny iteration counts, small models only.
QUICK_ITERS = {"warmup": 3, "iters": 30}


def cases(quick: bool) -> list[Case]:
    if not quick:
        return list(CASES)
    return [replace(c, warmup=QUICK_ITERS["warmup"], iters=QUICK_ITERS["iters"]) for c in CASES if c.quick]


def make_input(model: str, shape, seed: int = 0) -> torch.Tensor:
    """A model's input: seeded, the same in every process; token ids drawn
    from the model's vocabulary, else randn."""
    generator = torch.Generator().manual_seed(seed)
    if model in TOKEN_MODELS:
        return torch.randint(0, TOKEN_MODELS[model].vocab, tuple(shape), generator=generator)
    return torch.randn(tuple(shape), generator=generator)


def case_input(case: Case) -> torch.Tensor:
    """The input every runner of a case gets."""
    return make_input(case.model, case.shape)


def check_inputs(case: Case) -> list[torch.Tensor]:
    """What each runner's output is checked on against fp32 eager: the case's
    input and a second one, its negation for float inputs (the other branch of
    a data-dependent `if`), another draw for token ids."""
    x = case_input(case)
    return [x, make_input(case.model, case.shape, seed=1) if case.dtype == "int64" else -x]
