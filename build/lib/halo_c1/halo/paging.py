"""Reading Halo list responses: envelopes, ids, and a page-number paginator driven by the server.

Halo answers a list as a bare JSON array (unpaged) or as an object whose rows sit under `results`,
`agents`, `users`, `teams`, `roles` or another list-valued key, with `record_count` (the total) and the
*effective* `page_size` echoed back (the tenant may cap what was asked). The paginator never infers a
page count from the size it asked for: it stops when the rows read reach `record_count`, or at an
empty page when the server sends no `record_count`. When `record_count` is reached on a *full* page,
one more page is read to confirm the end: a `record_count` that understates the total by whole
pages would otherwise end the listing early without a trace. If that page has rows, the listing is
read on until a short page, and the understated count is logged.

Anomalies raise `HaloPagingError`. Those that a fresh read may cure (the listing changed while we
read it: `record_count` drifting, one id on two pages, more rows than `record_count`, an empty page
before the end) are `restartable`; a shape that cannot be read (no row list, rows that are not
objects) is not. The caller decides how often to restart; the paginator itself never sends a
request, sleeps or retries.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from halo_c1.halo.errors import HaloPagingError

log = logging.getLogger("halo_c1.halo")

ROW_KEYS = ("results", "agents", "users", "teams", "roles")


def normalize_id(value: Any) -> str | None:
    """An id as text: 12 and 12.0 → "12", strings as given, anything else (bool, 12.5, null…) → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        return value
    return None


def _as_count(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


@dataclass(frozen=True)
class Envelope:
    """One list response, taken apart."""

    rows: list[Any]
    record_count: int | None = None
    page_size: int | None = None
    page_no: int | None = None
    row_key: str | None = None  # None for a bare array

    @property
    def bare(self) -> bool:
        return self.row_key is None


def parse_envelope(payload: Any, path: str) -> Envelope:
    """Find the rows and the paging fields of a list response, whatever envelope the server used."""
    if isinstance(payload, list):
        return Envelope(rows=payload)
    if not isinstance(payload, dict):
        raise HaloPagingError(
            f"HaloITSM GET {path} returned a JSON {type(payload).__name__}, not a list or object with rows",
            restartable=False,
        )
    row_key = next((key for key in ROW_KEYS if isinstance(payload.get(key), list)), None)
    if row_key is None:
        row_key = next((key for key, value in payload.items() if isinstance(value, list)), None)
    record_count = _as_count(payload.get("record_count"))
    if row_key is None:
        if record_count == 0:
            return Envelope(rows=[], record_count=0, row_key="")
        raise HaloPagingError(
            f"HaloITSM GET {path} returned an object with no list of rows (keys: {sorted(payload)[:10]})",
            restartable=False,
        )
    return Envelope(
        rows=payload[row_key],
        record_count=record_count,
        page_size=_as_count(payload.get("page_size")),
        page_no=_as_count(payload.get("page_no")),
        row_key=row_key,
    )


@dataclass
class Page:
    """One page of rows, with where it came from (for logs and anomaly messages)."""

    path: str
    page_no: int
    rows: list[dict[str, Any]]
    record_count: int | None
    page_size: int | None
    rows_so_far: int


@dataclass
class HaloPagePaginator:
    """1-based `page_no` paging (`pageinate=true`), driven by what the server returns.

    >>> p = HaloPagePaginator("/api/Users", page_size=100)
    >>> params = p.init_request({"includeinactive": "true"})
    >>> while True:                                         # doctest: +SKIP
    ...     page = p.update_state(parse_envelope(get(params), p.path))
    ...     if not p.has_next_page: break
    ...     params = p.update_request(params)

    With `paged=False` no paging parameters are sent and the first answer is the whole listing.
    """

    path: str
    page_size: int = 100
    paged: bool = True
    id_key: str = "id"
    page_no: int = 0
    record_count: int | None = None
    rows_so_far: int = 0
    has_next_page: bool = True
    confirming_end: bool = False  # the last page reached record_count and was full
    count_understated: bool = False  # a page past record_count had rows: read on to a short page
    _seen_ids: dict[str, int] = field(default_factory=dict, repr=False)

    def init_request(self, params: dict[str, Any]) -> dict[str, Any]:
        self.page_no = 1
        if not self.paged:
            return dict(params)
        return {**params, "pageinate": "true", "page_no": 1, "page_size": self.page_size}

    def update_request(self, params: dict[str, Any]) -> dict[str, Any]:
        self.page_no += 1
        return {**params, "page_no": self.page_no}

    def update_state(self, envelope: Envelope) -> Page:
        """Check one page against the ones before it; set `has_next_page`; return the page."""
        where = f"HaloITSM GET {self.path} page {self.page_no}"
        rows = envelope.rows
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise HaloPagingError(
                    f"{where}: row {index} is a JSON {type(row).__name__}, not an object", restartable=False
                )
        if self.page_no > 1 and envelope.bare:
            raise self._anomaly(f"{where} is a bare array although page 1 was a paged envelope")
        if envelope.record_count is not None:
            if self.record_count is not None and envelope.record_count != self.record_count:
                raise self._anomaly(
                    f"{where}: record_count changed from {self.record_count} to {envelope.record_count} "
                    "while paging (the listing changed under us)"
                )
            self.record_count = envelope.record_count
        self._check_ids(rows, where)
        self.rows_so_far += len(rows)
        if self.confirming_end and rows and not self.count_understated:
            self.count_understated = True
            log.warning(
                "%s: record_count %s understates the listing (a page past it has %d rows); "
                "reading on until a short page",
                where,
                self.record_count,
                len(rows),
            )
        self.confirming_end = False
        if (
            self.record_count is not None
            and self.rows_so_far > self.record_count
            and not self.count_understated
        ):
            raise self._anomaly(
                f"{where}: {self.rows_so_far} rows read but record_count is {self.record_count}"
            )
        self.has_next_page = self._next_page_expected(envelope, rows, where)
        return Page(self.path, self.page_no, rows, self.record_count, envelope.page_size, self.rows_so_far)

    def _next_page_expected(self, envelope: Envelope, rows: list[Any], where: str) -> bool:
        if not self.paged or envelope.bare:
            return False
        if self.record_count is None:
            return bool(rows)
        if not rows and self.rows_so_far < self.record_count:
            raise self._anomaly(
                f"{where} is empty after {self.rows_so_far} of record_count {self.record_count} rows"
            )
        full = bool(rows) and len(rows) >= (envelope.page_size or self.page_size)
        if self.count_understated:
            return full
        if self.rows_so_far < self.record_count:
            return True
        self.confirming_end = full
        return full

    def _check_ids(self, rows: list[dict[str, Any]], where: str) -> None:
        for row in rows:
            row_id = normalize_id(row.get(self.id_key))
            if row_id is None:
                continue
            if row_id in self._seen_ids:
                raise self._anomaly(
                    f"{where}: {self.id_key} {row_id} was already returned on page {self._seen_ids[row_id]}"
                )
            self._seen_ids[row_id] = self.page_no

    @staticmethod
    def _anomaly(message: str) -> HaloPagingError:
        return HaloPagingError(message, restartable=True)
