"""The official client's objects as the API reads them, so code written for ``mistralai`` sends what it sends.

Its messages, tools, response formats and predictions are pydantic models whose
Python names are not always the API's (``JSONSchema.schema_definition`` goes out
as ``schema``). Any pydantic model is sent by its wire names, optional fields not
given left out; dicts may use either name. ``mistralai`` itself is never imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["strict_schema", "to_wire"]

# Python names of the client's models that the API knows by another name, by the object they sit in.
_JSON_SCHEMA_NAMES = {"schema_definition": "schema"}


def to_wire(value: Any) -> Any:
    """``value`` as JSON the API reads: pydantic models dumped by alias, within dicts and lists too."""
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):  # a pydantic model, or a response read back as it came
        return to_wire(_model_json(value) if hasattr(type(value), "model_fields") else dump())
    if isinstance(value, Mapping):
        wired = {key: to_wire(item) for key, item in value.items()}
        schema = wired.get("json_schema")
        if isinstance(schema, dict):
            wired["json_schema"] = {_JSON_SCHEMA_NAMES.get(key, key): item for key, item in schema.items()}
        return wired
    if isinstance(value, (list, tuple)):
        return [to_wire(item) for item in value]
    return value


def _model_json(model: Any) -> dict[str, Any]:
    """A model's fields by their wire names; an optional field left unset (None) is not sent."""
    data: dict[str, Any] = model.model_dump(by_alias=True, mode="json")
    for name, info in type(model).model_fields.items():
        wire = info.serialization_alias or info.alias or name
        if name not in model.model_fields_set and data.get(wire, False) is None:
            del data[wire]
    return data


def strict_schema(schema: Any) -> Any:
    """A copy of a JSON schema with ``additionalProperties: false`` on every object, as the API asks of a
    pydantic class's schema (Mistral's client sends it so)."""
    if isinstance(schema, dict):
        strict = {key: strict_schema(item) for key, item in schema.items()}
        if strict.get("type") == "object":
            strict["additionalProperties"] = False
        return strict
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    return schema
