"""The OAuth2 client-credentials flow, against httpx.MockTransport."""

from urllib.parse import parse_qs, quote, quote_plus

import httpx
import pytest
from pydantic import SecretStr

from halo_c1.halo.auth import HaloAuth
from halo_c1.halo.errors import HaloAuthError, HaloTokenResponseError

TOKEN_URL = "https://acme.example/auth/token?tenant=acme"
SECRET = "s3cr3t-value-never-shown"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenServer:
    """Issues numbered tokens; the API echoes which token it saw, or 401s a token it has revoked."""

    def __init__(self, expires_in=3600, token_response=None):
        self.issued = 0
        self.token_bodies = []
        self.revoked: set[str] = set()
        self.expires_in = expires_in
        self.token_response = token_response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            self.token_bodies.append((request.headers["content-type"], parse_qs(request.content.decode())))
            if self.token_response is not None:
                return self.token_response
            self.issued += 1
            return httpx.Response(
                200, json={"access_token": f"tok-{self.issued}", "expires_in": self.expires_in}
            )
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not token or token in self.revoked:
            return httpx.Response(401, text="Unauthorized")
        return httpx.Response(200, json={"token": token})


def client_for(server, clock=None):
    auth = HaloAuth(TOKEN_URL, "client", SecretStr(SECRET), "all", clock=clock or FakeClock())
    return httpx.Client(
        base_url="https://acme.example", auth=auth, transport=httpx.MockTransport(server)
    ), auth


def test_token_request_is_form_encoded_client_credentials_and_reused():
    server = TokenServer()
    client, _ = client_for(server)
    assert client.get("/api/Agent").json() == {"token": "tok-1"}
    assert client.get("/api/Team").json() == {"token": "tok-1"}
    assert server.issued == 1
    content_type, form = server.token_bodies[0]
    assert content_type == "application/x-www-form-urlencoded"
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["client"],
        "client_secret": [SECRET],
        "scope": ["all"],
    }


def test_token_is_refreshed_before_it_expires():
    clock = FakeClock()
    server = TokenServer(expires_in=600)
    client, _ = client_for(server, clock)
    client.get("/api/Agent")
    clock.now += 545  # inside the last 60 s of its 600 s life
    assert client.get("/api/Agent").json() == {"token": "tok-2"}
    clock.now += 100  # still fresh: no further token
    assert client.get("/api/Agent").json() == {"token": "tok-2"}


def test_a_401_fetches_a_new_token_once_and_resends():
    server = TokenServer()
    client, _ = client_for(server)
    client.get("/api/Agent")
    server.revoked.add("tok-1")
    response = client.get("/api/Agent")
    assert response.json() == {"token": "tok-2"}
    assert server.issued == 2


def test_a_second_401_is_returned_not_looped():
    server = TokenServer()
    client, _ = client_for(server)
    server.revoked.update({"tok-1", "tok-2", "tok-3"})
    assert client.get("/api/Agent").status_code == 401
    assert server.issued == 2


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(401, json={"error": "invalid_client"}),
            r"refused client 'client' \(HTTP 401\): invalid_client",
        ),
        (
            httpx.Response(400, json={"error": "invalid_scope", "error_description": "bad scope"}),
            "invalid_scope: bad scope",
        ),
    ],
)
def test_token_errors_name_the_token_url_and_halos_error_but_not_the_secret(response, expected):
    client, _ = client_for(TokenServer(token_response=response))
    with pytest.raises(HaloAuthError, match=expected) as info:
        client.get("/api/Agent")
    assert TOKEN_URL in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>login</html>"),
        httpx.Response(200, headers={"content-type": "application/json"}, text='{"access_tok'),
        httpx.Response(200, json={"token_type": "Bearer", "expires_in": 3600}),
    ],
)
def test_a_200_without_a_usable_token_is_a_transient_token_response_error(response):
    client, _ = client_for(TokenServer(token_response=response))
    with pytest.raises(HaloTokenResponseError, match="answered HTTP 200 without an access_token") as info:
        client.get("/api/Agent")
    assert not isinstance(info.value, HaloAuthError)
    assert TOKEN_URL in str(info.value)


def test_transient_token_failure_is_handed_back_to_the_caller():
    client, _ = client_for(TokenServer(token_response=httpx.Response(503, text="busy")))
    response = client.get("/api/Agent")
    assert response.status_code == 503
    assert response.request.url.path == "/auth/token"


def test_repr_hides_the_secret():
    _, auth = client_for(TokenServer())
    assert SECRET not in repr(auth)


@pytest.mark.parametrize(
    ("value", "expected"), [(120, 120.0), ("90", 90.0), (None, 3600.0), (0, 3600.0), ("x", 3600.0)]
)
def test_parse_expires_in_defaults_to_an_hour(value, expected):
    assert HaloAuth.parse_expires_in(value) == expected


@pytest.mark.parametrize("secret", [SECRET, "p@ss w0rd/+&=x"])
def test_a_token_endpoint_echoing_the_request_form_never_reveals_the_secret(secret):
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad request: {request.content.decode()}")

    auth = HaloAuth(TOKEN_URL, "client", SecretStr(secret), "all", clock=FakeClock())
    client = httpx.Client(base_url="https://acme.example", auth=auth, transport=httpx.MockTransport(echo))
    with pytest.raises(HaloAuthError, match=r"refused client 'client' \(HTTP 400\): bad request") as info:
        client.get("/api/Agent")
    message = str(info.value)
    assert "client_secret=" in message
    for form in (secret, quote_plus(secret), quote(secret, safe="")):
        assert form not in message


def test_the_token_request_carries_its_own_timeout():
    """Requests built inside an auth flow do not get the client's timeout; a hung endpoint must not hang us."""
    auth = HaloAuth(TOKEN_URL, "client", SecretStr(SECRET), timeout=httpx.Timeout(2.5, connect=1.5))
    timeout = auth.build_token_request().extensions["timeout"]
    assert timeout == {"connect": 1.5, "read": 2.5, "write": 2.5, "pool": 2.5}
