"""The API's privacy read is the record a version's config holds (``PrivacyRecord``), field for
field, and ``/schema`` documents it under a model version's read: the two types cannot drift
apart (the read derives from the record)."""

from __future__ import annotations

from pathlib import Path

import msgspec
from litestar.testing import TestClient

from synthts_core import privacy
from synthts_core.api import create_app
from synthts_core.api.schemas.models import ModelVersionRead
from tests.api.conftest import api_settings


def _record() -> privacy.PrivacyRecord:
    return privacy.PrivacyRecord(
        epsilon=4.99, target_epsilon=5.0, delta=1e-3, max_grad_norm=1.0, noise_multiplier=1.2,
        sample_rate=0.5, steps=20, planned_steps=20, accountant=privacy.accountant_name(),
        mechanism="DP-SGD", not_covered=list(privacy.NOT_COVERED))


def test_schema_documents_every_field_of_the_record(tmp_path: Path) -> None:
    fields = set(privacy.PrivacyRecord.__struct_fields__)
    with TestClient(create_app(api_settings(tmp_path / "data"))) as client:
        schema = client.get("/schema/openapi.json").json()
    get = schema["paths"]["/api/v1/models/{name}/versions/{version}"]["get"]
    ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    components = schema["components"]["schemas"]
    version = components[ref.rsplit("/", 1)[1]]
    privacy_ref = next(option["$ref"] for option in version["properties"]["privacy"]["oneOf"]
                       if "$ref" in option)
    read = components[privacy_ref.rsplit("/", 1)[1]]
    assert set(read["properties"]) == fields
    assert {"epsilon", "target_epsilon", "delta", "steps", "planned_steps"} <= set(
        read["required"])


def test_a_versions_record_reads_back_whole_and_a_foreign_one_is_dropped() -> None:
    record = msgspec.to_builtins(_record())
    ref = {"name": "m", "version": "1", "architecture": "cwgan_gp", "aliases": [],
           "run_id": None, "metrics": {}, "config": {"privacy": record}, "created_at": None,
           "source": None}
    read = ModelVersionRead.from_domain(ref)
    assert read.privacy is not None and msgspec.to_builtins(read.privacy) == record
    assert read.privacy_summary.startswith("epsilon 4.99 spent of 5")
    ref["config"] = {"privacy": {**record, "epsilon": "lots"}}
    assert ModelVersionRead.from_domain(ref).privacy is None
