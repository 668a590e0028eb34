import { defineScript } from "../connection.js";

/**
 * Lua shared by the storage scripts. Numbers are doubles in Lua: integers up to 2^53 are exact,
 * and `fmt` prints them in full (Lua's own tostring keeps only 14 digits).
 */
const COMMON = `
local MAX = 9007199254740991
local function fmt(x) return string.format('%.0f', x) end
-- Creates the user on first sight: createdAt/updatedAt, and a listing sequence for listUsers.
local function touch(state, users, seq, userId, at)
  if redis.call('HSETNX', state, 'c', at) == 1 then
    redis.call('HSET', state, 'u', at)
    redis.call('ZADD', users, redis.call('INCR', seq), userId)
    return true
  end
  return false
end
local function later(state, at)
  local u = tonumber(redis.call('HGET', state, 'u') or '0')
  if tonumber(at) > u then redis.call('HSET', state, 'u', at) end
end
`;

/**
 * applyAwards in one round trip.
 * KEYS: state, idem, idemx, events, users, users:seq, level tables…
 * ARGV: userId, now, expiresAt, ttlMs, n, then per request:
 *   metric, delta, floor|'', level table index|0, followDown 1|0, idempotency key|'', event type, event at, event JSON without delta/total
 * Reply: {'OK', 'replayed|delta|previousTotal|total|previousLevel|level|eventJSON'…},
 *   {'OUT_OF_RANGE', metric, previousTotal, delta} (nothing written), or {'NOLEVELS', index}.
 */
export const applyAwardsScript = defineScript(
  "applyAwards",
  `${COMMON}
local userId, now, expiresAt, ttl, n = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local nowN = tonumber(now)
local state, idem, idemx, log = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
for k = 7, #KEYS do
  -- A curve lost with the data (failover, flush): the caller reloads it and retries.
  if redis.call('EXISTS', KEYS[k]) == 0 then return {'NOLEVELS', tostring(k - 6)} end
end
local function levelFor(key, points)
  local r = redis.call('ZREVRANGEBYSCORE', key, fmt(points), '-inf', 'LIMIT', 0, 1)
  return tonumber(r[1])
end
-- Plan every request first; write only when all of them fit the safe-integer range.
local totals, levelsNow, seen, fresh, touched, events, out = {}, {}, {}, {}, {}, {}, {'OK'}
for i = 0, n - 1 do
  local b = 6 + i * 9
  local metric, delta, floor, li = ARGV[b], tonumber(ARGV[b + 1]), ARGV[b + 2], tonumber(ARGV[b + 3])
  local key = ARGV[b + 5]
  local stored = nil
  if key ~= '' then
    stored = seen[key]
    if not stored then
      local v = redis.call('HGET', idem, key)
      if v then
        local sep = string.find(v, '|', 1, true)
        if tonumber(string.sub(v, 1, sep - 1)) > nowN then stored = string.sub(v, sep + 1) end
      end
    end
  end
  if stored then
    out[#out + 1] = '1|' .. stored
  else
    local prev = totals[metric]
    if prev == nil then prev = tonumber(redis.call('HGET', state, 'p:' .. metric) or '0') end
    local total = prev + delta
    if floor ~= '' and delta < 0 then total = math.max(total, math.min(prev, tonumber(floor))) end
    if total > MAX or total < -MAX then return {'OUT_OF_RANGE', metric, fmt(prev), fmt(delta)} end
    local pl, l = 0, 0
    if li > 0 then
      local lk = KEYS[6 + li]
      local sl = levelsNow[metric]
      if sl == nil then sl = tonumber(redis.call('HGET', state, 'l:' .. metric) or '') end
      -- A metric that gains levels later starts from the level of its current total.
      pl = sl or levelFor(lk, prev)
      local target = levelFor(lk, total)
      if ARGV[b + 4] == '1' then l = target else l = math.max(pl, target) end
      levelsNow[metric] = l
    end
    if totals[metric] == nil then touched[#touched + 1] = metric end
    totals[metric] = total
    local applied = total - prev
    local head = ARGV[b + 8]
    local event = string.sub(head, 1, -2) .. ',"delta":' .. fmt(math.abs(applied)) .. ',"total":' .. fmt(total) .. '}'
    local outcome = fmt(applied) .. '|' .. fmt(prev) .. '|' .. fmt(total) .. '|' .. fmt(pl) .. '|' .. fmt(l) .. '|' .. event
    if key ~= '' then
      seen[key] = outcome
      fresh[#fresh + 1] = key
    end
    if applied ~= 0 then events[#events + 1] = {ARGV[b + 6], ARGV[b + 7], event} end
    out[#out + 1] = '0|' .. outcome
  end
end
touch(state, KEYS[5], KEYS[6], userId, now)
redis.call('HSET', state, 'u', now)
for _, metric in ipairs(touched) do
  redis.call('HSET', state, 'p:' .. metric, fmt(totals[metric]))
  if levelsNow[metric] then redis.call('HSET', state, 'l:' .. metric, fmt(levelsNow[metric])) end
end
for _, e in ipairs(events) do
  redis.call('XADD', log, '*', 't', e[1], 'at', e[2], 'j', e[3])
end
if #fresh > 0 then
  for _, key in ipairs(fresh) do
    redis.call('HSET', idem, key, expiresAt .. '|' .. seen[key])
    redis.call('ZADD', idemx, expiresAt, key)
  end
  -- Whole-record expiry for users who go quiet; live keys are checked against expiresAt anyway.
  redis.call('PEXPIRE', idem, ttl)
  redis.call('PEXPIRE', idemx, ttl)
end
-- Opportunistic cleanup of expired keys, a bounded number per award.
local old = redis.call('ZRANGEBYSCORE', idemx, '-inf', now, 'LIMIT', 0, 50)
if #old > 0 then
  redis.call('HDEL', idem, unpack(old))
  redis.call('ZREM', idemx, unpack(old))
end
return out
`,
);

