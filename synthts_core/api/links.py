"""OpenAPI links: how the answer of one operation feeds the next (a created dataset's name into
its reads, a job's id into its status, a model version into generation).

Clients and tools that follow links (schemathesis' stateful tests, generated SDKs) get the
workflows of the API from the schema itself instead of guessing them.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import Link, Operation

DATASET_READS = ("getDataset", "getDatasetValues", "getDatasetFigure", "exportDataset",
                 "deleteDataset")
VERSION_USES = ("generateSeries", "generateFigure", "interpolateLatent",
                "interpolationFigure")


def _links(targets: tuple[str, ...], parameters: dict[str, str]) -> dict[str, Link]:
    return {target: Link(operation_id=target, parameters=dict(parameters)) for target in targets}


LINKS: dict[str, tuple[str, dict[str, Link]]] = {
    "createDataset": ("201", _links(DATASET_READS, {"path.name": "$response.body#/name"})),
    "listDatasets": ("200", _links(DATASET_READS[:4],
                                   {"path.name": "$response.body#/items/0/name"})),
    "submitJob": ("202", _links(("getJob", "cancelJob", "streamJobEvents"),
                                {"path.job_id": "$response.body#/id"})),
    "listJobs": ("200", _links(("getJob",), {"path.job_id": "$response.body#/items/0/id"})),
    "listModels": ("200", _links(("getModel", "listModelVersions"),
                                 {"path.name": "$response.body#/items/0/name"})),
    "listModelVersions": ("200", _links(("getModelVersion", *VERSION_USES), {
        "path.name": "$response.body#/items/0/name",
        "path.version": "$response.body#/items/0/version"})),
    "getModelVersion": ("200", _links(VERSION_USES, {"path.name": "$response.body#/name",
                                                     "path.version": "$response.body#/version"})),
    "listSignals": ("200", _links(("getSignal",), {"path.name": "$response.body#/items/0/name"})),
    "listPresets": ("200", _links(("getPreset",), {"path.name": "$response.body#/items/0/name"})),
}
"""operationId -> (status of the answer that carries the values, links to add)."""


def linked(operation_id: str, base: type[Operation] = Operation) -> type[Operation]:
    """An ``Operation`` class (for a handler's ``operation_class``) that adds the links of
    ``operation_id`` to its success response, after whatever ``base`` documents."""
    status, links = LINKS[operation_id]

    @dataclass
    class _Linked(base):  # type: ignore[valid-type, misc]
        def __post_init__(self) -> None:
            parent = getattr(super(), "__post_init__", None)
            if parent is not None:
                parent()
            response = (self.responses or {}).get(status)
            if response is not None and hasattr(response, "links"):
                response.links = {**(response.links or {}), **links}

    return _Linked
