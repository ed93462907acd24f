"""User-facing exceptions.

Every error a user can cause (bad data, bad config, incomplete run folder) is a ``FinabsaError``: the CLI prints
its message without a traceback, and tests pin the message with ``match=``. Messages say what was expected, what
was found, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "FinabsaError",
    "ConfigError",
    "DataError",
    "ModelLoadError",
    "RunFolderError",
    "UnknownNameError",
]


class FinabsaError(Exception):
    """Base class of all errors that a user can cause and fix."""


class ConfigError(FinabsaError):
    """The configuration is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")


class DataError(FinabsaError):
    """Data could not be found, read or used (missing path, missing column, unrepairable cell, empty set)."""


class ModelLoadError(FinabsaError):
    """A model could not be resolved or loaded."""


class RunFolderError(FinabsaError):
    """A run folder is missing, incomplete, or would be overwritten."""


class UnknownNameError(FinabsaError):
    """A name (task, model alias, method...) is not one of the known names."""

    def __init__(self, kind: str, name: str, known: list[str], hint: str = ""):
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        suggestion = f" Did you mean '{close[0]}'?" if close else ""
        message = f"unknown {kind} '{name}'; expected one of: {', '.join(sorted(known))}.{suggestion}"
        if hint:
            message += f" {hint}"
        super().__init__(message)
