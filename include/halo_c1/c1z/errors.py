"""c1z errors.

C1zError
├── C1zValidationError   the curated snapshot cannot become a file a Baton reader accepts
├── C1zTooLargeError     the decoded database would pass the readers' decoded-size cap
└── C1zFormatError       a file is not a readable v1 c1z
"""

from __future__ import annotations

from halo_c1.errors import PermanentError


class C1zError(PermanentError):
    """Base class of c1z packaging and reading errors; all deterministic, so never retried."""


class C1zValidationError(C1zError):
    """A curated row breaks a rule of the c1z format; names the table, the row's id and the rule."""

    def __init__(self, table: str, row_id: str, rule: str) -> None:
        self.table = table
        self.row_id = row_id
        self.rule = rule
        super().__init__(f"{table} row {row_id!r}: {rule}")


class C1zTooLargeError(C1zError):
    """The snapshot's SQLite database is larger than the readers it is for decode; nothing was written."""


class C1zFormatError(C1zError, PermanentError):
    """The bytes are not a v1 c1z this reader can open."""
