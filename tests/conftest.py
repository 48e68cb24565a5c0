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
