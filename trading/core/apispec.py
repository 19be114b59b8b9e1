"""The API's own description: one spectree object that every ``api.py`` documents its routes on.

How to document a route (every ``/api/v1`` route must be: tests/apidocs/test_completeness.py
fails on one that is not)::

    from trading.core.apispec import documented

    @api.post("/tenders/<code>/questions")
    @requires(Permission.TENDER_PARTICIPATE)
    @documented("提出澄清问题", body=QuestionIn, ok=QuestionOut, status=201, errors=("question_closed",))
    def ask_question(code: str) -> tuple[Response, int]:
        \"\"\"The docstring, if any, becomes the operation's description (keep it short).\"\"\"

- ``summary``: one line in Chinese, what the call does.
- ``body``: the pydantic model the view reads with ``web.json_body`` (documentation only: nothing is
  validated here, the view keeps its own parsing and its named 422s). ``raw`` instead, for a body
  that is not JSON: its media type (``"application/octet-stream"``), described in ``description``.
- ``ok``: the pydantic model of the success body (write it in the stage's schemas.py, exact for the
  resource, ``dict[str, Any]`` only where the body is really open); a media type string such as
  ``"application/pdf"`` for a binary answer; None for an empty one (``status=204``).
- ``status``: the success status; ``also``: more success statuses, ``{302: "说明"}``, without body.
- ``query``: a pydantic model whose fields are the query parameters the view reads.
- ``errors``: the named error codes this route may answer besides those every route gives (those
  of its permission, 401 ``unauthenticated``/``invalid_token`` and 403 ``forbidden``; with a body
  415, 400 ``malformed_json`` and 422 ``invalid_input``; with a path parameter 404 ``not_found``).
  Each must be in ``trading.core.error_codes.ERROR_CODES``, which gives its status and meaning.
- ``example``: a request body as a client would send it (shown on the reference page).

The permission is not repeated here: the document reads it from ``@requires`` (the app's endpoint
rules) and puts it in each operation. Decorator order does not matter; ``documented`` does not wrap
the view, it only records what the document says about it.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import CoreModeRef, DefsRef, GenerateJsonSchema
from spectree import Response, SpecTree
from spectree.metadata import FunctionDecorator, register_validated_function
from spectree.model_adapter.protocol import SchemaMode
from spectree.model_adapter.pydantic_adapter import PydanticModelAdapter

from trading.core.error_codes import ERROR_CODES

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/"
ATTR = "__ggzy_api_doc__"

#: The tag of each stage's routes, by the module that declares them (``trading.<stage>.…``).
STAGE_TAGS: dict[str, str] = {
    "accounts": "账户与机构",
    "audit": "审计",
    "pki": "数字证书",
    "procedures": "程序与日历",
    "credit": "信用记录",
    "tenders": "招标项目",
    "portal": "公告检索",
    "bids": "投标",
    "guarantees": "投标保证金与保函",
    "auctions": "产权交易（拍卖、挂牌、网络竞价）",
    "opening": "开标",
    "evaluation": "评标",
    "awards": "定标与公示",
    "signals": "串标迹象与评价",
    "supervision": "监督与投诉",
    "archives": "归档",
    "opendata": "开放数据",
    "exchange": "数据交换",
    "apidocs": "接口说明",
}


class Reply(BaseModel):
    """Base of the response models: a field the route returns and the model lacks is an error
    (``additionalProperties: false``), so schemathesis catches a model that drifts from the code."""

    model_config = ConfigDict(extra="forbid")


class OkOut(Reply):
    """The answer of an action that returns nothing else."""

    ok: bool = True


@dataclass(frozen=True)
class Operation:
    """What ``documented`` recorded about a view, beyond what spectree keeps."""

    summary: str
    status: int
    errors: tuple[str, ...]
    media_type: str | None = None  # a binary answer's media type
    raw: str | None = None  # a non-JSON request body's media type
    example: Mapping[str, Any] | None = None
    also: Mapping[int, str] = field(default_factory=dict)
    deprecated: bool = False


class Names:
    """One component name per class, for the whole document: the class's own, or, for a second
    class of that name (``AnswerIn`` of tenders and of guarantees), qualified by its stage."""

    def __init__(self) -> None:
        self.by_path: dict[str, str] = {}

    def of(self, path: str) -> str:
        """The name of the class at ``path`` (``trading.opening.schemas.ObjectionOut``)."""
        if path not in self.by_path:
            module, _, name = path.rpartition(".")
            taken = set(self.by_path.values())
            parts = module.split(".")
            self.by_path[path] = name if name not in taken else f"{parts[1] if len(parts) > 1 else module}.{name}"
        return self.by_path[path]


NAMES = Names()


class UniqueDefs(GenerateJsonSchema):
    """pydantic's schemas, their nested models named by ``NAMES`` rather than by class name alone,
    which would make the opening's ``ObjectionOut`` and the awards' one component."""

    def get_defs_ref(self, core_mode_ref: CoreModeRef) -> DefsRef:
        chosen = super().get_defs_ref(core_mode_ref)
        path = core_mode_ref[0].rsplit(":", 1)[0]
        if re.fullmatch(r"[\w.]+", path):  # a plain class (not a generic's parameters)
            self._prioritized_defsref_choices[chosen].insert(0, DefsRef(NAMES.of(path)))
        return chosen


class UniquelyNamed(PydanticModelAdapter):
    def json_schema(self, model: type[Any], *, ref_template: str, mode: SchemaMode = "validation") -> dict[str, Any]:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_json_schema(ref_template=ref_template, mode=mode, schema_generator=UniqueDefs)
        return super().json_schema(model, ref_template=ref_template, mode=mode)


class Reference(SpecTree):
    """spectree, used for the document only: ``describe`` records a view without wrapping it (the
    API parses its own input, and a wrapper would re-make every response, file downloads included)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        super().__init__(
            "flask",
            mode="strict",
            annotations=False,
            path="-no-ui-",  # its own UI pages (from a CDN) are never registered
            title="ggzy 公共资源交易平台 API",
            version="1",
            naming_strategy=lambda model: NAMES.of(f"{model.__module__}.{model.__qualname__}"),
            nested_naming_strategy=lambda _parent, child: child,
            model_adapter=UniquelyNamed(),  # type: ignore[arg-type]  # spectree types its protocol invariantly
        )

    def describe(
        self,
        view: Callable[..., Any],
        *,
        body: type[BaseModel] | None,
        query: type[BaseModel] | None,
        resp: Response,
        tag: str,
        deprecated: bool,
    ) -> None:
        metadata = FunctionDecorator(tags=(tag,), deprecated=deprecated, operation_id=view.__name__)
        if body is not None:
            metadata.json = self._add_model(body, mode="validation")
        if query is not None:
            metadata.query = self._add_model(query, mode="validation")
        resp.bind_model_adapter(self.model_adapter)
        for model in resp.models:
            self._add_model(model, mode="serialization")
        metadata.resp = resp
        self._function_metadata[view] = metadata
        register_validated_function(view)

    def document(self) -> dict[str, Any]:
        """spectree's document for the current app's routes (in an app context), built afresh:
        spectree moves the models' nested ``$defs`` out as it builds, so it builds on a copy."""
        with self.lock:  # two requests building at once would each see the other's half-moved models
            kept = copy.deepcopy(self.models)
            try:
                return self._generate_spec()
            finally:
                self.models = kept


