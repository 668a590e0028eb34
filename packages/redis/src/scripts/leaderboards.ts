import { defineScript } from "../connection.js";

/**
 * A board is five keys (see keys.ts): `s` scores, `o` ordinal order, `m` tie-break stamps,
 * `d` distinct scores, `c` users per score. The ordinal set holds every entry at score 0 with a
 * member that sorts best-first byte by byte: sign and magnitude of the score (higher first),
 * then the 16-digit stamp of when the score last changed (earlier first), then the user id.
 * Every score is a safe integer, so each part fits 16 digits exactly.
 */
const COMMON = `
local MAX = 9007199254740991
local function fmt(x) return string.format('%.0f', x) end
local function enc(score, stamp, user)
  local head
  if score >= 0 then head = '0' .. string.format('%016.0f', MAX - score) else head = '1' .. string.format('%016.0f', -score) end
  return head .. string.format('%016.0f', stamp) .. user
end
local function dec(member)
  local v = tonumber(string.sub(member, 2, 17))
  if string.sub(member, 1, 1) == '0' then return MAX - v, string.sub(member, 34) end
  return -v, string.sub(member, 34)
end
local function board(i)
  return {s = KEYS[i], o = KEYS[i + 1], m = KEYS[i + 2], d = KEYS[i + 3], c = KEYS[i + 4]}
end
local function distinctAdd(k, score)
  local s = fmt(score)
  if redis.call('HINCRBY', k.c, s, 1) == 1 then redis.call('ZADD', k.d, s, s) end
end
local function distinctRemove(k, score)
  local s = fmt(score)
  if redis.call('HINCRBY', k.c, s, -1) <= 0 then
    redis.call('HDEL', k.c, s)
    redis.call('ZREM', k.d, s)
  end
end
-- Sets a score; the tie-break stamp changes only when the score does.
local function write(k, seqKey, user, score)
  local old = redis.call('ZSCORE', k.s, user)
  if old then
    old = tonumber(old)
    if old == score then return end
    redis.call('ZREM', k.o, enc(old, tonumber(redis.call('HGET', k.m, user)), user))
    distinctRemove(k, old)
  end
  local stamp = redis.call('INCR', seqKey)
  redis.call('ZADD', k.s, fmt(score), user)
  redis.call('ZADD', k.o, 0, enc(score, stamp, user))
  redis.call('HSET', k.m, user, stamp)
  distinctAdd(k, score)
end
local function removeFrom(k, user)
  local old = redis.call('ZSCORE', k.s, user)
  if not old then return false end
  old = tonumber(old)
  redis.call('ZREM', k.o, enc(old, tonumber(redis.call('HGET', k.m, user)), user))
  redis.call('ZREM', k.s, user)
  redis.call('HDEL', k.m, user)
  distinctRemove(k, old)
  return true
end
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Remembers the board for removeUser, until the board itself expires.
local function remember(userBoards, k, name)
  local ttl = redis.call('PTTL', k.s)
  if ttl > 0 then redis.call('ZADD', userBoards, nowMs() + ttl, name) else redis.call('ZADD', userBoards, '+inf', name) end
end
local function above(k, score, mode)
  if mode == 'standard' then return redis.call('ZCOUNT', k.s, '(' .. fmt(score), '+inf') end
  return redis.call('ZCOUNT', k.d, '(' .. fmt(score), '+inf')
end
-- Entries at ordinal positions [start, stop) as flat {user, score, rank}.
local function page(k, start, stop, mode)
  local out = {}
  if stop <= start then return out end
  local prev, rank = nil, 0
  for i, m in ipairs(redis.call('ZRANGE', k.o, start, stop - 1)) do
    local score, user = dec(m)
    local pos = start + i - 1
    if mode == 'ordinal' then rank = pos + 1
    elseif i == 1 then rank = 1 + above(k, score, mode)
    -- Within a page every score between two neighbours is present, so ranks follow by counting.
    elseif score ~= prev then
      if mode == 'standard' then rank = pos + 1 else rank = rank + 1 end
    end
    prev = score
    out[#out + 1] = user
    out[#out + 1] = fmt(score)
    out[#out + 1] = rank
  end
  return out
end
`;

/**
 * KEYS: stamp counter, user's boards, then five keys per update.
 * ARGV: user, n, then per update: board, delta, expiresAt|''.
 * Reply: {'OK', total…} or {'OUT_OF_RANGE', board, total} with nothing written.
 */
