"""The seed example: define SimpleModel, script it and trace it with tsbridge,
show the scripted code, check both agree with eager PyTorch, and save both as
archives that tsrun (C++, no Python) can run; then tsbridge.export it in one
call (checked against eager, with a golden sample tsrun --selftest replays)
and save the example input as x.npy for `tsrun --input`."""

import argparse
import os

import numpy as np
import torch
from torch import nn

import tsbridge


class SimpleModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)

    def forward(self, x):
        return torch.relu(self.linear(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=".", help="folder for the .pt files")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    # A seed whose weights leave the ReLU open for most example rows, so the
    # outputs tsrun prints show values rather than a column of zeros.
    torch.manual_seed(9)
    model = SimpleModel().eval()
    x = torch.randn(5, 10)

    scripted = tsbridge.script(model)
    traced = tsbridge.trace(model, x)
    print("scripted code:")
    print(scripted.code)

    eager = model(x)
    print("scripted matches eager:", torch.allclose(scripted(x), eager))
    print("traced matches eager:  ", torch.allclose(traced(x), eager))
    print("scripted matches traced:", torch.allclose(scripted(x), traced(x)))

    for name, module in (("simple_scripted.pt", scripted), ("simple_traced.pt", traced)):
        path = os.path.join(args.out, name)
        tsbridge.save(module, path, example_inputs=x, input_names=["x"])
        print("saved", path)

    # The C++ runtime, under Python, gives the same numbers.
    runtime = tsbridge.load(os.path.join(args.out, "simple_scripted.pt"))
    print("C++ runtime matches eager:", torch.allclose(runtime(x), eager))

    # All of the above in one call, plus a golden sample for tsrun --selftest.
    report = tsbridge.export(model, x, os.path.join(args.out, "simple.pt"), input_names=["x"])
    print(report)
    np.save(os.path.join(args.out, "x.npy"), x.numpy())
    print("eager output:", [round(v, 6) for v in eager.flatten().tolist()])


if __name__ == "__main__":
    main()
