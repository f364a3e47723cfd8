"""Errors of C1 service mode.

    C1Error
    ├── C1ConfigError (PermanentError)       malformed client id/secret, bad extra, missing CA file
    ├── C1AuthError (PermanentError)         the token endpoint or C1 refused our credentials
    ├── C1TaskError (PermanentError)         a task C1 sent cannot be served as given (malformed, unsupported)
    └── C1UnavailableError                   C1 did not answer (network, UNAVAILABLE); retry later

Messages never quote the client secret, the private key or a token.
"""

from __future__ import annotations

from halo_c1.errors import PermanentError


class C1Error(Exception):
    """Base of every service-mode failure."""


class C1ConfigError(C1Error, PermanentError, ValueError):
    """The `conductorone_default` connection is malformed; the message names the part."""


class C1AuthError(C1Error, PermanentError):
    """C1 refused the credentials (token endpoint non-200, or UNAUTHENTICATED after a fresh token)."""


class C1TaskError(C1Error, PermanentError):
    """A task cannot be served; `code` is the gRPC status name to finish it with."""

    def __init__(self, code: str, message: str, *, non_retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.non_retryable = non_retryable


class C1UnavailableError(C1Error):
    """C1 could not be reached or answered UNAVAILABLE; worth retrying."""
