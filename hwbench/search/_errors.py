"""Errors of the search package (all :class:`hwbench.errors.HwbenchError`)."""

from __future__ import annotations

from hwbench.errors import HwbenchError


class InvalidProposalError(HwbenchError, ValueError):
    """An algorithm proposed something that is not a cell of the task's search space."""


class BudgetExhaustedError(HwbenchError):
    """An evaluation was requested after the task's budget was spent, or would overrun it."""


class TaskNotRunnableError(HwbenchError):
    """A task needs table columns that the loaded table does not have."""


class ResultsFormatError(HwbenchError):
    """A results / trajectory file that is malformed or inconsistent with the table."""


class ExternalAlgorithmError(HwbenchError):
    """An external algorithm process broke the JSON-lines protocol, timed out or died."""
