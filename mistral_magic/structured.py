"""``--schema``: ask for JSON that matches a schema, and check the reply against it.

A schema is a JSON-schema dict or a pydantic (2.x) model class from the
notebook. It is sent as ``response_format`` ``json_schema`` with ``strict``,
as Mistral's own client does, and the reply is checked when it is complete: a
pydantic class validates with pydantic and gives an instance; a dict validates
with ``jsonschema`` and gives the parsed JSON. Neither is a dependency: a class
brings pydantic with it, and ``jsonschema`` comes with Jupyter (nbformat needs
it); a dict schema without it is refused before anything is sent, since a reply
that is never checked would look checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ReplyValidationError
from .wire import strict_schema

__all__ = ["Schema", "json_reply"]


def json_reply(text: str, kept_in: str | None = None) -> Any:
    """``--json``: the parsed reply; a reply that is not JSON fails as a schema mismatch does."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _mismatch(f"the reply is not valid JSON ({exc})", text, kept_in) from None


def _mismatch(problem: str, text: str, kept_in: str | None) -> ReplyValidationError:
    kept = f"above and in {kept_in}" if kept_in else "above (-o NAME would keep it in NAME)"
    return ReplyValidationError(f"{problem}. Its text stays {kept}.", text=text)


@dataclass(frozen=True)
class Schema:
    """A JSON schema with a name, and the pydantic class it came from, if any."""

    name: str
    schema: dict[str, Any]
    model: Any = None

    @classmethod
    def from_namespace(cls, name: str, namespace: Mapping[str, Any]) -> Schema:
        """The schema the user's variable ``name`` holds."""
        if name not in namespace:
            raise ValueError(f"--schema: no variable named {name}. Define a JSON-schema dict or a "
                             "pydantic model class first.")
        value = namespace[name]
        api_name = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64]
        if isinstance(value, type) and hasattr(value, "model_json_schema"):
            return cls.of_model(value, api_name)
        if isinstance(value, dict):
            _check_schema(name, value)
            return cls(api_name, value)
        raise ValueError(f"--schema: {name} is a {type(value).__name__}; give a JSON-schema dict "
                         "or a pydantic model class.")

    @classmethod
    def of_model(cls, model: Any, name: str | None = None) -> Schema:
        """A pydantic class's schema, made strict as Mistral's client sends it (the API accepts only strict ones)."""
        return cls(name or model.__name__, strict_schema(model.model_json_schema()), model)

    def response_format(self) -> dict[str, Any]:
        return {"type": "json_schema",
                "json_schema": {"name": self.name, "schema": self.schema, "strict": True}}

    def parse(self, text: str, kept_in: str | None = None) -> Any:
        """The validated reply: a model instance, or the parsed JSON.

        A reply that does not match is an error that says where its text is kept (``kept_in``).
        """
        value, problem = self._from_model(text) if self.model is not None else self._from_dict(text)
        if problem:
            raise _mismatch(f"the reply does not match the schema {self.name}: {problem}", text, kept_in)
        return value

    def _from_model(self, text: str) -> tuple[Any, str | None]:
        from pydantic import ValidationError

        try:
            return self.model.model_validate_json(text), None
        except ValidationError as exc:
            return None, _pydantic_problem(exc.errors())

    def _from_dict(self, text: str) -> tuple[Any, str | None]:
        try:
            value = json.loads(text)
        except ValueError as exc:
            return None, f"it is not JSON ({exc})"
        return value, _jsonschema_problem(self.schema, value)


def _check_schema(name: str, schema: dict[str, Any]) -> None:
    try:
        import jsonschema
    except ImportError:
        raise ValueError(f"--schema: checking replies against the dict {name} needs jsonschema: "
                         "pip install jsonschema, or give a pydantic model class.") from None
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"--schema: {name} is not a valid JSON schema: {exc.message}.") from None


def _jsonschema_problem(schema: dict[str, Any], value: Any) -> str | None:
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def _pydantic_problem(errors: list[Any]) -> str:
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    said = f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    return said + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
