"""The Jinja2 sandbox templates run in, with a time and an output limit per render.

Editors own the templates, and a mistake (nested loops over a large ``range``, a huge power,
a string repeated a billion times) must stop with a clear message instead of hanging
``build``, ``/preview`` and the weekly job. Jinja2 has no time limit of its own; the sandbox
routes every call, attribute and item lookup, ``range`` iteration and the ``*``/``**``
operators through methods of the environment, so the deadline is checked there and on every
chunk of output (where the size is counted too). A thread cannot be stopped from outside in
Python, so the checks are what ends a runaway render: see docs/operators-guide.md.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import jinja2
from jinja2.sandbox import MAX_RANGE, SandboxedEnvironment

from newsletter.errors import TemplateLimitError

DEFAULT_TIME_LIMIT = 10.0  # seconds per template render (NEWSLETTER_TEMPLATE_TIME_LIMIT)
DEFAULT_OUTPUT_LIMIT = 5 * 1024 * 1024  # bytes of output (NEWSLETTER_TEMPLATE_OUTPUT_LIMIT)
MAX_POWER_BITS = 4096  # ``a ** b`` whose result would pass this many bits is refused
_CHECK_EVERY = 1024  # range items between two looks at the clock


@dataclass(frozen=True)
class RenderLimits:
    """How long one template render may take and how much it may write."""

    seconds: float = DEFAULT_TIME_LIMIT
    output_bytes: int = DEFAULT_OUTPUT_LIMIT


class _Budget:
    """One render's deadline (monotonic clock) and its limits, for the checks to read."""

    __slots__ = ("deadline", "limits")

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(
                f"took longer than {self.limits.seconds:g} s "
                "(NEWSLETTER_TEMPLATE_TIME_LIMIT; look for nested loops or a large range)"
            )


# The render in progress in this thread (or task): the environment is shared by threads.
_budget: ContextVar[_Budget | None] = ContextVar("newsletter_render_budget", default=None)


def _check() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.check()


class CheckedRange:
    """``range()`` in templates: at most MAX_RANGE items, and iterating it checks the clock."""

    def __init__(self, *args: int) -> None:
        self._range = range(*args)
        if len(self._range) > MAX_RANGE:
            raise OverflowError(
                f"Range too big: the sandbox allows at most {MAX_RANGE:,} items "
                f"(asked for {len(self._range):,})"
            )

    def __iter__(self) -> Iterator[int]:
        return _checked(self._range)

    def __reversed__(self) -> Iterator[int]:
        return _checked(reversed(self._range))

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: int) -> int:
        return self._range[index]

    def __contains__(self, value: object) -> bool:
        return value in self._range

    def __repr__(self) -> str:
        return repr(self._range)


def _checked(values: Iterator[int] | range) -> Iterator[int]:
    for position, value in enumerate(values):
        if position % _CHECK_EVERY == 0:
            _check()
        yield value


class LimitedEnvironment(SandboxedEnvironment):
    """A SandboxedEnvironment whose renders (through ``render_limited``) stop with
    TemplateLimitError past the time or output limit."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *args: Any, limits: RenderLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or RenderLimits()
        self.globals["range"] = CheckedRange

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Every call in a template (functions, methods, macros) looks at the clock first."""
        _check()
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``a.b`` in a template: the clock, then the sandbox's own checks."""
        _check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``a[b]`` in a template: the clock, then the sandbox's own checks."""
        _check()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """``*`` and ``**``: refuse results too large to make in time or to write out."""
        _check()
        if operator == "**" and _power_bits(left, right) > MAX_POWER_BITS:
            raise OverflowError(f"{left} ** {right} is too large (over {MAX_POWER_BITS} bits)")
        if operator == "*":
            size, times = _repeat(left, right)
            if size is not None and size * times > self.limits.output_bytes:
                raise TemplateLimitError(
                    f"a value repeated {times:,} times would pass the "
                    f"{self.limits.output_bytes:,} byte output limit "
                    "(NEWSLETTER_TEMPLATE_OUTPUT_LIMIT)"
                )
        return super().call_binop(context, operator, left, right)


def _power_bits(left: Any, right: Any) -> int:
    """About how many bits ``left ** right`` has (0 when it cannot be large)."""
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        return abs(left).bit_length() * right
    return 0


def _repeat(left: Any, right: Any) -> tuple[int | None, int]:
    """(length of the sequence, times) when ``left * right`` repeats a sequence."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple | bytes) and isinstance(times, int):
            return len(seq), times
    return None, 0


@contextmanager
def _budget_for(limits: RenderLimits) -> Iterator[_Budget]:
    budget = _Budget(limits)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def render_limited(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """``template`` rendered with ``context``, chunk by chunk: TemplateLimitError when it
    takes longer than the environment's time limit or writes more than its output limit."""
    env = template.environment
    limits = env.limits if isinstance(env, LimitedEnvironment) else RenderLimits()
    parts: list[str] = []
    written = 0
    with _budget_for(limits) as budget:
        chunks = cast(Generator[str, None, None], template.generate(context))
        for chunk in chunks:
            written += len(chunk) if chunk.isascii() else len(chunk.encode("utf-8"))
            try:
                budget.check()
                if written > limits.output_bytes:
                    raise TemplateLimitError(
                        f"wrote more than {limits.output_bytes:,} bytes "
                        "(NEWSLETTER_TEMPLATE_OUTPUT_LIMIT; look for a loop that repeats "
                        "too much)"
                    )
            except TemplateLimitError as exc:
                # Raised where the template wrote the chunk, so that the error names that
                # template and line (Jinja rewrites the traceback to template lines).
                chunks.throw(exc)
                raise
            parts.append(chunk)
    return "".join(parts)


__all__ = [
    "DEFAULT_OUTPUT_LIMIT",
    "DEFAULT_TIME_LIMIT",
    "CheckedRange",
    "LimitedEnvironment",
    "RenderLimits",
    "render_limited",
]
