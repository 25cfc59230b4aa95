"""The training tests' fixtures (a runtime on a temp data folder with a local Ray, a real
``mlflow server`` on loopback, the tiny labelled dataset), reused here."""

from tests.training.conftest import (  # noqa: F401 - fixtures
    TINY_SPACE,
    dataset,
    rt,
    rt_server,
    server_dataset,
    tiny_dataset,
    tiny_spec,
)
