"""Errors of C1 service mode.

    C1Error
    ├── C1ConfigError (PermanentError)       malformed client id/secret, bad extra, missing CA file
    │   └── C1CertificateError               C1's TLS certificate not accepted (untrusted CA, other host name)
    ├── C1AuthError (PermanentError)         the token endpoint or C1 refused our credentials
    ├── C1TaskError (PermanentError)         a task C1 sent cannot be served as given (malformed, unsupported)
    └── C1UnavailableError                   C1 did not answer (network, UNAVAILABLE); retry later

Messages never quote the client secret, the private key or a token.
"""

from __future__ import annotations

import re
import ssl

from halo_c1.errors import PermanentError

CERTIFICATE_HINT = (
    "a certificate or configuration problem, not an outage, so it is not retried: check that the "
    "conductorone_default connection names C1's host (api_host, token_url) as its certificate does, "
    "and that a private CA's PEM is in the extra 'ca_bundle' (or in the system's trust store)"
)
# What gRPC (BoringSSL) says when it refuses the peer's certificate; other handshake trouble (a reset
# mid-handshake) stays transient.
_GRPC_CERTIFICATE = re.compile(
    r"CERTIFICATE_VERIFY_FAILED[^:]*(:[^:]*)?|Hostname Verification Check failed|Peer name \S+ is not in peer certificate"
)


class C1Error(Exception):
    """Base of every service-mode failure."""


class C1ConfigError(C1Error, PermanentError, ValueError):
    """The `conductorone_default` connection is malformed; the message names the part."""


class C1CertificateError(C1ConfigError):
    """C1's TLS certificate was not accepted (untrusted CA, another host name, expired); not retried."""


def certificate_problem(error: BaseException) -> str | None:
    """Why the peer's certificate was refused, if `error` (or an error behind it) is a TLS verification
    failure (httpx wraps `ssl.SSLCertVerificationError` twice); None for any other failure."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or str(current)
        current = current.__cause__ or current.__context__
    return None


def grpc_certificate_problem(details: str | None) -> str | None:
    """The part of a gRPC UNAVAILABLE's details that says the server's certificate was refused."""
    found = _GRPC_CERTIFICATE.search(details or "")
    return found.group(0).strip() if found else None


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
