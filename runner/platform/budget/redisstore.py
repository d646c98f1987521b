"""The budget shared by several hosts: the same GCRA rules as `rules.py`, in one atomic Lua script in Redis.

Redis runs a script alone, so the read, the decision and the write are one step for every process
on every host, and `TIME` is the Redis server's clock: the hosts' own clocks never meet. The state
is two small hashes per account and region, which expire an hour after the last request, so an
abandoned budget cleans itself up. redis-py is imported only when `--limiter redis://...` is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from runner.errors import TransientApiError, UsageError
from runner.platform.budget import rules
from runner.platform.pacing import (
    MAX_CATCH_UP_S,
    MIN_RATE_FRACTION,
    PACING_MARGIN,
    RECOVERY_FACTOR,
    RECOVERY_INTERVAL_S,
    THROTTLE_FACTOR,
)
from runner.redact import redact, register_secret

if TYPE_CHECKING:
    from redis.asyncio import Redis

KEY_PREFIX = "sharebatch:budget:"
EXPIRE_MS = 3_600_000

# KEYS[1] the state hash, KEYS[2] member -> "rate asked_at"; ARGV[1] release|pause|throttle, ARGV[2] member,
# ARGV[3] the rate (release) or the seconds (pause), ARGV[4] how many releases are wanted (release),
# ARGV[5..] the constants of rules.py in CONSTANTS' order. Answers "WAIT GRANTED".
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local want = tonumber(ARGV[4])
local margin, catch_up = tonumber(ARGV[5]), tonumber(ARGV[6])
local min_fraction, throttle_factor = tonumber(ARGV[7]), tonumber(ARGV[8])
local recovery_s, recovery_factor, stale_s = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local clock_jump_s, max_pause_s, expire_ms = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local s = redis.call('HMGET', KEYS[1], 'last_sent', 'paused_until', 'factor', 'last_throttle')
local last = tonumber(s[1])
local paused = tonumber(s[2]) or 0
local factor = tonumber(s[3]) or 1
local last_throttle = tonumber(s[4]) or 0
local wait = 0
local granted = 0
if ARGV[1] == 'leave' then
  redis.call('HDEL', KEYS[2], ARGV[2])
  return '0 0'
end
if ARGV[1] == 'pause' then
  paused = math.max(paused, now + tonumber(ARGV[3]))
elseif ARGV[1] == 'throttle' then
  last_throttle = now
  factor = math.max(min_fraction, factor * throttle_factor)
else
  local lowest = tonumber(ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3] .. ' ' .. string.format('%.6f', now))
  local members = redis.call('HGETALL', KEYS[2])
  for i = 1, #members, 2 do
    local asked, seen = string.match(members[i + 1], '^(%S+) (%S+)$')
    if asked == nil or now - tonumber(seen) > stale_s then
      redis.call('HDEL', KEYS[2], members[i])
    elseif tonumber(asked) < lowest then
      lowest = tonumber(asked)
    end
  end
  if factor < 1 and now - last_throttle >= recovery_s then
    last_throttle = now
    factor = math.min(1, factor * recovery_factor)
  end
  if last ~= nil and last > now + clock_jump_s then last = nil end
  if paused > now + max_pause_s then paused = 0 end
  local interval = (1 + margin) / (lowest * factor)
  local ready = paused
  if last ~= nil then ready = math.max(paused, last + interval) end
  if ready > now then
    wait = ready - now
  else
    if now - ready <= catch_up then last = ready else last = now end
    granted = 1
    while granted < want and last + interval <= now + catch_up do
      last = last + interval
      granted = granted + 1
    end
  end
end
redis.call('HSET', KEYS[1], 'paused_until', string.format('%.6f', paused), 'factor', string.format('%.6f', factor),
           'last_throttle', string.format('%.6f', last_throttle))
if last ~= nil then redis.call('HSET', KEYS[1], 'last_sent', string.format('%.6f', last)) end
redis.call('PEXPIRE', KEYS[1], expire_ms)
redis.call('PEXPIRE', KEYS[2], expire_ms)
return string.format('%.6f', wait) .. ' ' .. granted
"""

CONSTANTS = (PACING_MARGIN, MAX_CATCH_UP_S, MIN_RATE_FRACTION, THROTTLE_FACTOR, RECOVERY_INTERVAL_S, RECOVERY_FACTOR,
             rules.MEMBER_STALE_S, rules.CLOCK_JUMP_S, rules.MAX_PAUSE_S, EXPIRE_MS)


class RedisBudget:
    """One account's budget in Redis; `open_redis` makes the connection and checks it."""

    def __init__(self, client: Redis, key: str, member: str, where: str) -> None:
        self._client = client
        self._keys = [f"{KEY_PREFIX}{key}", f"{KEY_PREFIX}{key}:rates"]
        self._member = member
        self._where = where
        self._script = client.register_script(SCRIPT)

    async def try_release(self, rate: float, want: int = 1) -> tuple[float, int]:
        return await self._run("release", repr(float(rate)), want)

    async def pause(self, seconds: float) -> None:
        await self._run("pause", repr(float(seconds)))

    async def throttle(self) -> None:
        await self._run("throttle", "0")

    async def leave(self) -> None:
        await self._run("leave", "0")

    async def _run(self, operation: str, value: str, want: int = 1) -> tuple[float, int]:
        from redis.exceptions import RedisError

        try:
            answer = await self._script(keys=self._keys, args=[operation, self._member, value, str(want),
                                                               *map(repr, CONSTANTS)])
        except RedisError as exc:
            # Nothing was sent: a retry after the backoff is safe, and a lasting outage stops the run.
            raise TransientApiError(f"the shared budget in Redis at {self._where} cannot be reached "
                                    f"({type(exc).__name__}); nothing was sent") from None
        wait, granted = (answer.decode() if isinstance(answer, bytes) else str(answer)).split()
        return float(wait), int(granted)


async def open_redis(url: str) -> tuple[Redis, str]:
    """A connected client and a printable `host:port/db`; a UsageError (nothing sent) when Redis does not answer."""
    from redis.asyncio import Redis
    from redis.exceptions import AuthenticationError, RedisError, ResponseError

    parts = urlsplit(url)
    if parts.password:
        register_secret(parts.password)
    where = f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"
    try:
        client = Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
    except ValueError as exc:
        raise UsageError(f"option --limiter: {redact(str(exc))}: give redis://HOST:PORT/DB") from None
    try:
        await client.ping()
    except AuthenticationError:  # it answers, and refuses us: starting it again would not help
        await client.aclose()
        raise UsageError(f"--limiter: Redis at {where} refused the password: put the right one in the URL "
                         "(redis://:PASSWORD@HOST:PORT/DB, or redis://USER:PASSWORD@... with an ACL user); "
                         "nothing was sent") from None
    except ResponseError as exc:  # it answers, and refuses the connection's setup (a DB out of range)
        await client.aclose()
        raise UsageError(f"--limiter: Redis at {where} refused the connection ({redact(str(exc))}): fix the URL "
                         "(redis://HOST:PORT/DB); nothing was sent") from None
    except RedisError as exc:
        await client.aclose()
        raise UsageError(f"--limiter: Redis at {where} does not answer ({type(exc).__name__}): start it, or run "
                         "with --limiter local (this host only); nothing was sent") from None
    return client, where
