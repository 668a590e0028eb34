import { defineScript } from "../connection.js";
import { BOARD_WRITES_LUA, NUMBERS_LUA } from "./lua.js";

/** Lua shared by the storage scripts (see `NUMBERS_LUA` for how numbers are printed). */
const COMMON = `${NUMBERS_LUA}
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
 * applyAwards in one round trip: idempotency, totals, levels, the event log (points and level
 * events) and, when the engine passes them, the award's leaderboards (the same Lua as the
 * leaderboard store's increment).
 * KEYS: state, idem, idemx, events, users, users:seq, lb:seq, lbu:{user}, then L level tables,
 *   then five keys per board (B boards).
 * ARGV: userId, now, expiresAt, ttlMs, n, L, B, B board names, then per request:
 *   metric, delta, floor|'', level table index|0, followDown 1|0, idempotency key|'', event type,
 *   event at, event id, event JSON without delta/total and without its closing brace, board count,
 *   then per board: board index (1-based, into the names), expiresAt|''
 * Reply: {'OK', then per request either 0, delta, previousTotal, total, previousLevel, level (an
 *   applied award, as integers: the caller already has its event) or 1 and the stored outcome
 *   'delta|previousTotal|total|previousLevel|level|eventJSON' (a replay)},
 *   {'OUT_OF_RANGE', metric, previousTotal, delta}, {'BOARD_OUT_OF_RANGE', board, score} (both
 *   with nothing written), or {'NOLEVELS', index}.
 */
export const applyAwardsScript = defineScript(
  "applyAwards",
  `${NUMBERS_LUA}${BOARD_WRITES_LUA}
local userId, now, expiresAt, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local n, nl, nb = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local nowN = tonumber(now)
local state, idem, idemx, log = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local boards = {}
for j = 1, nb do boards[j] = boardAt(9 + nl + (j - 1) * 5) end
-- The level of a total, or nil when the curve's set is gone (failover, flush): level 1 sits at
-- -inf, so a present set always answers. The caller then reloads it and retries.
local function levelFor(key, points)
  return tonumber(redis.call('ZREVRANGEBYSCORE', key, fmt(points), '-inf', 'LIMIT', '0', '1')[1])
