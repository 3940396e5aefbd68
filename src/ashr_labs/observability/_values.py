"""The values pipeline: any Python value -> bounded, masked, redacted JSON text.

Every input, output and metadata value that reaches a span goes through :func:`prepare_value`
(ours, and the instrumentors'), so processors users add to ``client.tracer_provider`` only ever
see masked values (FAULTS.md F36). The walk is iterative (no recursion, F26), never consumes
generators or iterators, and turns anything hostile into a placeholder naming its type (F21,
F23, F24). Output is strict JSON; a value past the byte cap is cut so that it stays valid JSON
and records its original size (F11).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from itertools import islice
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from .._settings import ASHR_LABS_CAPTURE_CONTENT, env_flag

if TYPE_CHECKING:
    from ._options import TracingOptions

__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "REDACTED",
    "TRUNCATED_KEY",
    "capture_enabled",
    "clean_text",
    "dumps_bounded",
    "prepare_value",
    "redact_text",
    "safe_type_name",
    "text_of",
    "to_json_value",
]

MAX_DEPTH = 64
"""Containers nested deeper than this are replaced by a marker."""
MAX_ITEMS = 1000
"""Items kept per list/set/tuple and keys kept per mapping; the rest are counted in a marker."""
MAX_NODES = 50_000
"""Values visited per call; past this every remaining value becomes a marker."""
MAX_REPR_CHARS = 1000

REDACTED = "[REDACTED]"
TRUNCATED_KEY = "_ashr_truncated"
"""Key of the wrapper object that replaces a value cut to the byte cap."""
MORE_KEYS_KEY = "_ashr_more_keys"

_SECRET_KEYS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api_key", "api-key", "apikey"}
)
_SECRET_PATTERN = re.compile(
    r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"
    r"|\btp_[A-Za-z0-9_\-]{6,}"
    r"|\bsk-[A-Za-z0-9_\-]{16,}"
    r"|\bAIza[0-9A-Za-z_\-]{30,}"
)


def redact_text(text: str) -> str:
    """Replace API keys, bearer tokens and provider keys inside ``text``."""
    if "tp_" not in text and "sk-" not in text and "AIza" not in text:
        lowered = text.lower()
        if "bearer" not in lowered:
            return text
    return _SECRET_PATTERN.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    found = match.group(0)
    if found[:6].lower() == "bearer":
        return "Bearer " + REDACTED
    return REDACTED


def safe_type_name(value: Any) -> str:
    """The value's type name; never raises (a metaclass can make ``__name__`` hostile)."""
    try:
        name = type(value).__name__
        return name if type(name) is str else "object"
    except Exception:
        return "object"


def _placeholder(value: Any, why: str) -> str:
    return f"<{safe_type_name(value)}: {why}>"


def clean_text(text: str) -> str:
    """Exact ``str`` with lone surrogates replaced by U+FFFD (strict JSON, F24)."""
    if type(text) is not str:
        text = str.__str__(text)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class _Exit:
    """Stack marker: the container with this id is no longer on the current path."""

    __slots__ = ("obj_id",)

    def __init__(self, obj_id: int) -> None:
        self.obj_id = obj_id


