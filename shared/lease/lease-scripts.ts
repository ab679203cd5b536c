/**
 * The Lua of the recording lease and of fenced writes: each check-then-act runs atomically in Redis, so no
 * grant, renewal or write can slip between a token check and what it guards. Every script takes the lease key
 * and the fencing-token counter key as KEYS[1] and KEYS[2] (a script touching a key of its own takes it as
 * KEYS[3]); the token, when there is one, is ARGV[1]. Lapse is Redis's own PX expiry: no worker clock involved.
 */

/**
 * The fence check every script but ACQUIRE opens with: the script returns the refusal, and goes no further,
 * unless the lease is held with exactly the token ARGV[1].
 * 'stale-token': a later token has been granted since (the lease is held by, or was held by, someone newer);
 * 'lapsed': the lease with this token expired or was released, and nobody has been granted it since.
 */
const FENCE_CHECK = `
local function refusal(lease_key, fence_key, token)
  local held = redis.call('HGET', lease_key, 'token')
  if held and tonumber(held) == tonumber(token) then return false end
  if held then return 'stale-token' end
  local latest = tonumber(redis.call('GET', fence_key) or '0')
  if latest > tonumber(token) then return 'stale-token' end
  return 'lapsed'
end
local refused = refusal(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
`;

/** SET of `key`, expiring after `ttl_sec` if above 0, else without expiry. */
const SET_EXPIRING = `
local function set_expiring(key, value, ttl_sec)
  if tonumber(ttl_sec) > 0 then
    redis.call('SET', key, value, 'EX', ttl_sec)
  else
    redis.call('SET', key, value)
  end
end
`;

/**
 * ARGV: holder, ttl ms, counter retention s. Grants the lease when it is free (never granted, released or
 * lapsed): {1, token}, the token one more than any before for this egress. Else {0, holder, token, ms left}.
 */
export const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local held = redis.call('HMGET', KEYS[1], 'holder', 'token')
  return {0, held[1], held[2], redis.call('PTTL', KEYS[1])}
end
local token = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', token)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, token}`;

/** ARGV: token, ttl ms, counter retention s. Extends the lease by ttl ms if held with the token: 'ok' or the refusal. */
export const RENEW = `${FENCE_CHECK}
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 'ok'`;

/** ARGV: token. Frees the lease if held with the token (the counter stays): 'ok' or the refusal. */
export const RELEASE = `${FENCE_CHECK}
redis.call('DEL', KEYS[1])
return 'ok'`;

/** KEYS[3]: the key written. ARGV: token, value, expiry s (0: none). SET if the token holds the lease. */
export const FENCED_SET = `${FENCE_CHECK}${SET_EXPIRING}
set_expiring(KEYS[3], ARGV[2], ARGV[3])
return 'ok'`;

/**
 * KEYS[3]: the hash written. ARGV: token, expiry s (0: keep the hash's), then field, value pairs. HSET (and
 * the expiry) if the token holds the lease.
 */
export const FENCED_HSET = `${FENCE_CHECK}
redis.call('HSET', KEYS[3], unpack(ARGV, 3))
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
return 'ok'`;

/**
 * KEYS[3]: the list appended to. ARGV: token, value, expiry s (0: keep the list's). RPUSH (and the expiry) if
 * the token holds the lease: the list's new length, or the refusal.
 */
export const FENCED_RPUSH = `${FENCE_CHECK}
local length = redis.call('RPUSH', KEYS[3], ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[3], ARGV[3]) end
return length`;

/**
 * KEYS[3]: the key written. ARGV: token, the bytes read before the change, the new bytes, expiry s (0: none).
 * The compare-and-set of shared/egress-store.ts behind the fence: 'ok', a refusal, or 'changed' when the key
 * no longer holds the bytes read (someone else wrote in between; read again and retry).
 */
export const FENCED_COMPARE_AND_SET = `${FENCE_CHECK}${SET_EXPIRING}
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return 'changed' end
set_expiring(KEYS[3], ARGV[3], ARGV[4])
return 'ok'`;
