"""Loading registered versions: the cache, LoadedModel.generate and model references."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from synthts_core.errors import BadInputError, LimitExceededError, NotFoundError
from synthts_core.services import models
from synthts_core.services.model_cache import ModelCache
from tests.tracking.conftest import TinyPlugin, tiny_bundle, tiny_config


def test_parse_model_ref() -> None:
    assert models.parse_model_ref("harmonics-gan") == ("harmonics-gan", "latest")
    assert models.parse_model_ref("harmonics-gan@3") == ("harmonics-gan", "3")
    assert models.parse_model_ref("harmonics-gan@best") == ("harmonics-gan", "best")
    for bad in ("", "@best", "a b@1", "name@"):
        with pytest.raises(BadInputError, match="model"):
            models.parse_model_ref(bad)


def test_cache_loads_once_under_concurrent_requests(embedded_runtime: Any,
                                                    tiny_plugin: TinyPlugin) -> None:
    embedded_runtime.tracker.register_model("tiny-gan", tiny_bundle(), aliases=["best"])
    tiny_plugin.architecture.build_delay_s = 0.3  # all threads arrive while the first loads
    cache = ModelCache(embedded_runtime, size=2)
    barrier = threading.Barrier(8)
    got: list[Any] = [None] * 8

    def request(i: int) -> None:
        barrier.wait()
        got[i] = cache.get("tiny-gan", "best" if i % 2 else "1")

    threads = [threading.Thread(target=request, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert tiny_plugin.architecture.builds == 1
    assert cache.loads == 1
    assert all(m is got[0] for m in got)
    assert got[0].ref.version == "1" and got[0].ref.aliases == ["best"]


def test_cache_evicts_least_recently_used_and_follows_aliases(embedded_runtime: Any,
                                                              tiny_plugin: TinyPlugin) -> None:
    tracker = embedded_runtime.tracker
    for seed in range(3):
        tracker.register_model("tiny-gan", tiny_bundle(tiny_config(seed=seed)))
    tracker.set_alias("tiny-gan", "best", "1")
    cache = ModelCache(embedded_runtime, size=2)
    first = cache.get("tiny-gan", "1")
    cache.get("tiny-gan", "2")
    assert cache.get("tiny-gan", "best") is first  # alias resolves to a cached version
    cache.get("tiny-gan", "latest")  # version 3 evicts version 2, the least recently used
    assert cache.keys() == [("tiny-gan", "1"), ("tiny-gan", "3")]
    assert tiny_plugin.architecture.builds == 3
    cache.get("tiny-gan", "2")
    assert tiny_plugin.architecture.builds == 4
    tracker.set_alias("tiny-gan", "best", "3")
    assert cache.get("tiny-gan", "best").ref.version == "3"
    with pytest.raises(NotFoundError):
        cache.get("tiny-gan", "9")


def test_generate_counts_labels_seed_and_real_units(embedded_runtime: Any) -> None:
    import torch

    config = tiny_config(offset=[10.0, -5.0], scale=[2.0, 4.0])
    cache = ModelCache(embedded_runtime)
    embedded_runtime.tracker.register_model("tiny-gan", tiny_bundle(config))
    model = cache.get("tiny-gan")
    values, labels = model.generate(counts={"sine": 3, "saw": 2, "#1": 1})
    assert values.dtype == np.float32 and values.shape == (6, 2, 16)
    assert labels.tolist() == [0, 0, 0, 2, 2, 1]
    a, _ = model.generate(2, labels=["square"], seed=7)
    b, _ = model.generate(2, labels=[1], seed=7)
    c, _ = model.generate(2, labels=["square"], seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    every, every_labels = model.generate(4)
    assert every.shape == (12, 2, 16) and np.bincount(every_labels).tolist() == [4, 4, 4]

    # a generator whose raw output per label is known: tanh(atanh(0.1 * (k + 1))) = 0.1(k+1)
    gen = model.trainer.gen
    with torch.no_grad():
        gen.weight.zero_()
        gen.bias.zero_()
        for k in range(3):
            gen.weight[:, 4 + k] = float(np.arctanh(0.1 * (k + 1)))
    values, labels = model.generate(counts={"saw": 1, "sine": 2}, seed=0)
    raw = 0.1 * (labels + 1.0)
    np.testing.assert_allclose(values[:, 0], np.repeat(raw[:, None] * 2 + 10, 16, 1), rtol=1e-5)
    np.testing.assert_allclose(values[:, 1], np.repeat(raw[:, None] * 4 - 5, 16, 1), rtol=1e-5)

    with pytest.raises(BadInputError, match=r"labels: unknown label 'triangle'.*sine, square, saw"):
        model.generate(1, labels=["triangle"])
    with pytest.raises(BadInputError, match="labels"):
        model.generate(1, labels=[3])
    with pytest.raises(BadInputError, match="n"):
        model.generate(0)
    with pytest.raises(LimitExceededError, match="SYNTHTS_MAX_GENERATE_VALUES"):
        model.generate(100, max_values=1000)


def test_unconditional_model_refuses_labels(embedded_runtime: Any) -> None:
    config = tiny_config(label_names=[], n_channels=1)
    embedded_runtime.tracker.register_model("tiny-uncond", tiny_bundle(config))
    result = embedded_runtime.services.models.sample("tiny-uncond", 5, seed=3)
    assert result.values.shape == (5, 1, 16) and result.labels is None
    with pytest.raises(BadInputError, match="unconditional"):
        embedded_runtime.services.models.sample("tiny-uncond@1", 5, labels=["a"])


def test_missing_architecture_is_a_clear_error(embedded_runtime: Any) -> None:
    config = tiny_config() | {"architecture": "not-installed"}
    embedded_runtime.tracker.register_model("orphan", tiny_bundle(config))
    with pytest.raises(NotFoundError, match=r"not-installed.*installed: tiny"):
        embedded_runtime.services.models.sample("orphan", 1)
