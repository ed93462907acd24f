"""A record of what loading did to the data: repairs made and rows that could not be used.

Training loads strictly (a row that cannot be repaired stops the run with a message naming file, row and column);
``finabsa data inspect`` loads leniently, so that it can list every problem of a file in one report.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from ..errors import DataError

__all__ = ["LoadEvent", "LoadLog", "SkipRow"]

logger = logging.getLogger("finabsa.data")

#: Repairs already announced in this process: a study loads the same files dozens of times, and each repair is
#: worth one warning, not one per load.
_ANNOUNCED: set[tuple[str, str]] = set()


class SkipRow(Exception):
    """Raised by a lenient ``LoadLog.problem``: the loader leaves the row out and goes on."""


@dataclass(frozen=True)
class LoadEvent:
    """One thing that happened to one cell or row: ``kind`` is e.g. ``mojibake``, ``aspects``, ``empty_text``."""

    kind: str
    location: str
    detail: str
    fatal: bool


@dataclass
class LoadLog:
    """Collects repairs and problems; in strict mode a problem raises ``DataError`` at once."""

    strict: bool = True
    events: list[LoadEvent] = field(default_factory=list)

    def repaired(self, kind: str, location: str, detail: str, warn: bool = True) -> None:
        self.events.append(LoadEvent(kind, location, detail, fatal=False))
        if warn and (location, detail) not in _ANNOUNCED:
            _ANNOUNCED.add((location, detail))
            logger.warning("%s: repaired %s", location, detail)

    def problem(self, kind: str, location: str, message: str) -> None:
        """A row that cannot be used: ``DataError`` in strict mode, else record it and raise ``SkipRow``."""
        if self.strict:
            raise DataError(f"{location}: {message}")
        self.events.append(LoadEvent(kind, location, message, fatal=True))
        raise SkipRow(location)

    def counts(self, fatal: bool | None = None) -> Counter:
        return Counter(e.kind for e in self.events if fatal is None or e.fatal == fatal)

    def of_kind(self, kind: str) -> list[LoadEvent]:
        return [e for e in self.events if e.kind == kind]
