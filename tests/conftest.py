import os
import sysconfig

import pytest
import torch

import markers

# .pt2 packages the AOTI tests share: name -> (model factory, example shape, dynamic_dims).
AOTI_CASES = {
    "simple": ("SimpleModel", (4, 10), None),
    # Batch 1: torch.export would specialise the dim; tsbridge must still make it dynamic.
    "mlp": ("MLP", (1, 16), {"x": {0: "batch"}}),
    "cnn": ("ConvNet", (2, 3, 8, 8), {"x": {0: "batch"}}),
    "encoder": ("EncoderModel", (2, 5, 32), {"x": {0: "batch"}}),
}


class Package:
    """A compiled package with the eager model and example it was made from."""

    def __init__(self, model, path, report, example):
        self.model, self.path, self.report, self.example = model, path, report, example


@pytest.fixture(scope="session")
def packages(tmp_path_factory) -> dict:
    """Each of AOTI_CASES exported with format="aoti", compiled once per session
    (AOTInductor takes 10-40 s a model on 2 cores)."""
    import models
    import tsbridge

    folder = tmp_path_factory.mktemp("aoti")
    built = {}
    for name, (factory, shape, dims) in AOTI_CASES.items():
        torch.manual_seed(0)
        model = getattr(models, factory)().eval()
        example = torch.randn(*shape)
        path = folder / f"{name}.pt2"
        report = tsbridge.export(model, (example,), path, format="aoti", dynamic_dims=dims)
        built[name] = Package(model, path, report, example)
    return built


@pytest.fixture(scope="session")
def pair_files(tmp_path_factory) -> dict:
    """models.Pair (two inputs sharing a dynamic `batch` dim) as a .pt2 package
    and a TorchScript archive: {"aoti": path, "torchscript": path}."""
    import models
    import tsbridge

    folder = tmp_path_factory.mktemp("pair")
    examples = (torch.randn(4, 64), torch.randn(4, 64))
    dims = {"x": {0: "batch"}, "y": {0: "batch"}}
    files = {}
    for form, suffix in (("aoti", ".pt2"), ("torchscript", ".pt")):
        files[form] = folder / f"pair{suffix}"
        tsbridge.export(models.Pair(), examples, files[form], format=form, input_names=["x", "y"], dynamic_dims=dims)
    return files


@pytest.fixture(scope="session")
def tsrun_path() -> str:
    """The tsrun installed by `pip install` into this environment."""
    path = os.path.join(sysconfig.get_path("scripts"), "tsrun")
    assert os.path.exists(path), f"tsrun is not installed at {path}"
    return path


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def clean_env() -> dict:
    """An environment with no LD_LIBRARY_PATH, as a user's shell would have."""
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    return env


def pytest_configure(config):
    for name, meaning in markers.MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")
    _guard_aoti_compiles()
    config.addinivalue_line(
        "markers", "writes_invalid_manifests: the test makes archives with deliberately broken manifests"
    )
    config.addinivalue_line(
        "markers",
        "writes_tampered_archives: the test makes archives whose entries no longer match the manifest's "
        "digests (their manifests are still checked, the digests are not)",
    )


@pytest.fixture(autouse=True)
def every_archive_matches_the_schema(request, tmp_path):
    """After each test, every archive it wrote must carry a manifest that the
    JSON Schema and the C++ reader both accept: one schema, two readers."""
    yield
    if request.node.get_closest_marker("writes_invalid_manifests"):
        return
    verify = request.node.get_closest_marker("writes_tampered_archives") is None
    import json
    import zipfile

    import jsonschema

    from tsbridge import _core, manifest as manifest_

    schema = manifest_.schema()
    # By content, not name: .pt2 packages carry the same manifest.
    for path in [*tmp_path.rglob("*.pt"), *tmp_path.rglob("*.pt2")]:
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith("/extra/" + manifest_.ENTRY)]
                if not names:
                    continue
                manifest = json.loads(archive.read(names[0]))
        except zipfile.BadZipFile:
            continue  # not an archive (a deliberately broken file)
        jsonschema.validate(manifest, schema)
        # apply_tuning off: a tuned archive would set this process's threads for every later test.
        _core.Model.load(str(path), "cpu", verify, apply_tuning=False)  # the C++ reader parses it, or raises


# Fixtures whose set-up compiles .pt2 packages: a test that asks for one is an aoti test.
_AOTI_FIXTURES = {"packages", "pair_files"}


def pytest_collection_modifyitems(items):
    for item in items:
        if _AOTI_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.aoti)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    markers.current_item = item
    yield
    markers.current_item = None


def _guard_aoti_compiles():
    """Every in-process AOTInductor compile must come from a test marked aoti."""
    import torch._inductor

    compile_package = torch._inductor.aoti_compile_and_package

    def guarded(*args, **kwargs):
        markers.require("aoti", "compiles a .pt2 package")
        return compile_package(*args, **kwargs)

    torch._inductor.aoti_compile_and_package = guarded