end
-- Whether the user has a state hash (createdAt), learned by the first read of it.
local exists = nil
-- Sends cmd key a b c… in slices (unpack is bounded by Lua's C stack).
local function many(cmd, key, list)
  for i = 1, #list, 1000 do redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list))) end
end
-- core's levelEvents: one event per level crossed. Strings go through cjson (exact JSON strings);
-- numbers are printed in full: levels with fmt, and at as the engine sent it (a safe integer).
local userJ = nil
local function levelEvents(events, id, at, metric, from, to)
  local kind, step = 'level_up', 1
  if to < from then kind, step = 'level_down', -1 end
  if not userJ then userJ = cjson.encode(userId) end
  local tail = ',"type":"' .. kind .. '","userId":' .. userJ .. ',"at":' .. at .. ',"metric":' .. cjson.encode(metric) .. ',"level":'
  for lvl = from + step, to, step do
    local json = '{"id":' .. cjson.encode(id .. ':level:' .. fmt(lvl)) .. tail .. fmt(lvl) .. ',"previousLevel":' .. fmt(lvl - step) .. '}'
    events[#events + 1] = kind
    events[#events + 1] = at
    events[#events + 1] = json
  end
end
-- Plan every request first; write only when all totals and board scores fit the safe-integer range
-- and every level curve is present. The reply carries numbers as integers (no string building);
-- only commands, the logged event JSON and an idempotency record need them printed. Every table
-- and string a call creates is garbage Lua must later sweep, object by object, so the common path
-- creates few: idempotency tables only with a key, events flat (type, at, JSON).
local totals, levelsNow, touched, events, ups, out = {}, {}, {}, {}, {}, {'OK'}
local seen, fresh = nil, nil
local b = 8 + nb
for i = 1, n do
  local metric, delta, floor, li = ARGV[b], tonumber(ARGV[b + 1]), ARGV[b + 2], tonumber(ARGV[b + 3])
  local key = ARGV[b + 5]
  local firstBoard, boardCount = b + 11, tonumber(ARGV[b + 10])
  local stored = nil
  if key ~= '' then
    if not seen then seen, fresh = {}, {} end
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
    -- A replay changes nothing: no total, level, event or board.
    out[#out + 1] = 1
    out[#out + 1] = stored
  else
    local prev, sl = totals[metric], levelsNow[metric]
    if prev == nil then
      -- The stored total, level (with levels) and, on the first read, createdAt: one HMGET.
      local pf = 'p:' .. metric
      local r
      if li > 0 and exists == nil then r = redis.call('HMGET', state, pf, 'l:' .. metric, 'c')
      elseif li > 0 then r = redis.call('HMGET', state, pf, 'l:' .. metric)
      elseif exists == nil then r = redis.call('HMGET', state, pf, 'c')
      else r = redis.call('HMGET', state, pf) end
      if exists == nil then exists = r[#r] ~= false end
      prev = tonumber(r[1] or '0')
      if li > 0 then sl = tonumber(r[2] or '') end
    elseif li > 0 and sl == nil then
      sl = tonumber(redis.call('HGET', state, 'l:' .. metric) or '')
    end
    local total = prev + delta
    if floor ~= '' and delta < 0 then total = math.max(total, math.min(prev, tonumber(floor))) end
    if total > MAX or total < -MAX then return {'OUT_OF_RANGE', metric, fmt(prev), fmt(delta)} end
    local pl, l = 0, 0
    if li > 0 then
      local lk = KEYS[8 + li]
      local target = levelFor(lk, total)
      if target == nil then return {'NOLEVELS', tostring(li)} end
      -- A metric that gains levels later starts from the level of its current total.
      pl = sl or levelFor(lk, prev)
      if ARGV[b + 4] == '1' then l = target else l = math.max(pl, target) end
      levelsNow[metric] = l
    end
    if totals[metric] == nil then touched[#touched + 1] = metric end
    totals[metric] = total
    local applied = total - prev
    if applied ~= 0 or key ~= '' then
      local totalS = fmt(total)
      local event = ARGV[b + 9] .. ',"delta":' .. fmt(math.abs(applied)) .. ',"total":' .. totalS .. '}'
      if key ~= '' then
        seen[key] = fmt(applied) .. '|' .. fmt(prev) .. '|' .. totalS .. '|' .. fmt(pl) .. '|' .. fmt(l) .. '|' .. event
        fresh[#fresh + 1] = key
      end
      if applied ~= 0 then
        events[#events + 1] = ARGV[b + 6]
        events[#events + 1] = ARGV[b + 7]
        events[#events + 1] = event
        -- Boards move by the applied delta (a floor may have clamped it).
        for j = 0, boardCount - 1 do
          local index = tonumber(ARGV[firstBoard + 2 * j])
          ups[#ups + 1] = {k = boards[index], name = ARGV[7 + index], delta = applied, expiresAt = ARGV[firstBoard + 2 * j + 1]}
        end
      end
    end
    if l ~= pl then levelEvents(events, ARGV[b + 8], ARGV[b + 7], metric, pl, l) end
    out[#out + 1] = 0
    out[#out + 1] = applied
    out[#out + 1] = prev
    out[#out + 1] = total
    out[#out + 1] = pl
    out[#out + 1] = l
  end
  b = firstBoard + 2 * boardCount
end
local scores, befores = nil, nil
if #ups > 0 then
  local bad
  -- On failure the second value is the board's name.
  scores, befores, bad = boardTotals(userId, ups)
  if not scores then return {'BOARD_OUT_OF_RANGE', befores, fmt(bad)} end
end
-- Totals, levels and updatedAt in one HSET; createdAt and the listing entry on first sight.
if exists == nil then exists = redis.call('HEXISTS', state, 'c') == 1 end
if not exists then redis.call('ZADD', KEYS[5], fmt(redis.call('INCR', KEYS[6])), userId) end
local one = touched[1]
if exists and #touched == 1 and levelsNow[one] then
  -- The usual award: one metric with levels, a known user. No field list to build.
  redis.call('HSET', state, 'u', now, 'p:' .. one, fmt(totals[one]), 'l:' .. one, fmt(levelsNow[one]))
else
  local fields = {'u', now}
  if not exists then fields[3], fields[4] = 'c', now end
  for _, metric in ipairs(touched) do
    fields[#fields + 1] = 'p:' .. metric
    fields[#fields + 1] = fmt(totals[metric])
    if levelsNow[metric] then
      fields[#fields + 1] = 'l:' .. metric
      fields[#fields + 1] = fmt(levelsNow[metric])
    end
  end
  many('HSET', state, fields)
end
for i = 1, #events, 3 do
  redis.call('XADD', log, '*', 't', events[i], 'at', events[i + 1], 'j', events[i + 2])
end
if scores then boardWrite(KEYS[7], KEYS[8], userId, ups, scores, befores) end
if fresh and #fresh > 0 then
  local records, expiries = {}, {}
  for _, key in ipairs(fresh) do
    records[#records + 1] = key
    records[#records + 1] = expiresAt .. '|' .. seen[key]
    expiries[#expiries + 1] = expiresAt
    expiries[#expiries + 1] = key
  end
  many('HSET', idem, records)
  many('ZADD', idemx, expiries)
  -- Whole-record expiry for users who go quiet; live keys are checked against expiresAt anyway.
  redis.call('PEXPIRE', idem, ttl)
  redis.call('PEXPIRE', idemx, ttl)
  -- Expired keys go a bounded number at a time, and only here: the records grow only when a key is
  -- written, so awards without one (most of them) need no cleanup command.
  local old = redis.call('ZRANGEBYSCORE', idemx, '-inf', now, 'LIMIT', '0', '50')
  if #old > 0 then
    redis.call('HDEL', idem, unpack(old))
    redis.call('ZREM', idemx, unpack(old))
  end
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
