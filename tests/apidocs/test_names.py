"""One component name per class: two classes of one name never share a schema."""

from __future__ import annotations

from pydantic import BaseModel

from trading.core.apispec import NAMES, UniquelyNamed


def _model(module: str, name: str, field: type) -> type[BaseModel]:
    return type(name, (BaseModel,), {"__module__": module, "__annotations__": {"value": field}})


def test_a_second_class_of_a_name_is_qualified_by_its_stage() -> None:
    first = _model("trading.alpha.schemas", "ProbeItem", int)
    second = _model("trading.beta.schemas", "ProbeItem", str)
    a = NAMES.of(f"{first.__module__}.{first.__qualname__}")
    b = NAMES.of(f"{second.__module__}.{second.__qualname__}")
    assert a == "ProbeItem" and b == "beta.ProbeItem"
    assert NAMES.of(f"{first.__module__}.{first.__qualname__}") == a  # stable


def test_nested_models_keep_their_own_names() -> None:
    """The opening's ObjectionOut inside CeremonyOut and the awards' inside PublicityOut were one
    component; each parent now refers to its own."""
    item_a = _model("trading.gamma.schemas", "NestedProbe", int)
    item_b = _model("trading.delta.schemas", "NestedProbe", str)
    parent_a = type("ParentA", (BaseModel,), {"__module__": "trading.gamma.schemas", "__annotations__": {"x": item_a}})
    parent_b = type("ParentB", (BaseModel,), {"__module__": "trading.delta.schemas", "__annotations__": {"x": item_b}})
    adapter = UniquelyNamed()
    ref = "#/components/schemas/{model}"
    a = adapter.json_schema(parent_a, ref_template=ref, mode="serialization")
    b = adapter.json_schema(parent_b, ref_template=ref, mode="serialization")
    assert a["properties"]["x"]["$ref"] != b["properties"]["x"]["$ref"]
    assert set(a["$defs"]) | set(b["$defs"]) == {"NestedProbe", "delta.NestedProbe"}