reference = Reference()


def documented(
    summary: str,
    *,
    ok: type[BaseModel] | str | None = OkOut,
    status: int = 200,
    body: type[BaseModel] | None = None,
    raw: str | None = None,
    query: type[BaseModel] | None = None,
    errors: tuple[str, ...] = (),
    example: Mapping[str, Any] | None = None,
    also: Mapping[int, str] | None = None,
    deprecated: bool = False,
) -> Callable[[F], F]:
    """Record what the OpenAPI document says about a view (see the module's docstring)."""
    unknown = [c for c in errors if c not in ERROR_CODES]
    if unknown:
        raise ValueError(f"error codes not in trading/core/error_codes.py: {unknown}")

    def mark(view: F) -> F:
        stage = view.__module__.split(".")[1] if view.__module__.startswith("trading.") else "apidocs"
        media = ok if isinstance(ok, str) else None
        model = ok if not isinstance(ok, str) else None
        resp = Response(**{f"HTTP_{status}": (model, summary)}) if model else Response(f"HTTP_{status}")
        reference.describe(
            view, body=body, query=query, resp=resp, tag=STAGE_TAGS.get(stage, stage), deprecated=deprecated
        )
        op = Operation(summary, status, tuple(errors), media, raw, example, dict(also or {}), deprecated)
        setattr(view, ATTR, op)
        return view

    return mark


def operation_of(view: Any) -> Operation | None:
    return getattr(view, ATTR, None)
