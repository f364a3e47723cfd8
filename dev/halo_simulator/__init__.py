"""A HaloITSM API simulator: a real HTTP server with a seeded tenant and switchable faults.

It implements `shared/spec/haloitsm-api.md` independently of the project's client (it imports
nothing from `include/`), so each checks the other. Where the spec is open (§6), `SimulatorConfig`
switches between the plausible readings.

    from dev.halo_simulator import Faults, ServerError, SimulatorConfig, TenantSpec, running_simulator

    with running_simulator(SimulatorConfig(tenant=TenantSpec(seed=1), agent_envelope="results")) as sim:
        ...  # talk to sim.base_url with client id/secret sim.config.client_id / client_secret
        sim.set_faults(Faults(server_error=ServerError(status=502, times=2, path="/api/Users")))

Writes: `POST /api/Agent` upserts agents; what a posted `teams`/`roles` list means is switchable
(`SimulatorConfig(list_semantics=...)`, see `writes.py`), inherited rows follow the roles after
every write, and `sim.write_counts()` / `GET /_sim/stats` count the writes.

`python -m dev.halo_simulator --help` serves one from the command line.
"""

from .app import KNOWN_SCOPES, LoggedRequest, SimulatorState, create_app
from .config import AGENT_ENVELOPES, SimulatorConfig
from .faults import (
    DropConnection,
    DuplicateRow,
    Fault,
    Faults,
    MalformedJson,
    RateLimit,
    RecordCountDrift,
    ServerError,
    SlowResponse,
    TokenExpiry,
)
from .server import Simulator, running_simulator
from .tenant import UNASSIGNED_AGENT_ID, Membership, Tenant, TenantSpec, build_tenant
from .writes import LIST_SEMANTICS

__all__ = [
    "AGENT_ENVELOPES",
    "KNOWN_SCOPES",
    "LIST_SEMANTICS",
    "UNASSIGNED_AGENT_ID",
    "DropConnection",
    "DuplicateRow",
    "Fault",
    "Faults",
    "LoggedRequest",
    "MalformedJson",
    "Membership",
    "RateLimit",
    "RecordCountDrift",
    "ServerError",
    "Simulator",
    "SimulatorConfig",
    "SimulatorState",
    "SlowResponse",
    "Tenant",
    "TenantSpec",
    "TokenExpiry",
    "build_tenant",
    "create_app",
    "running_simulator",
]