class _Walker:
    """One iterative depth-first conversion with cycle, depth, item and node bounds."""

    def __init__(self, redact: bool) -> None:
        self.redact = redact
        self.active: set[int] = set()
        self.keepalive: list[Any] = []
        self.nodes = 0

    def run(self, value: Any) -> Any:
        root: list[Any] = [None]
        stack: list[Any] = [(value, root, 0, 0, False)]
        while stack:
            frame = stack.pop()
            if type(frame) is _Exit:
                self.active.discard(frame.obj_id)
                continue
            obj, out, key, depth, secret = frame
            if secret:
                out[key] = REDACTED
                continue
            self.nodes += 1
            if self.nodes > MAX_NODES:
                out[key] = "<value budget exhausted>"
                continue
            try:
                out[key] = self._convert(obj, depth, stack)
            except Exception:
                out[key] = _placeholder(obj, "unserializable")
        return root[0]

    def _text(self, text: str) -> str:
        text = clean_text(text)
        return redact_text(text) if self.redact else text

    def _convert(self, obj: Any, depth: int, stack: list[Any]) -> Any:
        tp = type(obj)
        if obj is None or tp is bool:
            return obj
        if tp is str:
            return self._text(obj)
        if tp is int:
            return obj
        if tp is float:
            return _float(obj)
        if tp is dict or tp is list or tp is tuple:
            return self._push_container(obj, tp, depth, stack)
        if issubclass(tp, enum.Enum):
            member_value = obj.value
            if type(member_value) in (str, int, float, bool):
                return self._convert(member_value, depth, stack)
            return self._text(str(obj.name))
        if issubclass(tp, str):
            return self._text(obj)
        if issubclass(tp, bool | int):
            return int.__index__(obj) if not issubclass(tp, bool) else bool(obj)
        if issubclass(tp, float):
            return _float(float.__float__(obj))
        return self._convert_other(obj, tp, depth, stack)

    def _convert_other(self, obj: Any, tp: type, depth: int, stack: list[Any]) -> Any:
        if issubclass(tp, bytes | bytearray | memoryview):
            return f"<bytes: {memoryview(obj).nbytes} bytes>"
        if issubclass(tp, _dt.datetime | _dt.date | _dt.time):
            return obj.isoformat()
        if issubclass(tp, _dt.timedelta):
            return _float(obj.total_seconds())
        if issubclass(tp, decimal.Decimal | uuid.UUID | PurePath | complex):
            return self._text(str(obj))
        if issubclass(tp, type):
            return self._text(f"<class {getattr(obj, '__qualname__', safe_type_name(obj))}>")
        if issubclass(tp, Iterator) or _is_generator_like(obj):
            return _placeholder(obj, "iterator, not consumed")
        return self._push_container(obj, tp, depth, stack)

    def _push_container(self, obj: Any, tp: type, depth: int, stack: list[Any]) -> Any:
        """Containers (and objects with fields): emit an empty copy, queue its children."""
        if depth >= MAX_DEPTH:
            return f"<max depth {MAX_DEPTH} reached: {safe_type_name(obj)}>"
        obj_id = id(obj)
        if obj_id in self.active:
            return f"<cycle: {safe_type_name(obj)}>"
        items = self._container(obj, tp)
        if items is None:
            return self._leaf_object(obj, tp)
        self.active.add(obj_id)
        self.keepalive.append(obj)
        stack.append(_Exit(obj_id))
        kind, entries, extra = items
        if kind == "dict":
            out_dict: dict[str, Any] = {}
            for k, v in entries:
                out_dict[k] = None
                stack.append((v, out_dict, k, depth + 1, k.lower() in _SECRET_KEYS))
            if extra:
                out_dict[MORE_KEYS_KEY] = f"<{extra} more keys>"
            return out_dict
        out_list: list[Any] = [None] * len(entries)
        for index in range(len(entries) - 1, -1, -1):
            stack.append((entries[index], out_list, index, depth + 1, False))
        if extra:
            out_list.append(f"<{extra} more items>")
        return out_list

    def _container(self, obj: Any, tp: type) -> tuple[str, list[Any], int] | None:
        """Snapshot a container's entries (capped) without calling overridable methods."""
        if issubclass(tp, dict):
            size = dict.__len__(obj)
            pairs = list(islice(dict.items(obj), MAX_ITEMS))
            return "dict", [(self._key(k), v) for k, v in pairs], size - len(pairs)
        if issubclass(tp, list):
            size = list.__len__(obj)
            return "list", list.__getitem__(obj, slice(0, MAX_ITEMS)), max(0, size - MAX_ITEMS)
        if issubclass(tp, tuple):
            size = tuple.__len__(obj)
            entries = list(tuple.__getitem__(obj, slice(0, MAX_ITEMS)))
            return "list", entries, max(0, size - MAX_ITEMS)
        if issubclass(tp, set | frozenset):
            base: Any = set if issubclass(tp, set) else frozenset
            size = base.__len__(obj)
            entries = list(islice(base.__iter__(obj), MAX_ITEMS))
            return "list", entries, max(0, size - MAX_ITEMS)
        if issubclass(tp, Mapping):
            pairs = list(islice(obj.items(), MAX_ITEMS + 1))
            extra = 1 if len(pairs) > MAX_ITEMS else 0
            return "dict", [(self._key(k), v) for k, v in pairs[:MAX_ITEMS]], extra
        dumped = _structured_form(obj, tp)
        if dumped is not None:
            return "dict", [(self._key(k), v) for k, v in dumped], 0
        return None

    def _key(self, key: Any) -> str:
        if type(key) is str:
            return self._text(key)
        if type(key) is float:
            as_float = _float(key)
            return as_float if type(as_float) is str else json.dumps(as_float)
        if key is None or type(key) in (bool, int):
            return json.dumps(key)
        text = text_of(key)
        if text is None:
            return _placeholder(key, "unprintable key")
        return self._text(text)

    def _leaf_object(self, obj: Any, tp: type) -> Any:
        """Anything else, sentinels such as ``NOT_GIVEN`` included, is shown by its repr."""
        return self._text(_safe_repr(obj))