/** KEYS: state, events, users, users:seq. ARGV: userId, badge, at, event type, event JSON. Reply: {awarded 0|1, awardedAt}. */
export const awardBadgeScript = defineScript(
  "awardBadge",
  `${COMMON}
local held = redis.call('HGET', KEYS[1], 'b:' .. ARGV[2])
if held then return {0, held} end
if not touch(KEYS[1], KEYS[3], KEYS[4], ARGV[1], ARGV[3]) then later(KEYS[1], ARGV[3]) end
redis.call('HSET', KEYS[1], 'b:' .. ARGV[2], ARGV[3])
redis.call('XADD', KEYS[2], '*', 't', ARGV[4], 'at', ARGV[3], 'j', ARGV[5])
return {1, ARGV[3]}
`,
);

/** KEYS: state, events. ARGV: badge, at, event type, event JSON. Reply: 1 when the user held the badge. */
export const revokeBadgeScript = defineScript(
  "revokeBadge",
  `${COMMON}
if redis.call('HDEL', KEYS[1], 'b:' .. ARGV[1]) == 0 then return 0 end
later(KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 't', ARGV[3], 'at', ARGV[2], 'j', ARGV[4])
return 1
`,
);

/** KEYS: state, claims, users, users:seq. ARGV: userId, key, at. Reply: 1 the first time. */
export const claimOnceScript = defineScript(
  "claimOnce",
  `${COMMON}
touch(KEYS[1], KEYS[3], KEYS[4], ARGV[1], ARGV[3])
return redis.call('SADD', KEYS[2], ARGV[2])
`,
);

/**
 * One user's share of appendEvents. KEYS: state, events, users, users:seq.
 * ARGV: userId, then per event: type, at, has action 1|0, action, JSON.
 */
export const appendEventsScript = defineScript(
  "appendEvents",
  `${COMMON}
touch(KEYS[1], KEYS[3], KEYS[4], ARGV[1], ARGV[3])
for b = 2, #ARGV, 5 do
  if ARGV[b + 2] == '1' then
    redis.call('XADD', KEYS[2], '*', 't', ARGV[b], 'at', ARGV[b + 1], 'a', ARGV[b + 3], 'j', ARGV[b + 4])
  else
    redis.call('XADD', KEYS[2], '*', 't', ARGV[b], 'at', ARGV[b + 1], 'j', ARGV[b + 4])
  end
end
return 1
`,
);

/**
 * Counts a user's events by type, action and time, scanning the stream in slices.
 * KEYS: events. ARGV: type, filter by action 1|0, action, since|''.
 */
export const countEventsScript = defineScript(
  "countEvents",
  `
local count, cursor = 0, '-'
local since = tonumber(ARGV[4])
while true do
  local batch = redis.call('XRANGE', KEYS[1], cursor, '+', 'COUNT', 1000)
  for _, e in ipairs(batch) do
    local f = e[2]
    local t, at, a = nil, nil, nil
    for k = 1, #f, 2 do
      if f[k] == 't' then t = f[k + 1] elseif f[k] == 'at' then at = f[k + 1] elseif f[k] == 'a' then a = f[k + 1] end
    end
    if t == ARGV[1] and (ARGV[2] == '0' or a == ARGV[3]) and (since == nil or tonumber(at) >= since) then count = count + 1 end
  end
  if #batch < 1000 then break end
  cursor = '(' .. batch[#batch][1]
end
return count
`,
);

/** KEYS: state, idem, idemx, claims, events, users. ARGV: userId. Reply: 1 when the user existed. */
export const deleteUserScript = defineScript(
  "deleteUser",
  `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[6], ARGV[1])
return existed
`,
);
