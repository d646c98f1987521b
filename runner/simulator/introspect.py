"""The /_sim/ routes: a TEST AID for checking what the simulator saw. Not part of the platform.

No authentication, never rate limited or logged. Answers are plain JSON (no envelope):

- `GET /_sim/requests[?since=N]`: every API request from index N on: t (s since start,
  monotonic), method, path, params (a login's `pwd` shown as "***"), http_status (null =
  connection closed with no answer), code, fault, share_code (the share the request really
  created, else null), uid (the account whose valid token it carried, else null).
- `GET /_sim/shares`: every share with its state (valid | revoked | replaced | expired).
- `GET /_sim/stats`: total_requests, by_endpoint, by_http_status, by_code, refreshes, logins
  (successful password logins), rate_limited, faults (per kind), shares_applied,
  max_in_any_second (most API arrivals in any 1.0 s window, 429s included) and
  max_admitted_in_any_second (the same, without 429s).
- `GET /_sim/config` (user_domain_secret and owner_password shown as "***"), `POST /_sim/config`
  with a JSON object holding any of fault_rate, fault_kinds, fault_budget, latency_ms, jitter_ms,
  rate_limit, slow_fault_s, listed_status, list_failures, account_rate_limit, blocked_accounts,
  late_apply_s ([low, high]), clock_offset_s, list_fault_rate: changes the running simulator; an
  invalid change answers 400 and changes nothing.
- `POST /_sim/accept` with `{"share_code": ...}`: the recipient accepts that invite, as they would
  in the app (there is no recipient app here); the share list then shows its acceptTime and
  shareStatus 1. Answers the share's view, 404 for an unknown code, 409 for an ended share.
- `POST /_sim/reset`: forget shares, the request log, login lockouts and made-up users/devices;
  tokens stay valid.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from aiohttp import web

from runner.simulator.render import sim_request, sim_share

if TYPE_CHECKING:
    from runner.simulator.app import Simulator

#: config fields GET /_sim/config masks: the demo login's secrets
SECRET_KEYS = ("user_domain_secret", "owner_password")
#: what POST /_sim/config may change
RUNTIME_KEYS = frozenset({"fault_rate", "fault_kinds", "fault_budget", "latency_ms", "jitter_ms", "rate_limit",
                          "slow_fault_s", "listed_status", "list_failures", "account_rate_limit", "blocked_accounts",
                          "late_apply_s", "clock_offset_s", "list_fault_rate"})


def config_view(sim: Simulator) -> dict[str, Any]:
    view = dataclasses.asdict(sim.config)
    view["fault_kinds"] = [kind.value for kind in sim.config.fault_kinds]
    view["devices_file"] = str(sim.config.devices_file) if sim.config.devices_file else None
    view.update(dict.fromkeys(SECRET_KEYS, "***"))
    return view


def apply_config_change(sim: Simulator, change: Any) -> None:
    """Validate the whole change on a copy first, so a bad value leaves the live config untouched."""
    if not isinstance(change, dict):
        raise ValueError("expected a JSON object")
    unknown = set(change) - RUNTIME_KEYS
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}; allowed: {sorted(RUNTIME_KEYS)}")
    try:
        for key in ("fault_kinds", "blocked_accounts", "late_apply_s"):
            if key in change:
                change = {**change, key: tuple(change[key])}
        candidate = dataclasses.replace(sim.config, **change)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
    for key in change:
        setattr(sim.config, key, getattr(candidate, key))


def add_introspection_routes(app: web.Application, sim: Simulator) -> None:
    """Register the /_sim/ routes for `sim` on `app`."""

    async def requests(request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return web.json_response({"error": "since must be an integer"}, status=400)
        return web.json_response([sim_request(r) for r in sim.traffic.records_since(since)])

    async def shares(request: web.Request) -> web.Response:
        now_ms = sim.state.now_ms()
        return web.json_response([sim_share(s, now_ms) for s in sim.state.shares])

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(sim.traffic.stats())

    async def get_config(request: web.Request) -> web.Response:
        return web.json_response(config_view(sim))

    async def set_config(request: web.Request) -> web.Response:
        try:
            apply_config_change(sim, await request.json())
        except ValueError as exc:  # json.JSONDecodeError is a ValueError too
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(config_view(sim))

    async def accept(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            code = body["share_code"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": 'expected {"share_code": "..."}'}, status=400)
        try:
            share = sim.state.accept(str(code))
        except KeyError:
            return web.json_response({"error": f"no share {code}"}, status=404)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=409)
        return web.json_response(sim_share(share, sim.state.now_ms()))

    async def reset(request: web.Request) -> web.Response:
        sim.state.reset()
        sim.traffic.reset()
        sim.account_windows.reset()
        return web.json_response({"reset": True})

    app.router.add_get("/_sim/requests", requests)
    app.router.add_get("/_sim/shares", shares)
    app.router.add_get("/_sim/stats", stats)
    app.router.add_get("/_sim/config", get_config)
    app.router.add_post("/_sim/config", set_config)
    app.router.add_post("/_sim/accept", accept)
    app.router.add_post("/_sim/reset", reset)