def _has_state(obj: Any) -> bool:
    try:
        return bool(object.__getattribute__(obj, "__dict__"))
    except Exception:
        return False


def text_of(obj: Any, convert: Callable[[Any], str] = str) -> str | None:
    """``str(obj)`` (or ``repr``) as an exact ``str``; None when it raises or gives anything else
    (a ``str`` subclass could carry hostile methods)."""
    try:
        text = convert(obj)
    except Exception:
        return None
    return text if type(text) is str else None


def _safe_repr(obj: Any) -> str:
    text = text_of(obj, repr)
    if text is None:
        return _placeholder(obj, "unrepresentable")
    if len(text) > MAX_REPR_CHARS:
        text = text[:MAX_REPR_CHARS] + "..."
    return text


def _is_generator_like(obj: Any) -> bool:
    tp = type(obj)
    return hasattr(tp, "__anext__") or hasattr(tp, "send") and hasattr(tp, "throw")


_OBJECT_REPR: Any = object.__repr__


def _structured_form(obj: Any, tp: type) -> list[tuple[Any, Any]] | None:
    """Fields of a Pydantic model, a dataclass instance, or a plain object with ``__dict__``."""
    dump = getattr(tp, "model_dump", None)
    if callable(dump):
        try:
            return _fields(obj.model_dump(mode="json"))
        except Exception:  # a field JSON mode cannot render: take Python values, walk them
            return _fields(obj.model_dump())
    if dataclasses.is_dataclass(tp):
        return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    legacy = getattr(tp, "dict", None)
    if callable(legacy) and hasattr(tp, "__fields__"):
        return _fields(obj.dict())
    if getattr(tp, "__repr__", None) is _OBJECT_REPR and _has_state(obj):
        state = object.__getattribute__(obj, "__dict__")
        if type(state) is dict:
            public = [(k, v) for k, v in state.items() if not str(k).startswith("_")]
            return public[:MAX_ITEMS]
    return None


def _fields(data: Any) -> list[tuple[Any, Any]]:
    """A model's dump as (key, value) pairs; a dump that is not a dict is one ``value``."""
    return list(data.items()) if type(data) is dict else [("value", data)]