export const incrementScript = defineScript(
  "leaderboard increment",
  `${COMMON}
local user, n = ARGV[1], tonumber(ARGV[2])
local totals, pending = {}, {}
for i = 0, n - 1 do
  local name, delta = ARGV[3 + i * 3], tonumber(ARGV[4 + i * 3])
  local base = pending[name]
  if base == nil then base = tonumber(redis.call('ZSCORE', KEYS[3 + i * 5], user) or '0') end
  local total = base + delta
  if total > MAX or total < -MAX then return {'OUT_OF_RANGE', name, fmt(total)} end
  pending[name] = total
  totals[i + 1] = total
end
local out = {'OK'}
for i = 0, n - 1 do
  local k = board(3 + i * 5)
  write(k, KEYS[1], user, totals[i + 1])
  local expiresAt = ARGV[5 + i * 3]
  if expiresAt ~= '' then
    for _, key in ipairs({k.s, k.o, k.m, k.d, k.c}) do redis.call('PEXPIREAT', key, expiresAt) end
  end
  remember(KEYS[2], k, ARGV[3 + i * 3])
  out[#out + 1] = fmt(totals[i + 1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. fmt(nowMs()))
return out
`,
);

/** KEYS: stamp counter, user's boards, five board keys. ARGV: user, board, score. */
export const setScript = defineScript(
  "leaderboard set",
  `${COMMON}
local k = board(3)
write(k, KEYS[1], ARGV[1], tonumber(ARGV[3]))
remember(KEYS[2], k, ARGV[2])
return 1
`,
);

/** KEYS: user's boards, five board keys. ARGV: user, board. Reply: 1 when the user was on the board. */
export const removeScript = defineScript(
  "leaderboard remove",
  `${COMMON}
if not removeFrom(board(2), ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[2])
return 1
`,
);

/** KEYS: user's boards. ARGV: user, key prefix as the script must spell it. */
export const removeUserScript = defineScript(
  "leaderboard removeUser",
  `${COMMON}
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local base = ARGV[2] .. 'lb:{' .. name .. '}:'
  removeFrom({s = base .. 's', o = base .. 'o', m = base .. 'm', d = base .. 'd', c = base .. 'c'}, ARGV[1])
end
redis.call('DEL', KEYS[1])
return 1
`,
);

/** KEYS: five board keys. ARGV: offset, limit, mode. Reply: flat {user, score, rank…}. */
export const topScript = defineScript(
  "leaderboard top",
  `${COMMON}
local offset = tonumber(ARGV[1])
return page(board(1), offset, offset + tonumber(ARGV[2]), ARGV[3])
`,
);

/** KEYS: five board keys. ARGV: user, mode. Reply: {score, rank} or nil. */
export const rankScript = defineScript(
  "leaderboard rank",
  `${COMMON}
local k = board(1)
local score = redis.call('ZSCORE', k.s, ARGV[1])
if not score then return nil end
score = tonumber(score)
if ARGV[2] == 'ordinal' then
  return {fmt(score), redis.call('ZRANK', k.o, enc(score, tonumber(redis.call('HGET', k.m, ARGV[1])), ARGV[1])) + 1}
end
return {fmt(score), above(k, score, ARGV[2]) + 1}
`,
);

/** KEYS: five board keys. ARGV: user, radius, mode. Reply: flat {user, score, rank…}. */
export const aroundScript = defineScript(
  "leaderboard around",
  `${COMMON}
local k = board(1)
local score = redis.call('ZSCORE', k.s, ARGV[1])
if not score then return {} end
local pos = redis.call('ZRANK', k.o, enc(tonumber(score), tonumber(redis.call('HGET', k.m, ARGV[1])), ARGV[1]))
local radius = tonumber(ARGV[2])
local width = 2 * radius + 1
-- Shift the window off the edges so it stays full when the board is big enough.
local start = math.max(0, math.min(pos - radius, redis.call('ZCARD', k.o) - width))
return page(k, start, start + width, ARGV[3])
`,
);

/** KEYS: scores. ARGV: score. Reply: {above, equal}. */
export const countAroundScript = defineScript(
  "leaderboard countAround",
  `
return {redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf'), redis.call('ZCOUNT', KEYS[1], ARGV[1], ARGV[1])}
`,
);
