"""Errors raised by the HaloITSM client and the extraction.

    HaloError
    ├── HaloConfigError (a ConfigurationError) settings or connection fields are invalid
    ├── HaloAuthError (permanent)              the token endpoint refused us (4xx)
    ├── HaloTokenResponseError                 a 200 from the token endpoint without a usable token
    ├── HaloResponseError (permanent)          a permanent HTTP failure (400, 401 after a refresh, 403, 404)
    ├── HaloDataError (permanent)              a complete response HaloITSM will send the same way again
    │                                          (invalid UTF-8 in a record)
    ├── HaloUnreachableError                   the host could not be reached, even after retries
    ├── HaloRetriesExhausted                   a transient failure (429, 5xx, timeout, drop) outlived retries
    ├── HaloPagingError (permanent)            a listing stayed inconsistent through every restart, or
    │                                          is malformed (e.g. duplicate agent or team rows)
    └── HaloSnapshotExistsError (permanent)    the raw snapshot is archived already (immutable)

"Permanent" errors subclass `halo_c1.errors.PermanentError`: the same input fails the same way, so
the DAG fails them on the first try. The others are worth a task retry.

Every message names what failed (method, path, token URL, host, entity) and never holds a secret:
callers build messages from sanitized URLs and truncated bodies only.
"""

from __future__ import annotations

from halo_c1.errors import ConfigurationError, PermanentError

MAX_MESSAGE_CHARS = 300


def truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Shorten a server message for an exception or a log line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class HaloError(Exception):
    """Base class of every HaloITSM client and extraction error."""


class HaloConfigError(HaloError, ConfigurationError):
    """Settings or Airflow connection fields are invalid; the message names each bad field."""


class HaloAuthError(HaloError, PermanentError):
    """The token endpoint rejected the credentials or scope."""


class HaloTokenResponseError(HaloError):
    """The token endpoint answered 200 but no usable token (truncated or malformed JSON).

    Seen once when a proxy or the tenant cut the answer short: the client retries it like a 5xx
    and reports it in `HaloRetriesExhausted` if it persists.
    """


class HaloResponseError(HaloError, PermanentError):
    """A permanent HTTP failure: retrying would not help."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        super().__init__(f"HaloITSM {method} {path} failed with HTTP {status}: {truncate(message)}")


class HaloDataError(HaloError, PermanentError):
    """A complete answer carries data that cannot be read as sent; the message names the record."""


class HaloUnreachableError(HaloError):
    """The HaloITSM host did not accept connections."""


class HaloBudgetStoreError(HaloError):
    """The store holding the tenant's shared request budget (`rate_limit_store`) cannot be reached;
    transient (the task is retried), and no request was sent without a slot."""


class HaloRetriesExhausted(HaloError):
    """A transient failure repeated until the retry budget ran out."""


class HaloPagingError(HaloError, PermanentError):
    """A listing could not be read consistently; `restartable` says whether reading it again may help."""

    def __init__(self, message: str, *, restartable: bool) -> None:
        self.restartable = restartable
        super().__init__(message)


class HaloSnapshotExistsError(HaloError, PermanentError):
    """The raw snapshot is complete in the lake already; archived snapshots are never rewritten."""
