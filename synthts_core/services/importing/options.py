"""The options of an import, declared once.

``ImportOptions`` is the declaration: each field's type, default, allowed range (``Meta``
constraints) and help (``Meta.description``). ``synthts import`` builds its flags from it
(``declared_options``; ``Meta.extra["cli"]`` spells a flag that is not ``--<name>``),
``check_options`` checks a value against it whichever front end sent it (msgspec checks
``Meta`` ranges only when it decodes, and an import is built from Python values), and a test
checks the upload endpoint's query parameters against it, so an option added here and missed
there fails that test. ``Meta.extra["cli_help"]`` replaces the help on the command line where
the shared wording names something only an upload has (its Content-Type).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import msgspec
from msgspec import Meta

from synthts_core.domain import check_name
from synthts_core.errors import BadInputError

Layout = Literal["auto", "long", "wide"]
NormaliseMethod = Literal["zscore", "minmax", "none"]
"""``none`` or a key of ``normalisation.IMPORT_FITS`` (a test holds them together)."""
Format = Literal["csv", "parquet", "json", "npy", "npz", "ts"]
FORMATS: tuple[str, ...] = get_args(Format)
DEFAULT_NORMALISATION = "zscore"
MAX_NAME = 128
MAX_WINDOW = 10_000_000
Column = Annotated[str, Meta(max_length=MAX_NAME)]


class ImportOptions(msgspec.Struct, kw_only=True):
    """How to read the data (see the module docstring: this is the one declaration)."""

    name: Annotated[str, Meta(max_length=MAX_NAME, description="Name of the new dataset.")]
    format: Annotated[Format, Meta(description="File format (default: from the file's "
                                   "suffix or the upload's Content-Type).", extra={
                                       "cli_help": "File format (default: from the suffix)."})
                      ] | None = None
    layout: Annotated[Layout, Meta(description=(
        "Tables: long = one row per time point, wide = one row per series (UCR style); "
        "auto: long when a window or a time column is given, else wide; tables written by "
        "`datasets export` are recognised."))] = "auto"
    columns: Annotated[list[str] | None, Meta(
        description="Value columns (default: every numeric column without a role; a column "
        "named like an id or a time is refused).", extra={"cli": "comma"})] = None
    label_column: Annotated[Column | None, Meta(
        description="Table column holding the class label.")] = None
    series_column: Annotated[Column | None, Meta(
        description="Long tables: recording id (windows never span two).")] = None
    time_column: Annotated[Column | None, Meta(
        description="Long tables: time of each row (rows are sorted by it).")] = None
    channel_column: Annotated[Column | None, Meta(
        description="Channel of each row (long: with one value column; wide: one row per "
        "series and channel).")] = None
    window: Annotated[int, Meta(ge=2, le=MAX_WINDOW, description=(
        "Cut series into windows of this many points (long tables: default one series per "
        "recording and label run)."))] | None = None
    stride: Annotated[int, Meta(ge=1, le=MAX_WINDOW, description=(
        "Points between window starts (default: the window)."))] | None = None
    normalise: Annotated[NormaliseMethod, Meta(description=(
        "Per-channel normalisation recorded beside the values, which are stored as given "
        "(reads in normalised units apply it)."))] = DEFAULT_NORMALISATION
    tags: Annotated[list[str], Meta(description="Tags of the dataset (besides `imported`, "
                                    "which every import gets).", extra={"cli": "--tag"})
                    ] = msgspec.field(default_factory=list)
    description: Annotated[str, Meta(description="Description of the dataset (default: where "
                                     "it was imported from and how).")] = ""
    # series kept out of training: a stratified random fraction of each class, drawn with
    # holdout_seed, or every series from index holdout_from on (a TRAIN and a TEST set sent
    # as one upload); held-out files are the third way: ``import_data(holdout_sources=...)``
    holdout: Annotated[float, Meta(gt=0, lt=1, description=(
        "Keep this fraction of each class out of training (stratified, drawn with the "
        "holdout seed): evaluations score TSTR and the memorisation guard against it."))
                       ] | None = None
    holdout_from: Annotated[int, Meta(ge=1, le=10**9, description=(
        "Keep the series from this index on (in the order read, after windowing) out of "
        "training: a TRAIN and a TEST set read as one."))] | None = None
    holdout_seed: Annotated[int, Meta(ge=0, le=2**31 - 1,
                                      description="Seed of the holdout draw.")] = 0


@dataclass(frozen=True)
class Bounds:
    """The allowed range of a number (None: no bound on that side)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None


@dataclass(frozen=True)
class DeclaredOption:
    """One option as the front ends read it."""

    name: str
    kind: Literal["str", "int", "float", "list"]
    default: Any
    help: str
    cli_help: str  # the help on the command line (``help`` unless the declaration says)
    choices: tuple[str, ...] | None = None
    bounds: Bounds | None = None
    max_length: int | None = None
    optional: bool = False
    required: bool = False  # no default: the front end must ask for it
    cli: str | None = None  # how the CLI spells it when not --<name>: "comma" or a flag


