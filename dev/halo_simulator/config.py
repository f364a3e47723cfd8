"""`SimulatorConfig`: one tenant, one set of credentials, and the switches for the spec's open questions."""

from __future__ import annotations

from dataclasses import dataclass

from .faults import Faults
from .tenant import Tenant, TenantSpec
from .writes import LIST_SEMANTICS

AGENT_ENVELOPES = ("bare", "results", "agents")
_DEFAULT_TENANT = TenantSpec()  # frozen, so one shared default is safe
_NO_FAULTS = Faults()


@dataclass(frozen=True)
class SimulatorConfig:
    """How the simulated tenant behaves. Each switch is one plausible reading of `haloitsm-api.md` §6.

    - `tenant`: a spec to generate, or a ready `Tenant` (served live, not copied).
    - `require_tenant`: the token endpoint demands `?tenant=<tenant_name>` (a form field `tenant`
      is accepted too). A tenant that is given but wrong is always `invalid_client`.
    - `agent_envelope` (§6.1): `"bare"` is an old build that ignores `pageinate` on `/api/Agent`
      and always returns a bare array; `"results"` / `"agents"` answer `pageinate=true` with
      `{"page_no","page_size","record_count","<key>":[...]}` (a bare array without `pageinate`).
    - `membership_inline` (§6.2): `True` puts `teams`/`departments` (and `roles` with
      `includeroles=true`) on `/api/Agent` list rows; `False` puts none of them there, so a client
      must use `/api/Agent/{id}?includedetails=true`, `/api/Team/{id}?includeagents=true`,
      `/api/Agent?role=` or `/api/Agent?department_id=`.
    - `page_cap` (§6.8): the largest page served; the effective size is echoed as `page_size`.
    - `token_expires_in`: seconds a token lives, as returned in `expires_in` and enforced.
    - `list_semantics` (c1-service-mode.md §6 [O]): what a posted `teams`/`departments`/`roles`
      list does on `POST /api/Agent`: `"replace"`, `"merge"`, `"ignore_empty"` or
      `"drop_removal"` (writes.py).
    - `reject_inherited_rows`: 400 for a posted row carrying a `role_id` (else it is ignored).
    """

    tenant: TenantSpec | Tenant = _DEFAULT_TENANT
    faults: Faults = _NO_FAULTS
    client_id: str = "halo-c1-dev"
    client_secret: str = "halo-c1-dev-secret"
    tenant_name: str = "demo"
    require_tenant: bool = False
    agent_envelope: str = "bare"
    membership_inline: bool = True
    page_cap: int = 100
    token_expires_in: int = 3600
    list_semantics: str = "replace"
    reject_inherited_rows: bool = False

    def __post_init__(self) -> None:
        if self.agent_envelope not in AGENT_ENVELOPES:
            raise ValueError(f"agent_envelope must be one of {AGENT_ENVELOPES}, not {self.agent_envelope!r}")
        if self.page_cap < 1:
            raise ValueError("page_cap must be >= 1")
        if self.list_semantics not in LIST_SEMANTICS:
            raise ValueError(f"list_semantics must be one of {LIST_SEMANTICS}, not {self.list_semantics!r}")
        if self.token_expires_in < 1:
            raise ValueError("token_expires_in must be >= 1")

    def __repr__(self) -> str:  # the secret stays out of logs and assertion messages
        return (
            f"SimulatorConfig(client_id={self.client_id!r}, client_secret='***', tenant_name={self.tenant_name!r}, "
            f"require_tenant={self.require_tenant}, agent_envelope={self.agent_envelope!r}, "
            f"membership_inline={self.membership_inline}, page_cap={self.page_cap}, "
            f"token_expires_in={self.token_expires_in}, list_semantics={self.list_semantics!r}, "
            f"reject_inherited_rows={self.reject_inherited_rows}, faults={self.faults!r})"
        )
