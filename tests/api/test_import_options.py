"""Import options are declared once (``ImportOptions``): the ``synthts import`` flags are built
from the declaration, and the upload endpoint's query parameters are checked against it here,
so an option added to one and not the other fails this test."""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Any

import click
import pytest

from synthts_core.api.controllers.datasets import DatasetsController
from synthts_core.cli.commands.import_ import command as import_command
from synthts_core.domain import NAME_ALLOWED, Normalisation
from synthts_core.normalisation import IMPORT_FITS
from synthts_core.services.importing.options import (
    FORMATS,
    Bounds,
    DeclaredOption,
    ImportOptions,
    NormaliseMethod,
    check_options,
    declared_options,
)

NOT_UPLOAD_PARAMETERS = {"self", "request", "datasets", "uploads", "api", "dry_run"}
"""Handler arguments that are no import option (injected services, the dry-run switch)."""
NOT_IN_UPLOAD = {"description": "a JSON body carries its own description"}
"""Declared options the upload takes another way (say how)."""


def _kind(hint: Any) -> tuple[str, tuple[str, ...] | None, bool]:
    """(kind, literal choices, optional) of a handler parameter's type."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = [a for a in args if a is not type(None)]
    if typing.get_origin(hint) is typing.Literal:
        return "str", tuple(str(a) for a in typing.get_args(hint)), optional
    if typing.get_origin(hint) is list:
        return "list", None, optional
    return {int: "int", float: "float", str: "str"}[hint], None, optional


def upload_mismatches(declared: list[DeclaredOption]) -> list[str]:
    """How the upload handler's query parameters differ from ``declared``."""
    fn = DatasetsController.upload_dataset.fn
    hints = typing.get_type_hints(fn)
    params = {n: p.default for n, p in inspect.signature(fn).parameters.items()
              if n not in NOT_UPLOAD_PARAMETERS}
    problems = [f"{n}: an upload parameter that ImportOptions does not declare"
                for n in params if n not in {o.name for o in declared}]
    for opt in declared:
        if opt.name in NOT_IN_UPLOAD:
            continue
        if opt.name not in params:
            problems.append(f"{opt.name}: declared but not an upload parameter")
            continue
        given = params[opt.name]
        kind, choices, optional = _kind(hints[opt.name])
        default = None if given.default is inspect.Parameter.empty or \
            type(given.default).__name__ == "_EmptyEnum" else given.default
        bounds = Bounds(ge=given.ge, gt=given.gt, le=given.le, lt=given.lt)
        if kind == "list":  # an absent list parameter is None: no items, as an empty list
            optional = opt.optional
        seen = {"kind": kind, "choices": choices,
                "optional": optional, "required": given.default is not None and default is None,
                "default": default if kind != "list" else (default or []),
                "bounds": None if bounds == Bounds() else bounds,
                "max_length": given.max_length}
        wanted = {"kind": opt.kind, "choices": opt.choices,
                  "optional": opt.optional, "required": opt.required,
                  "default": opt.default if opt.kind != "list" else (opt.default or []),
                  "bounds": opt.bounds, "max_length": opt.max_length}
        problems += [f"{opt.name}: {k} is {seen[k]!r} in the upload, {wanted[k]!r} declared"
                     for k in wanted if seen[k] != wanted[k]]
    return problems


def test_the_upload_takes_exactly_the_declared_options() -> None:
    assert upload_mismatches(declared_options()) == []


def test_the_check_flags_an_option_the_upload_misses_or_declares_otherwise() -> None:
    declared = declared_options()
    extra = dataclasses.replace(declared[-1], name="smoothing", kind="float", bounds=None)
    assert upload_mismatches([*declared, extra]) == [
        "smoothing: declared but not an upload parameter"]
    window = next(o for o in declared if o.name == "window")
    wider = dataclasses.replace(window, bounds=Bounds(ge=2, le=10**8))
    others = [o for o in declared if o.name != "window"]
    assert len(upload_mismatches([*others, wider])) == 1
    assert "window: bounds" in upload_mismatches([*others, wider])[0]
    assert upload_mismatches(others) == [
        "window: an upload parameter that ImportOptions does not declare"]


def test_the_import_command_has_a_flag_per_declared_option() -> None:
    flags = {p.name: p for p in import_command.params if isinstance(p, click.Option)}
    for opt in declared_options():
        flag = flags[opt.name]
        assert flag.help is not None and flag.help.startswith(opt.cli_help), opt.name
        assert flag.required == opt.required, opt.name
        if opt.choices is not None:  # in the declared order, as --help and refusals list them
            assert isinstance(flag.type, click.Choice)
            assert tuple(flag.type.choices) == opt.choices, opt.name
        if opt.kind in ("int", "float"):
            assert flag.type.name == ("integer" if opt.kind == "int" else "float"), opt.name
        if not opt.required and opt.kind != "list":
            assert flag.default == opt.default, opt.name
            assert flag.show_default == (opt.default not in (None, "")), opt.name
    assert "Comma-separated." in flags["columns"].help
    assert "Content-Type" not in flags["format"].help  # an upload's word, not the command's
    assert flags["normalise"].type.choices == ("zscore", "minmax", "none")


def test_the_format_and_normalisation_lists_have_one_source() -> None:
    """The upload handler's format and the readers' list are the declared ``Format``; the
    normalise choices are the import fits and ``none``, the methods a stored dataset records."""
    from synthts_core.services.importing import readers

    declared = {o.name: o for o in declared_options()}
    assert declared["format"].choices == FORMATS and readers.FORMATS is FORMATS
    hints = typing.get_type_hints(DatasetsController.upload_dataset.fn)
    assert _kind(hints["format"])[1] == FORMATS
    methods = typing.get_args(NormaliseMethod)
    assert set(methods) == {*IMPORT_FITS, "none"}
    assert set(methods) == set(typing.get_args(typing.get_type_hints(Normalisation)["method"]))


@pytest.mark.parametrize(("changes", "field", "allowed"), [
    ({"window": 1}, "window", "an integer in 2..10000000"),
    ({"window": 2.5}, "window", "an integer in 2..10000000"),
    ({"stride": 0, "window": 4}, "stride", "an integer in 1..10000000"),
    ({"holdout": 1.0}, "holdout", "a fraction in (0, 1)"),
    ({"holdout_seed": -1}, "holdout_seed", "an integer in 0..2147483647"),
    ({"normalise": "robust"}, "normalise", "zscore, minmax, none"),
    ({"format": "xlsx"}, "format", "csv, parquet, json, npy, npz, ts"),
    ({"name": "x" * 129}, "name", NAME_ALLOWED),
    ({"name": "two words"}, "name", NAME_ALLOWED),
    ({"label_column": "x" * 129}, "label_column", "at most 128"),
    ({"stride": 2}, "stride", "also --window"),
])
def test_an_option_outside_its_declaration_is_refused_by_name(changes, field,
                                                               allowed) -> None:
    from synthts_core.errors import BadInputError

    check_options(ImportOptions(name="fine", window=4, holdout=0.5))
    with pytest.raises(BadInputError) as info:
        check_options(ImportOptions(**{"name": "fine", **changes}))
    assert (info.value.field, info.value.allowed) == (field, allowed)
