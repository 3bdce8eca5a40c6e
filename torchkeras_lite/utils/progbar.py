"""Keras 3's progress bar, display only: it knows nothing of models.

Final state of a verbose=1 line::

    77/77 ━━━━━━━━━━━━━━━━━━━━ 1s 11ms/step - accuracy: 0.7135 - loss: 0.6276

verbose=2 writes one line when the bar finishes::

    77/77 - 1s - 11ms/step - accuracy: 0.7135 - loss: 0.6276

On a terminal the line is redrawn in place (at most every ``interval`` seconds) with Keras's
colours; elsewhere (a log file, CI) only the finished line is written, with no control codes.
"""
from __future__ import annotations

import math
import sys
import time
from typing import IO, Sequence


def format_value(value: float) -> str:
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_step_time(seconds: float, unit: str = "step") -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


class Progbar:
    """A progress bar over ``target`` steps.

    Args:
        target: total number of steps, or None if unknown.
        width: bar width in characters (20).
        verbose: 1 (bar) or 2 (one line at the end); 0 prints nothing.
        interval: minimum seconds between redraws.
        stream: where to write (default ``sys.stdout`` at write time).
        dynamic: redraw in place; default: whether the stream is a terminal.
    """

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1,
                 interval: float = 0.05, unit_name: str = "step",
                 stream: IO[str] | None = None, dynamic: bool | None = None) -> None:
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self._stream = stream
        out = self.stream
        self.dynamic = (hasattr(out, "isatty") and out.isatty()) if dynamic is None else dynamic
        self._start = time.time()
        self._after_first: float | None = None
        self._last_draw = 0.0
        self._prev_width = 0

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stdout

    def due(self, current: int) -> bool:
        """Whether an update at ``current`` would be drawn (so values are worth computing)."""
        if self.verbose != 1 or not self.dynamic:
            return False
        return time.time() - self._last_draw >= self.interval

    def _step_time(self, current: int, now: float) -> float:
        if not current:
            return 0.0
        if self._after_first is not None and current > 1:
            per_step = (now - self._after_first) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._after_first = now
        return per_step

    def update(self, current: int, values: Sequence[tuple[str, float]] = (),
               finalize: bool | None = None) -> None:
        """Show progress ``current`` with ``(name, value)`` pairs, shown as given."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.time()
        per_step = self._step_time(current, now)
        if self.verbose == 1 and (finalize or (self.dynamic and now - self._last_draw >= self.interval)):
            self._draw(current, values, finalize, now, per_step)
            self._last_draw = now
        elif self.verbose == 2 and finalize:
            self._line(current, values, now, per_step)

    def _counter(self, current: int) -> str:
        digits = int(math.log10(self.target)) + 1
        return f"{current:>{digits}d}/{self.target}"

    def _values(self, values: Sequence[tuple[str, float]]) -> str:
        return "".join(f" - {k}: {format_value(float(v))}" for k, v in values)

    def _draw(self, current, values, finalize, now, per_step) -> None:
        bold, green, grey, reset = ("\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m") \
            if self.dynamic else ("", "", "", "")
        if self.target:
            done = int(self.width * current / self.target)
            bar = (f"{bold}{self._counter(current)}{reset} {green}{'━' * done}{reset}"
                   f"{grey}{'━' * (self.width - done)}{reset}")
            plain_bar = len(self._counter(current)) + 1 + self.width
        else:
            bar = f"{current:7d}/Unknown"
            plain_bar = len(bar)
        if self.target and not finalize:
            eta = per_step * (self.target - current)
            if eta > 3600:
                clock = f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
            elif eta > 60:
                clock = f"{int(eta // 60)}:{int(eta % 60):02d}"
            else:
                clock = f"{int(eta)}s"
        else:
            clock = f"{now - self._start:.0f}s"
        info = f" {bold}{clock}{reset} {format_step_time(per_step, self.unit_name)}"
        info += self._values(values)
        width = plain_bar + len(info) - (len(bold) + len(reset))
        text = bar + info
        if self.dynamic:
            pad = " " * max(0, self._prev_width - width)
            text = "\r" + text + pad + ("\n" if finalize else "")
        else:
            text += "\n"
        self._prev_width = width
        self.stream.write(text)
        self.stream.flush()

    def _line(self, current, values, now, per_step) -> None:
        counter = self._counter(current) if self.target else str(current)
        text = (f"{counter} - {now - self._start:.0f}s - "
                f"{format_step_time(per_step, self.unit_name)}{self._values(values)}\n")
        self.stream.write(text)
        self.stream.flush()
