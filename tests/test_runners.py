"""LoadOptions::runners: a .pt2's AOTInductor model instances for concurrent
calls. Counts are checked at load (Python and tsrun); threads sharing one
package with several runners still get each its own right answer; tsrun's
--clients benchmark counts every client's calls. Speed is in
benchmarks/concurrency.py, not here."""

import json
import os
import subprocess
import threading

import pytest
import torch

import tsbridge

pytestmark = pytest.mark.aoti


@pytest.mark.parametrize("count", [0, -1, 257])
def test_absurd_runner_counts_are_refused(packages, count):
    with pytest.raises(tsbridge.InvalidArgumentError, match=f"^runners must be 1 to 256, got {count}$"):
        tsbridge.load(packages["mlp"].path, runners=count)


def test_runner_count_is_what_was_asked_or_the_default(packages, pair_files):
    assert tsbridge.load(packages["mlp"].path, runners=3).runners == 3
    expected = max(1, min(8, (os.cpu_count() or 1) // torch.get_num_threads()))
    assert tsbridge.load(packages["mlp"].path).runners == expected
    # TorchScript runs concurrent calls on one module: it holds no runners, and is refused them.
    assert tsbridge.load(pair_files["torchscript"]).runners == 0
    with pytest.raises(
        tsbridge.InvalidArgumentError, match="AOTInductor options .runners. do not apply to a TorchScript archive"
    ):
        tsbridge.load(pair_files["torchscript"], runners=2)


def test_threads_sharing_one_package_each_get_their_answer(packages):
    package = packages["mlp"]
    model = tsbridge.load(package.path, runners=2)
    inputs = [torch.randn(batch, 16) for batch in (1, 2, 3, 5, 8, 13)]
    results = [None] * len(inputs)

    def call(index):
        for _ in range(20):
            results[index] = model(inputs[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for x, got in zip(inputs, results, strict=True):
        torch.testing.assert_close(got, package.model(x), rtol=1e-5, atol=1e-5)


def test_tsrun_runners_and_clients(packages, tsrun_path):
    path = str(packages["mlp"].path)
    bad = subprocess.run([tsrun_path, path, "--runners", "0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip() == "tsrun: error: runners must be 1 to 256, got 0"
    run = subprocess.run(
        [tsrun_path, path, "--bench", "--iters", "25", "--clients", "3", "--runners", "2", "--threads", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["timings"]["bench"]["iterations"] == 75
    clients = subprocess.run(
        [tsrun_path, path, "--bench", "--clients", "0"], capture_output=True, text=True, timeout=60
    )
    assert clients.returncode == 2 and "clients must be 1 to 256, got 0" in clients.stderr
