"""Patching a target table and undoing it exactly: each target is one ``Class.method`` of the
library, wrapped with ``wrapt`` in a wrapper that copies and pickles like the original (F33),
applied when the library is imported (never importing it ourselves) and restored entry by entry
(F32, F34).
"""

from __future__ import annotations

import copy
import importlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import wrapt

from ashr_labs._log import logger
from ashr_labs._safety import internal_errors

__all__ = ["Patcher", "WrapTarget"]


@dataclass(frozen=True)
class WrapTarget:
    """One method to patch: ``module`` and ``"Class.method"``; ``operation`` keys the hooks.

    ``optional`` targets exist only in some library versions: missing, they are skipped at debug
    level; a missing required target is one warning (FAULTS.md F34).
    """

    module: str
    name: str
    operation: str
    is_async: bool = False
    optional: bool = False
    fallbacks: tuple[str, ...] = ()
    """Older homes of the same class, tried in order when ``module`` lacks it."""


# wrapt's classes are generic only in its type stubs and from 2.x on; subscript them for mypy
# alone so that the declared floor (wrapt 1.16) imports this module too.
if TYPE_CHECKING:
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper[..., Any]
    _FunctionWrapper = wrapt.FunctionWrapper[..., Any]
else:
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper
    _FunctionWrapper = wrapt.FunctionWrapper


class _BoundMethodWrapper(_BoundFunctionWrapper):
    """A patched bound method that copies and pickles the way a plain bound method does (F33)."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (getattr, (self.__self__, self.__name__))

    def __copy__(self) -> Any:
        return getattr(self.__self__, self.__name__)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return getattr(copy.deepcopy(self.__self__, memo), self.__name__)


class _MethodWrapper(_FunctionWrapper):
    __bound_function_wrapper__ = _BoundMethodWrapper

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self.__wrapped__.__reduce_ex__(protocol)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


class Patcher:
    """Applies a target table and undoes it exactly.

    Targets whose module is not imported yet are applied by a post-import hook, so instrumenting
    never imports the library itself; ``restore()`` puts back every saved ``__dict__`` entry.
    """

    def __init__(self, root_module: str) -> None:
        self._root = root_module
        self._saved: list[tuple[type, str, Any]] = []
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def patched(self) -> list[tuple[type, str, Any]]:
        return list(self._saved)

    def apply(
        self, targets: tuple[WrapTarget, ...], wrapper_for: Callable[[WrapTarget], Any]
    ) -> None:
        self._generation += 1
        generation = self._generation
        if self._root in sys.modules:
            if sys.modules[self._root] is None:  # blocked on purpose: nothing to patch
                logger.debug("ashr_labs: %s cannot be imported; not instrumented", self._root)
                return
            self._apply_now(targets, wrapper_for)
            return

        def on_import(_module: Any) -> None:
            with internal_errors():
                if generation == self._generation:
                    self._apply_now(targets, wrapper_for)

        wrapt.register_post_import_hook(on_import, self._root)

    def _apply_now(
        self, targets: tuple[WrapTarget, ...], wrapper_for: Callable[[WrapTarget], Any]
    ) -> None:
        with self._lock:
            for target in targets:
                self._apply_one(target, wrapper_for)

    def _apply_one(self, target: WrapTarget, wrapper_for: Callable[[WrapTarget], Any]) -> None:
        class_name, _, method = target.name.partition(".")
        problem = "not found"
        for module_name in (target.module, *target.fallbacks):
            try:
                owner = getattr(importlib.import_module(module_name), class_name)
                original = owner.__dict__[method]
                break
            except (ImportError, AttributeError, KeyError) as exc:
                problem = type(exc).__name__
        else:
            log = logger.debug if target.optional else logger.warning
            log(
                "ashr_labs: %s.%s not found (%s); not instrumented",
                target.module,
                target.name,
                problem,
            )
            return
        if isinstance(original, _MethodWrapper):
            return
        setattr(owner, method, _MethodWrapper(original, wrapper_for(target)))
        self._saved.append((owner, method, original))

    def restore(self) -> None:
        """Put back every original (``cls.__dict__[name] is original`` afterwards)."""
        with self._lock:
            self._generation += 1
            for owner, method, original in reversed(self._saved):
                setattr(owner, method, original)
            self._saved.clear()