def to_json_value(value: Any, *, redact: bool = True) -> Any:
    """Convert any Python value to plain JSON data (bounded, strict, redacted by default)."""
    return _Walker(redact).run(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
"""Built once: ``json.dumps`` with options builds a new encoder on every call."""


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def dumps_bounded(value: Any, max_bytes: int) -> str:
    """Serialise JSON data; past ``max_bytes`` cut it to a valid, marked, smaller JSON form.

    Long strings are shortened first (keeping structure), then long lists; if that is still too
    big, a preview of the text is kept. The wrapper records the original size in bytes.
    """
    text = _dumps(value)
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size <= max_bytes:
        return text
    budget = max(64, max_bytes - 160)
    for string_cap, item_cap in ((budget // 2, MAX_ITEMS), (budget // 8, 100), (256, 20), (64, 5)):
        shrunk = _shrink(value, string_cap, item_cap)
        candidate = _dumps({TRUNCATED_KEY: {"original_bytes": size}, "value": shrunk})
        if len(candidate.encode("utf-8")) <= max_bytes:
            return candidate
    preview = text[: max(0, budget // 4)]
    candidate = _dumps({TRUNCATED_KEY: {"original_bytes": size}, "preview": preview})
    while len(candidate.encode("utf-8")) > max_bytes and preview:
        preview = preview[: len(preview) // 2]
        candidate = _dumps({TRUNCATED_KEY: {"original_bytes": size}, "preview": preview})
    return candidate


def _shrink(value: Any, string_cap: int, item_cap: int) -> Any:
    """Copy of JSON data with strings and lists cut (iterative; depth is already bounded)."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        obj, out, key = stack.pop()
        tp = type(obj)
        if tp is str:
            if len(obj) > string_cap:
                obj = f"{obj[:string_cap]}...<cut {len(obj) - string_cap} chars>"
            out[key] = obj
        elif tp is dict:
            new_dict: dict[str, Any] = {}
            for index, (k, v) in enumerate(obj.items()):
                if index >= item_cap:
                    new_dict[MORE_KEYS_KEY] = f"<{len(obj) - item_cap} more keys>"
                    break
                new_dict[k] = None
                stack.append((v, new_dict, k))
            out[key] = new_dict
        elif tp is list:
            kept = obj[:item_cap]
            new_list: list[Any] = [None] * len(kept)
            for index, item in enumerate(kept):
                stack.append((item, new_list, index))
            if len(obj) > item_cap:
                new_list.append(f"<{len(obj) - item_cap} more items>")
            out[key] = new_list
        else:
            out[key] = obj
    return root[0]


def capture_enabled(options: TracingOptions | None) -> bool:
    """Whether input/output content is captured: the option, else the environment (default on)."""
    if options is not None and options.capture_content is not None:
        return options.capture_content
    return env_flag(os.environ.get(ASHR_LABS_CAPTURE_CONTENT), True)


def _apply_mask(value: Any, mask: Callable[[Any], Any] | None) -> Any:
    if mask is None:
        return value
    try:
        return mask(value)
    except Exception as exc:
        return f"<masked: mask raised {safe_type_name(exc)}>"


_DEFAULT_MAX_VALUE_BYTES = 64 * 1024
_FAST_ITEMS = 64
_FAST_DEPTH = 3
_PLAIN = (str, int, bool, type(None))
_SECRET_HINTS = tuple(
    hint
    for hint in ("tp_", "sk-", "aiza", "bearer", *sorted(_SECRET_KEYS))
    # "x-api-key" holds "api-key": checking the shorter one is enough.
    if not any(other != hint and other in hint for other in ("bearer", *_SECRET_KEYS))
)
"""Lower-case fragments: text holding none of them matches no secret check (neither the
redactor's patterns nor the secret key names), so the fast path may keep it as it is."""


def _may_hold_secret(text: str) -> bool:
    lowered = text.lower()
    for hint in _SECRET_HINTS:
        if hint in lowered:
            return True
    return False


def _is_plain(value: Any, depth: int = 0) -> bool:
    """Small, shallow, exactly-typed JSON data (bounded recursion: depth <= 3)."""
    tp = type(value)
    if tp in _PLAIN:
        return True
    if tp is float:
        return math.isfinite(value)
    if depth >= _FAST_DEPTH:
        return False
    # Plain loops, not all(generator): this runs on every value the caller's thread sets.
    if tp is dict:
        if len(value) > _FAST_ITEMS:
            return False
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in _PLAIN and not _is_plain(item, depth + 1):
                return False
        return True
    if tp is list:
        if len(value) > _FAST_ITEMS:
            return False
        for item in value:
            if type(item) not in _PLAIN and not _is_plain(item, depth + 1):
                return False
        return True
    return False


def _fast_path(value: Any, max_bytes: int) -> str | None:
    """The common case (small plain JSON, no secrets) without the general walk; else None."""
    if not _is_plain(value):
        return None
    text = _dumps(value)
    if text.isascii():
        if len(text) > max_bytes or _may_hold_secret(text):
            return None
        return text
    if len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        return None
    if _may_hold_secret(text):
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def prepare_value(
    value: Any, options: TracingOptions | None = None, *, content: bool = True
) -> str | None:
    """Turn a value into the JSON text set on a span attribute, or ``None`` to set nothing.

    Steps: content capture switch (``content=True`` values only: inputs, outputs, prompts,
    completions, tool arguments), the user's ``mask`` hook (a raising mask yields a placeholder,
    never the raw value), safe conversion, the default secret redactor, and the byte cap.
    Never raises.
    """
    if value is None:
        return None
    if content and not capture_enabled(options):
        return None
    mask = options.mask if options is not None else None
    max_bytes = options.max_value_bytes if options is not None else _DEFAULT_MAX_VALUE_BYTES
    try:
        masked = _apply_mask(value, mask)
        fast = _fast_path(masked, max_bytes)
        if fast is not None:
            return fast
        converted = to_json_value(masked)
        return dumps_bounded(converted, max_bytes)
    except Exception:
        # Last resort: the walker already guards each node, so this is a bug in this module.
        return _dumps(_placeholder(value, "unserializable"))
