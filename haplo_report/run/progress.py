"""The run's live progress line."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Live progress on stderr: one updating line on a terminal, plain lines otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.done = 0
        self.running: list[str] = []
        self.started_at = time.monotonic()

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started_at:.0f} s"

    def _line(self) -> None:
        running = ", ".join(self.running) or "-"
        self.stream.write(f"\r\033[K[{self.done}/{self.total}] {self._elapsed()}  running: {running}")
        self.stream.flush()

    def say(self, text: str) -> None:
        """A message of its own line."""
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        if self.tty and self.running:
            self._line()
        self.stream.flush()

    def start(self, name: str) -> None:
        self.running.append(name)
        if self.tty:
            self._line()
        else:
            self.say(f"notebook {name}: executing")

    def finish(self, name: str, status: str) -> None:
        if name in self.running:
            self.running.remove(name)
        self.done += 1
        if self.tty:
            self._line()
        else:
            self.say(f"notebook {name}: {status} ({self.done}/{self.total}, {self._elapsed()})")

    def tick(self) -> None:
        """Refresh the elapsed time on a terminal."""
        if self.tty and self.running:
            self._line()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