def declared_options() -> list[DeclaredOption]:
    """Every field of ``ImportOptions`` with its type, default, range and help."""
    from msgspec import inspect

    info = inspect.type_info(ImportOptions)
    assert isinstance(info, inspect.StructType)
    hints = get_type_hints(ImportOptions, include_extras=True)
    out = []
    for field in info.fields:
        default = field.default_factory() if field.default_factory is not inspect.NODEFAULT \
            else (None if field.default is inspect.NODEFAULT else field.default)
        out.append(_declared(field.name, field.type, default, field.required,
                             _literal(hints[field.name])))
    return out


def _literal(hint: Any) -> tuple[str, ...] | None:
    """The values of the ``Literal`` inside ``hint``, in the declared order (msgspec's
    ``LiteralType`` sorts them; refusals and ``--help`` list them as declared)."""
    if get_origin(hint) is Literal:
        return tuple(str(v) for v in get_args(hint))
    for arg in get_args(hint):
        found = _literal(arg)
        if found is not None:
            return found
    return None


def _declared(name: str, t: Any, default: Any, required: bool,
              choices: tuple[str, ...] | None) -> DeclaredOption:
    """Unwrap a field's type: descriptions and ``extra`` sit on ``Metadata`` wrappers (around
    the union or its member), the range on the number type itself."""
    from msgspec import inspect

    notes: dict[str, Any] = {}
    optional = False

    def unwrap(t: Any) -> Any:
        while isinstance(t, inspect.Metadata):
            notes.setdefault("help", (t.extra_json_schema or {}).get("description", ""))
            notes.update({k: v for k, v in (t.extra or {}).items()})
            t = t.type
        return t

    t = unwrap(t)
    if isinstance(t, inspect.UnionType):
        optional = any(isinstance(x, inspect.NoneType) for x in t.types)
        (t,) = [x for x in t.types if not isinstance(x, inspect.NoneType)]
        t = unwrap(t)
    common = {"name": name, "default": default, "help": notes.get("help", ""),
              "cli_help": notes.get("cli_help", notes.get("help", "")),
              "optional": optional, "required": required, "cli": notes.get("cli")}
    if isinstance(t, inspect.LiteralType):
        return DeclaredOption(kind="str", choices=choices, **common)
    if isinstance(t, inspect.ListType):
        return DeclaredOption(kind="list", **common)
    if isinstance(t, inspect.StrType):
        return DeclaredOption(kind="str", max_length=t.max_length, **common)
    kind = "int" if isinstance(t, inspect.IntType) else "float"
    bounds = Bounds(ge=t.ge, gt=t.gt, le=t.le, lt=t.lt)
    return DeclaredOption(kind=kind, bounds=None if bounds == Bounds() else bounds, **common)


def bounds_text(kind: str, b: Bounds) -> str:
    """How a refusal states the range: "an integer in 2..10000000", "a fraction in (0, 1)"."""
    noun = "an integer" if kind == "int" else "a number"
    if b.gt is not None and b.lt is not None:
        if kind == "float" and (b.gt, b.lt) == (0, 1):
            noun = "a fraction"
        return f"{noun} in ({_num(b.gt)}, {_num(b.lt)})"
    low, high = b.ge if b.ge is not None else b.gt, b.le if b.le is not None else b.lt
    if low is not None and high is not None:
        return f"{noun} in {_num(low)}..{_num(high)}"
    return f"{noun} >= {_num(low)}" if low is not None else f"{noun} <= {_num(high)}"


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)


def _within(value: float, b: Bounds) -> bool:
    return not ((b.ge is not None and value < b.ge) or (b.gt is not None and value <= b.gt)
                or (b.le is not None and value > b.le) or (b.lt is not None and value >= b.lt))


def check_options(o: ImportOptions) -> None:
    """Refuse, naming the field and its allowed values, an option outside its declaration
    (the name first, by the rule every stored name follows, which also bounds its length)."""
    check_name(o.name)
    for opt in declared_options():
        value = getattr(o, opt.name)
        if value is None and opt.optional:
            continue
        if opt.choices is not None and value not in opt.choices:
            raise BadInputError(opt.name, f"got {value!r}", allowed=", ".join(opt.choices))
        if opt.kind in ("int", "float") and opt.bounds is not None:
            number = (int, float) if opt.kind == "float" else (int,)
            if isinstance(value, bool) or not isinstance(value, number) \
                    or not _within(value, opt.bounds):
                raise BadInputError(opt.name, f"got {value!r}",
                                    allowed=bounds_text(opt.kind, opt.bounds))
        if opt.max_length is not None and isinstance(value, str) \
                and len(value) > opt.max_length:
            raise BadInputError(opt.name, f"has {len(value)} characters",
                                allowed=f"at most {opt.max_length}")
    if o.stride is not None and o.window is None:
        raise BadInputError("stride", "needs a window", allowed="also --window")


