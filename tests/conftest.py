import os
import sysconfig

import pytest
import torch



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

    from tsbridge import _core
    from tsbridge import manifest as manifest_

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
        _core.Model.load(str(path), "cpu", verify)  # the C++ reader parses it (and checks the digests), or raises
