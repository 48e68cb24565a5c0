"""tsbridge.serve run for real: a local Ray instance (loopback, 2 CPUs, no
dashboard, no usage stats), two replicas behind Serve's HTTP proxy, requests
from threads, every response compared with eager PyTorch computed here."""

import json
import os
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import models
import tsbridge

ray = pytest.importorskip("ray", reason="needs the 'serve' optional dependencies (pip install '.[serve]')")
serve = pytest.importorskip("ray.serve", reason="needs the 'serve' optional dependencies (pip install '.[serve]')")

from tsbridge.serve import deployment  # noqa: E402

pytestmark = pytest.mark.serving

REQUESTS = 24  # bounded: the whole test stays well under a minute on 2 cores
TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The MLP exported by tsbridge and served by two replicas; yields (url, eager model)."""
    torch.manual_seed(0)
    model = models.MLP().eval()
    path = tmp_path_factory.mktemp("serve") / "mlp.pt"
    tsbridge.export(model, torch.randn(4, 16), path)

    saved = {k: os.environ.get(k) for k in ("RAY_USAGE_STATS_ENABLED",)}
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    port = free_port()
    ray.init(
        num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", logging_level="ERROR", log_to_driver=False
    )
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        app = deployment(path, num_replicas=2, max_batch_size=4, batch_wait_timeout_s=0.02, num_cpus=0.5)
        serve.run(app, name="mlp", route_prefix="/mlp")
        yield f"http://127.0.0.1:{port}/mlp", model
    finally:
        serve.shutdown()
        ray.shutdown()
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def post(url, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_two_replicas_answer_concurrent_requests_like_eager_pytorch(served):
    url, model = served
    status = serve.status().applications["mlp"].deployments["tsbridge"]
    assert status.replica_states.get("RUNNING") == 2

    generator = torch.Generator().manual_seed(1)
    # 1 to 3 samples a request, so batches mix requests of different sizes.
    batches = [torch.randn(1 + i % 3, 16, generator=generator) for i in range(REQUESTS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda x: post(url, {"inputs": {"x": x.tolist()}}), batches))
    elapsed = time.perf_counter() - started

    for x, (code, body) in zip(batches, answers, strict=True):
        assert code == 200, body
        with torch.no_grad():
            expected = model(x)
        got = torch.tensor(body["outputs"]["output"], dtype=torch.float32)
        torch.testing.assert_close(got, expected)
    assert elapsed < TIMEOUT_S


def test_wrong_shape_is_a_400_naming_the_input_and_the_replica_keeps_serving(served):
    url, model = served
    code, body = post(url, {"inputs": {"x": torch.randn(2, 15).tolist()}})
    assert code == 400 and "'x'" in body["error"] and "[batch,16]" in body["error"], body
    code, body = post(url, {"inputs": {"y": [[0.0] * 16]}})
    assert code == 400 and "'x'" in body["error"], body
    code, body = post(url, b"not json")
    assert code == 400, body

    # Enough good requests afterwards to reach both replicas.
    for seed in range(4):
        x = torch.randn(2, 16, generator=torch.Generator().manual_seed(seed))
        code, body = post(url, {"inputs": {"x": x.tolist()}})
        assert code == 200, body
        with torch.no_grad():
            torch.testing.assert_close(torch.tensor(body["outputs"]["output"]), model(x))
