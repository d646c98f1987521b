"""A local imitation of the Quectel/Acceleronix end-user OpenAPI share endpoints.

It is a real aiohttp server on loopback, used by `sharebatch demo`, by operators rehearsing a
batch (`sharebatch simulate`) and by integration tests. It models the assumptions of
docs/platform-api.md, with seeded, reproducible latency, rate limiting and faults::

    sim = await start_simulator(SimulatorConfig(seed=1, fault_rate=0.1))
    ...  # send sim.access_token as the Authorization header to sim.base_url
    await sim.close()

Routes (envelope `{"code", "msg", "data", "extMsg"}`, HTTP 200 even for business errors;
parameters from the query string, else a form body):

- `POST /v2/binding/enduserapi/shareByUid` (pk, dk, shareUid | email | phone, sharingExpireAt
  ms, coverMark, authKey) -> data = the new share code. Checked in this order: token (5106
  missing, 5032 invalid/expired), pk 5066, dk 5067, coverMark not 1..3 5133, sharingExpireAt
  not an integer or not in the future 5145, no recipient 5891, device of another owner 5135,
  device unverified 5360, recipient is family 5864, adding fails 5134, unknown recipient
  (5033 uid / 5031 email / 5004 phone), then coverMark per DEVICE: 1 ends the device's valid
  shares and adds, 2 adds, 3 replaces only if the new expiry is later than every valid share's
  (no expiry = infinitely late), else 5134 and nothing changes. shareUid wins over email over phone.
- `GET /v2/binding/enduserapi/deviceShareUserList` (pk, dk) -> [{shareInfo, userInfo}], ended
  shares included with shareStatus 0; 5066/5067, 5141 for another owner's device.
- `DELETE /v2/binding/enduserapi/ownerUserUnshareDevice` (shareCode) -> {}; 5136 missing,
  5041 unknown or another owner's, 5142 already revoked/replaced/expired.
- `PUT /v2/binding/enduserapi/setShareTime` (shareCode, sharingExpireAt ms) -> {}; 5136 missing
  code, 5041 unknown or another owner's, then the ASSUMPTIONS (the docs list neither code for this
  endpoint): 5142 for a share that has ended, 5145 for a missing, unreadable or past expiry.
- Invites are pending until accepted. The share list shows `acceptTime`/`acceptTimeTs` once the
  `/_sim/accept` test aid accepted one; a valid accepted share is listed with shareStatus 1 and a
  valid pending one with `listed_status` (default 1; ASSUMPTION: the docs do not say, §6.13).
- `PUT /v2/enduser/enduserapi/refreshToken` (refreshToken, no Authorization needed) -> a new
  token pair; the used refresh token dies (reuse -> 5032); missing -> 5106. Old access tokens
  stay valid until they expire.
- `POST /v2/enduser/enduserapi/emailPwdLogin` (email, pwd, random, userDomain, signature) and
  `POST /v2/enduser/enduserapi/phonePwdLogin` (phone, internationalCode default "86", pwd,
  random, userDomain, signature) -> a token pair for the owner account, whose credentials and
  user domain are in `SimulatorConfig` (owner_email, owner_phone, owner_password, user_domain,
  user_domain_secret). pwd and signature follow docs/platform-api.md §3.1 (`runner.platform.auth.crypto`);
  the check order, codes and the 5-wrong-passwords / 20-minute freeze are in `login.py`.

Load: each API request waits latency_ms ± uniform jitter_ms. Above `rate_limit` admitted
requests in the last 1.0 s the answer is HTTP 429 with `Retry-After: 1` (whole seconds) and
body `{"code": 429, "msg": "Too Many Requests (simulator rate limit)", "data": null,
"extMsg": "retry after 1 s"}`; refused requests don't fill the window. Faults (shareByUid only,
probability fault_rate, kind uniform over fault_kinds) are described in `app.py`. Users and
devices come from an optional devices file, else from dk/uid prefix rules (`directory.py`).
`/_sim/` is a test aid, not part of the platform (`introspect.py`).

Several owner accounts (`SimulatorConfig.accounts`, `sharebatch simulate --account UID`): each
gets its own token pair (`RunningSimulator.account_tokens`, the ready file's "accounts"), owns
the devices it is first to use, and has its own sliding-second window (`account_rate_limit`);
an account in `blocked_accounts` is answered 5325 on every call (`accounts.py`). The request log
records the account whose valid token each request carried (`uid`).
"""

from runner.simulator.config import FaultKind, SimulatorConfig
from runner.simulator.server import RunningSimulator, start_simulator
from runner.simulator.state import SimulatorState

__all__ = ["FaultKind", "RunningSimulator", "SimulatorConfig", "SimulatorState", "start_simulator"]
