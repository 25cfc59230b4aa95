"""Parameter schemas as plain data.

One ``ParamSchema`` describes the parameters of a signal generator, the hyper-parameter space of a
GAN architecture or the options of a metric. The API serialises it for clients, the TUI builds
forms from it, and the training service turns it into a Ray Tune search space. ``validate``
returns the parameters with defaults filled in or raises ``BadInputError`` naming the field and
its allowed range. ``validate_params`` is a signal generator's whole check: its schema, then
its own cross-field ``check``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from synthts_core.errors import BadInputError

if TYPE_CHECKING:
    from synthts_core.interfaces import SignalGenerator

ParamKind = Literal["float", "int", "bool", "str", "choice", "float_list"]


@dataclass(frozen=True)
class Param:
    """One parameter. Bounds are inclusive unless ``*_exclusive`` says otherwise.

    ``search`` holds the values a hyper-parameter search may try (for a choice: a subset of
    ``choices``; for numbers: ``(low, high)`` sampled uniformly, log-uniformly when ``log``).
    For ``float_list`` the bounds apply to each element and ``min_items``/``max_items`` to
    the length.
    """

    name: str
    kind: ParamKind
    default: Any
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_exclusive: bool = False
    high_exclusive: bool = False
    choices: tuple[Any, ...] | None = None
    log: bool = False
    min_items: int = 0
    max_items: int | None = None
    nullable: bool = False

    def allowed(self) -> str:
        """Human-readable description of the accepted values, used in error messages."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices or ())
        if self.kind == "str":
            return "a string"
        rng = self._range_text()
        if self.kind == "float_list":
            items = f"{self.min_items}..{self.max_items if self.max_items is not None else 'any'}"
            return f"a list of {items} numbers" + (f", each {rng}" if rng else "")
        kind = "an integer" if self.kind == "int" else "a number"
        return f"{kind} {rng}".strip()

    def _range_text(self) -> str:
        if self.low is None and self.high is None:
            return ""
        left = "(" if self.low_exclusive else "["
        right = ")" if self.high_exclusive else "]"
        lo = "-inf" if self.low is None else _fmt(self.low)
        hi = "inf" if self.high is None else _fmt(self.high)
        return f"in {left}{lo}, {hi}{right}"

    def validate(self, value: Any, prefix: str = "") -> Any:
        """Coerce and check one value; raises ``BadInputError`` naming ``prefix + name``."""
        fname = prefix + self.name
        if value is None:
            if self.nullable:
                return None
            raise BadInputError(fname, "is required", allowed=self.allowed())
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise BadInputError(fname, f"got {value!r}", allowed=self.allowed(), value=value)
        if self.kind == "str":
            if isinstance(value, str):
                return value
            raise BadInputError(fname, f"got {value!r}", allowed=self.allowed(), value=value)
        if self.kind == "choice":
            if value in (self.choices or ()):
                return value
            raise BadInputError(fname, f"got {value!r}", allowed=self.allowed(), value=value)
        if self.kind == "float_list":
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise BadInputError(fname, f"got {value!r}", allowed=self.allowed(), value=value)
            items = [self._number(v, fname) for v in value]
            if len(items) < self.min_items or (
                self.max_items is not None and len(items) > self.max_items
            ):
                raise BadInputError(
                    fname, f"has {len(items)} items", allowed=self.allowed(), value=value
                )
            return items
        return self._number(value, fname)

    def _number(self, value: Any, fname: str) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInputError(fname, f"got {value!r}", allowed=self.allowed(), value=value)
        if self.kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise BadInputError(
                        fname, f"got {value!r}", allowed=self.allowed(), value=value
                    )
                value = int(value)
        else:
            value = float(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise BadInputError(fname, f"got {value!r}", allowed=self.allowed(), value=value)
        too_low = self.low is not None and (
            value <= self.low if self.low_exclusive else value < self.low
        )
        too_high = self.high is not None and (
            value >= self.high if self.high_exclusive else value > self.high
        )
        if too_low or too_high:
            raise BadInputError(fname, f"got {value!r}", allowed=self.allowed(), value=value)
        return value

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "help": self.help,
            "allowed": self.allowed(),
        }
        for key in ("low", "high", "min_items", "max_items"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        data["low_exclusive"] = self.low_exclusive
        data["high_exclusive"] = self.high_exclusive
        data["nullable"] = self.nullable
        if self.choices is not None:
            data["choices"] = list(self.choices)
        if self.log:
            data["log"] = True
        return data


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class ParamSchema:
    """An ordered set of parameters."""

    params: tuple[Param, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate parameter names in schema: {sorted(dupes)}")

    def __iter__(self):
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(self, values: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
        """Fill defaults, reject unknown names, check each value. Never partially applies."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            raise BadInputError(
                prefix + unknown[0],
                "is not a parameter of this schema",
                allowed=", ".join(self.names) or "no parameters",
            )
        out: dict[str, Any] = {}
        for p in self.params:
            out[p.name] = p.validate(values.get(p.name, p.default), prefix)
        return out

    def model_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """What a model architecture's ``build`` reads from a config: this space's values
        (defaults for the missing ones, checked; other keys ignored) plus the data shape and
        seed every family needs (``length``, ``n_channels``, ``n_classes``, ``seed``,
        ``total_epochs``), as plain ints."""
        checked = self.validate({k: v for k, v in config.items() if k in self.names})
        for key in ("length", "n_channels"):
            if int(config.get(key, 0)) < 1:
                raise BadInputError(key, f"got {config.get(key)!r}", allowed="an integer >= 1")
        return {**checked, "length": int(config["length"]),
                "n_channels": int(config["n_channels"]),
                "n_classes": int(config.get("n_classes") or 0),
                "seed": int(config.get("seed", 0)),
                "total_epochs": int(config.get("total_epochs") or 0)}

    def to_json(self) -> list[dict[str, Any]]:
        return [p.to_json() for p in self.params]


def float_param(name: str, default: float, low: float | None = None, high: float | None = None,
                help: str = "", **kw: Any) -> Param:
    return Param(name, "float", default, help, low, high, **kw)


def int_param(name: str, default: int, low: int | None = None, high: int | None = None,
              help: str = "", **kw: Any) -> Param:
    return Param(name, "int", default, help, low, high, **kw)


def choice_param(name: str, default: Any, choices: Sequence[Any], help: str = "",
                 **kw: Any) -> Param:
    return Param(name, "choice", default, help, choices=tuple(choices), **kw)


def bool_param(name: str, default: bool, help: str = "") -> Param:
    return Param(name, "bool", default, help)


def prefixed(exc: BadInputError, prefix: str) -> BadInputError:
    """The same error with its field placed under ``prefix`` (``classes[2].signal.params.``),
    so a generator's own cross-field check still names the full path."""
    if not prefix or exc.field.startswith(prefix):
        return exc
    message = exc.message.removeprefix(f"{exc.field}: ")
    if exc.allowed:
        message = message.removesuffix(f" (allowed: {exc.allowed})")
    return BadInputError(prefix + exc.field, message, allowed=exc.allowed, value=exc.value)


def validate_params(generator: SignalGenerator, params: Mapping[str, Any] | None,
                    prefix: str = "") -> dict[str, Any]:
    """Schema check (bounds, types, unknown names) then the generator's own cross-field check."""
    if params is not None and not isinstance(params, Mapping):
        raise BadInputError(prefix.rstrip(".") or "params", f"got {params!r}",
                            allowed="an object of parameter values")
    checked = generator.schema.validate(params, prefix)
    check = getattr(generator, "check", None)
    if check is not None:
        try:
            check(checked)
        except BadInputError as exc:
            raise prefixed(exc, prefix) from None
    return checked
