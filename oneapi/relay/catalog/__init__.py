"""Channel types and the built-in model catalogue (spec 1.3, 1.5.1, 1.5.4, 4.1, 4.7).

The tables live in :mod:`oneapi.relay.catalog.data`, generated from the reference by
``scripts/gen_catalog.py``.  Everything the helpers return is computed once, at import;
a call is a dictionary lookup (plus, for :func:`list_models`, a sort of the hits).

Reference behaviours reproduced here (``controller/model.go``):

* The catalogue (:data:`CATALOGUE_ORDER`, served whole by ``GET /api/channel/models``)
  contains **duplicates**: a model listed by several adaptors appears once per adaptor,
  e.g. ``claude-3-opus-20240229`` is owned by ``anthropic`` *and* by ``aws``.
* ``GET /v1/models`` walks that catalogue and emits *every* entry whose id is available,
  so such a model is listed once per owner (``list_models(..., dedupe=False)``).
* ``GET /v1/models/{model}`` reads a map filled from the catalogue in order, so the
  *last* owner wins (``catalogue_entry``).

Returned dicts and lists are shared, precomputed objects meant for serialisation: do
not mutate them (the exceptions, which return fresh lists, say so).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from oneapi.relay.catalog.data import (
    ADAPTOR_MODELS,
    CATALOGUE_ORDER,
    CATALOGUE_SOURCES,
    CHANNEL_TYPE_MODELS,
    CHANNEL_TYPES,
    NIL_MODEL_LIST_ADAPTORS,
    REFERENCE_COMMIT,
)

__all__ = [
    "ADAPTOR_MODELS",
    "CATALOGUE_ORDER",
    "CATALOGUE_SOURCES",
    "CHANNEL_TYPES",
    "CHANNEL_TYPE_MODELS",
    "CUSTOM_OWNER",
    "MODEL_CREATED",
    "MODEL_PERMISSION",
    "NIL_MODEL_LIST_ADAPTORS",
    "REFERENCE_COMMIT",
    "ChannelType",
    "ModelEntry",
    "catalogue_entry",
    "channel_type",
    "channel_types",
    "default_base_url",
    "full_catalogue",
    "is_catalogue_model",
    "list_models",
    "models_by_type",
    "models_for_type",
]

#: ``created`` of every model object.
MODEL_CREATED: Final = 1626777600
#: ``owned_by`` of available models that are not in the catalogue.
CUSTOM_OWNER: Final = "custom"

#: The single permission object every catalogue entry carries (spec 1.3), in the
#: reference's field order.
MODEL_PERMISSION: Final[dict[str, Any]] = {
    "id": "modelperm-LwHkVFn8AcMItP432fKKDIKJ",
    "object": "model_permission",
    "created": MODEL_CREATED,
    "allow_create_engine": True,
    "allow_sampling": True,
    "allow_logprobs": True,
    "allow_search_indices": False,
    "allow_view": True,
    "allow_fine_tuning": False,
    "organization": "*",
    "group": None,
    "is_blocking": False,
}

#: One model object of ``/v1/models`` (``id, object, created, owned_by, permission, root,
#: parent`` - the reference's field order).
ModelEntry = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChannelType:
    """One row of the channel type table (spec 4.1)."""

    id: int
    #: Go constant name in ``relay/channeltype`` (e.g. ``"DeepSeek"``, ``"VertextAI"``).
    name: str
    #: Label of the web UI's channel type selector.
    label: str
    #: Default base URL, ``""`` when the type has none.
    base_url: str
    #: Adaptor implementation (reference package name): ``"openai"`` for every
    #: OpenAI-compatible type, else ``"anthropic"``, ``"gemini"``, ``"ali"``, ...
    api_type: str
    #: What the adaptor's ``GetChannelName()`` returns for this type: the key of
    #: :data:`ADAPTOR_MODELS` holding its default models (``"deepseek"``, ``"azure"``, ...).
    channel_name: str


_PERMISSIONS: Final[list[dict[str, Any]]] = [MODEL_PERMISSION]


def _entry(model_id: str, owner: str) -> ModelEntry:
    return {
        "id": model_id,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": owner,
        "permission": _PERMISSIONS,
        "root": model_id,
        "parent": None,
    }


_TYPES: Final[dict[int, ChannelType]] = {row[0]: ChannelType(*row) for row in CHANNEL_TYPES}
_TYPE_LIST: Final[tuple[ChannelType, ...]] = tuple(_TYPES.values())
_BASE_URLS: Final[dict[int, str]] = {tid: t.base_url for tid, t in _TYPES.items()}
_TYPE_MODELS: Final[dict[int, tuple[str, ...]]] = {
    tid: models or () for tid, models in CHANNEL_TYPE_MODELS.items()
}
_MODELS_BY_TYPE: Final[dict[int, list[str] | None]] = {
    tid: None if models is None else list(models) for tid, models in CHANNEL_TYPE_MODELS.items()
}

#: The full catalogue, duplicates included (GET /api/channel/models).
_CATALOGUE: Final[list[ModelEntry]] = [_entry(mid, owner) for mid, owner in CATALOGUE_ORDER]


def _positions() -> dict[str, tuple[int, ...]]:
    found: dict[str, list[int]] = {}
    for i, (mid, _) in enumerate(CATALOGUE_ORDER):
        found.setdefault(mid, []).append(i)
    return {mid: tuple(idx) for mid, idx in found.items()}


#: model id -> indexes of its catalogue entries, ascending.
_POSITIONS: Final[dict[str, tuple[int, ...]]] = _positions()
#: model id -> entry of GET /v1/models/{model}: filled in catalogue order, last one wins.
_BY_ID: Final[dict[str, ModelEntry]] = {entry["id"]: entry for entry in _CATALOGUE}


def channel_type(type_id: int) -> ChannelType | None:
    """The channel type with this id, or ``None`` for an id outside ``0..51``."""
    return _TYPES.get(type_id)


def channel_types() -> tuple[ChannelType, ...]:
    """All channel types, by id (0 = ``Unknown`` included)."""
    return _TYPE_LIST


def default_base_url(type_id: int) -> str:
    """Default upstream base URL of a channel type (``""`` if none or unknown type)."""
    return _BASE_URLS.get(type_id, "")


def models_for_type(type_id: int) -> list[str]:
    """Default model list of a channel type, as a **new** list.

    ``[]`` for types whose list is empty (Coze) or nil (Proxy) and for ids the
    ``GET /api/models`` map lacks (0 and unknown ids).
    """
    return list(_TYPE_MODELS.get(type_id, ()))


def models_by_type() -> dict[int, list[str] | None]:
    """``data`` of ``GET /api/models``: channel type id (1..51) -> default models.

    The Proxy type (43) maps to ``None`` (the reference's nil slice, JSON ``null``).  Keys
    are in numeric order; Go's encoder writes them sorted as strings (``"1"``, ``"10"``,
    ``"11"``, ...), which JSON clients do not observe.
    """
    return _MODELS_BY_TYPE


def is_catalogue_model(model_id: str) -> bool:
    return model_id in _BY_ID


def catalogue_entry(model_id: str) -> ModelEntry | None:
    """The model object ``GET /v1/models/{model}`` returns, or ``None`` if unknown.

    For a model several adaptors list, ``owned_by`` is the **last** catalogue owner, as in
    the reference (``claude-3-opus-20240229`` -> ``"aws"``, ``deepseek-r1`` ->
    ``"baiduv2"``); :func:`list_models` reports every owner instead.
    """
    return _BY_ID.get(model_id)


def list_models(names: Iterable[str], *, dedupe: bool = False) -> list[ModelEntry]:
    """``data`` of ``GET /v1/models`` for the caller's available model names.

    Catalogue models come first, in catalogue order - once per catalogue entry, like the
    reference, so a model with several owners is listed several times unless *dedupe*
    (then only its first entry is kept).  Names missing from the catalogue follow, in
    first-seen order (the reference uses Go map order, i.e. random), as ``owned_by:
    "custom"`` objects with ``permission: null``.  Repeated names are reported once.
    """
    hits: list[int] = []
    unknown: list[str] = []
    for name in dict.fromkeys(names):
        found = _POSITIONS.get(name)
        if found is None:
            unknown.append(name)
        elif dedupe:
            hits.append(found[0])
        else:
            hits.extend(found)
    hits.sort()
    out = [_CATALOGUE[i] for i in hits]
    out.extend(
        {
            "id": name,
            "object": "model",
            "created": MODEL_CREATED,
            "owned_by": CUSTOM_OWNER,
            "permission": None,
            "root": name,
            "parent": None,
        }
        for name in unknown
    )
    return out


def full_catalogue() -> list[ModelEntry]:
    """``data`` of ``GET /api/channel/models``: the whole catalogue, duplicates included."""
    return _CATALOGUE
