import pytest

from synthts_core.errors import BadInputError
from synthts_core.schema import Param, ParamSchema, choice_param, float_param, int_param

SCHEMA = ParamSchema((
    float_param("frequency", 1.0, 0.0, 100.0, low_exclusive=True, help="cycles per unit"),
    int_param("order", 2, 1, 10, help="AR order"),
    choice_param("kernel", "SE", ["SE", "RQ"], help="kernel"),
    Param("coefficients", "float_list", [0.5], "AR coefficients", -1.0, 1.0, min_items=1,
          max_items=3),
))


def test_defaults_fill_in():
    assert SCHEMA.validate({}) == {"frequency": 1.0, "order": 2, "kernel": "SE",
                                   "coefficients": [0.5]}


@pytest.mark.parametrize(("field", "value", "allowed"), [
    ("frequency", 0.0, "(0, 100]"),
    ("frequency", float("nan"), "(0, 100]"),
    ("frequency", "fast", "(0, 100]"),
    ("order", 11, "[1, 10]"),
    ("order", 2.5, "[1, 10]"),
    ("kernel", "Matern", "'SE', 'RQ'"),
    ("coefficients", [0.5, 2.0], "each in [-1, 1]"),
    ("coefficients", [], "1..3"),
])
def test_bad_values_name_the_field_and_the_range(field, value, allowed):
    with pytest.raises(BadInputError) as info:
        SCHEMA.validate({field: value})
    assert info.value.field == field
    assert allowed in str(info.value)


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(BadInputError) as info:
        SCHEMA.validate({"frequncy": 3})
    assert "frequncy" in str(info.value) and "frequency" in str(info.value)


def test_integral_float_is_accepted_for_int():
    assert SCHEMA.validate({"order": 3.0})["order"] == 3


def test_bool_is_not_a_number():
    with pytest.raises(BadInputError):
        SCHEMA.validate({"order": True})


def test_schema_json_is_plain_data():
    data = SCHEMA.to_json()
    assert data[0]["name"] == "frequency" and data[0]["low_exclusive"] is True
    assert data[2]["choices"] == ["SE", "RQ"]


def test_duplicate_parameter_names_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        ParamSchema((int_param("a", 1, help="x"), int_param("a", 2, help="y")))
