"""A form built from a parameter schema (``Param.to_json`` as served by the API).

Each field is checked as it is edited, with the core's own ``Param.validate`` rebuilt from the
JSON, so the message under a field is the one the server would give and an invalid form never
sends a request. Errors the server finds that the schema cannot (cross-field checks) are put on
their field too with ``show_error``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from synthts_core.errors import BadInputError
from synthts_core.schema import Param

_PARAM_FIELDS = {f.name for f in dataclasses.fields(Param)}


class FormInvalid(Exception):
    """The form holds at least one invalid value; ``errors`` maps field name to message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


def param_from_json(data: Mapping[str, Any]) -> Param:
    """Rebuild the core's ``Param`` from its JSON so validation is the server's own."""
    kwargs = {k: v for k, v in data.items() if k in _PARAM_FIELDS}
    if kwargs.get("choices") is not None:
        kwargs["choices"] = tuple(kwargs["choices"])
    return Param(**kwargs)


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_text(param: Param, text: str) -> Any:
    """Turn what was typed into a value of the param's kind; raise ``BadInputError``."""
    text = text.strip()
    if not text:
        if param.nullable:
            return None
        raise BadInputError(param.name, "is required", allowed=param.allowed())
    try:
        if param.kind == "int":
            return int(text)
        if param.kind == "float":
            return float(text)
        if param.kind == "float_list":
            parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
            return [float(p) for p in parts]
    except ValueError:
        raise BadInputError(param.name, f"got {text!r}", allowed=param.allowed()) from None
    return text


def _dom_id(name: str) -> str:
    return "param-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


class ParamField(Vertical):
    """One labelled input with its help line and its error line."""

    def __init__(self, param: Param, value: Any = None) -> None:
        super().__init__(classes="param-field")
        self.param = param
        self.initial = param.default if value is None else value
        self.error = ""

    def compose(self) -> ComposeResult:
        p = self.param
        yield Label(f"{p.name} [dim]({p.kind})[/]", classes="param-label")
        if p.kind == "bool":
            yield Switch(bool(self.initial), id=_dom_id(p.name))
        elif p.kind == "choice":
            options = [(str(c), c) for c in p.choices or ()]
            yield Select(options, value=self.initial, allow_blank=False, id=_dom_id(p.name),
                         compact=True)
        else:
            yield Input(_text_of(self.initial), placeholder=p.allowed(), id=_dom_id(p.name),
                        compact=True)
        help_text = p.help or p.allowed()
        if p.help and p.kind not in ("bool", "choice"):
            help_text += f" · {p.allowed()}"
        yield Static(help_text, classes="param-help", markup=False)
        yield Static("", classes="param-error", markup=False)

    @property
    def control(self) -> Widget:
        return self.query_one(f"#{_dom_id(self.param.name)}")

    def read(self) -> Any:
        """The checked value, or ``BadInputError`` naming this field."""
        control = self.control
        if isinstance(control, Switch):
            raw: Any = control.value
        elif isinstance(control, Select):
            raw = control.value
        else:
            raw = parse_text(self.param, control.value)
        return self.param.validate(raw)

    def set_error(self, message: str | None) -> None:
        self.error = message or ""
        self.query_one(".param-error", Static).update(self.error)
        self.set_class(bool(message), "-invalid")


class ParamForm(Vertical):
    """All fields of one schema; posts ``ParamForm.Changed`` after every edit."""

    class Changed(Message):
        """Values after an edit; ``values`` is None while any field is invalid."""

        def __init__(self, form: ParamForm, values: dict[str, Any] | None) -> None:
            super().__init__()
            self.form = form
            self.values = values

        @property
        def control(self) -> ParamForm:
            return self.form

    def __init__(self, schema: Sequence[Mapping[str, Any]] = (), *,
                 values: Mapping[str, Any] | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.params = [param_from_json(p) for p in schema]
        self.initial_values = dict(values or {})

    def compose(self) -> ComposeResult:
        if not self.params:
            yield Static("no parameters", classes="param-help")
        for p in self.params:
            yield ParamField(p, self.initial_values.get(p.name))

    def field(self, name: str) -> ParamField:
        for f in self.query(ParamField):
            if f.param.name == name:
                return f
        raise KeyError(name)

    def errors(self) -> dict[str, str]:
        """Check every field, show each message on its field, return them by name."""
        errors: dict[str, str] = {}
        for f in self.query(ParamField):
            try:
                f.read()
            except BadInputError as exc:
                errors[f.param.name] = exc.message
                f.set_error(exc.message)
            else:
                f.set_error(None)
        return errors

    def values(self) -> dict[str, Any]:
        """All values, checked; raises ``FormInvalid`` (messages already on the fields)."""
        errors = self.errors()
        if errors:
            raise FormInvalid(errors)
        return {f.param.name: f.read() for f in self.query(ParamField)}

    def show_error(self, name: str, message: str) -> bool:
        """Put a server-side message on field ``name`` (dotted paths use their last part)."""
        for candidate in (name, name.rsplit(".", 1)[-1]):
            try:
                self.field(candidate).set_error(message)
                return True
            except KeyError:
                continue
        return False

    def _edited(self, control: Widget) -> None:
        for f in self.query(ParamField):
            if f.control is control:
                try:
                    f.read()
                except BadInputError as exc:
                    f.set_error(exc.message)
                else:
                    f.set_error(None)
        valid = not any(f.has_class("-invalid") for f in self.query(ParamField))
        values = None
        if valid:
            try:
                values = {f.param.name: f.read() for f in self.query(ParamField)}
            except BadInputError:
                values = None
        self.post_message(self.Changed(self, values))

    @on(Input.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    def _on_edit(self, event: Input.Changed | Switch.Changed | Select.Changed) -> None:
        event.stop()
        self._edited(event.control)
