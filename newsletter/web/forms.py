"""Reading request bodies defensively: forms and JSON, with clear 4xx errors, never a 500."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

MAX_FIELDS = 40
MAX_FIELD_BYTES = 16 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def media_type(request: Request) -> str:
    """The request's media type, lowercased, without parameters."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class Form:
    """A submitted form's fields: every value of every name, as text."""

    values: dict[str, list[str]]

    def first(self, name: str) -> str:
        """The first value of a field, or the empty string."""
        return (self.values.get(name) or [""])[0]

    def all(self, name: str) -> list[str]:
        """Every value of a field (checkboxes)."""
        return list(self.values.get(name) or [])


async def read_form(request: Request) -> Form:
    """The form of a POST (url-encoded or multipart, no files), or a 4xx HTTPException."""
    if media_type(request) not in FORM_TYPES:
        raise HTTPException(
            415, "send the form as application/x-www-form-urlencoded or multipart/form-data"
        )
    form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
    values: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            raise HTTPException(400, "file uploads are not accepted")
        values.setdefault(name, []).append(value)
    return Form(values)


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object of a POST, or a 4xx HTTPException that says what is wrong."""
    kind = media_type(request)
    if kind != "application/json" and not kind.endswith("+json"):
        raise HTTPException(415, "send a JSON object with Content-Type: application/json")
    body = await request.body()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise HTTPException(400, "the body is not valid UTF-8 JSON") from exc
    if not isinstance(data, dict):
        raise HTTPException(400, 'expected a JSON object such as {"email": "you@example.com"}')
    return data


def optional_text(data: dict[str, Any], key: str) -> str | None:
    """A string member of a JSON object (absent or null: None), else a 400."""
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise HTTPException(400, f"{key!r} must be a string")


def optional_strings(data: dict[str, Any], key: str) -> list[str] | None:
    """A list-of-strings member of a JSON object (absent or null: None), else a 400."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and len(value) <= 100:
        return list(value)
    raise HTTPException(400, f"{key!r} must be a list of strings")


__all__ = ["Form", "media_type", "optional_strings", "optional_text", "read_form", "read_json"]
