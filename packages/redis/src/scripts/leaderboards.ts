import { defineScript } from "../connection.js";
import { BOARD_EDITS_LUA, BOARD_WRITES_LUA, NUMBERS_LUA } from "./lua.js";

/** The leaderboard scripts' Lua: score writes shared with the award script, plus rank reads. */
const COMMON = `${NUMBERS_LUA}${BOARD_WRITES_LUA}${BOARD_EDITS_LUA}
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
local ups = {}
for i = 0, n - 1 do
  ups[i + 1] = {k = boardAt(3 + i * 5), name = ARGV[3 + i * 3], delta = tonumber(ARGV[4 + i * 3]), expiresAt = ARGV[5 + i * 3]}
end
-- On failure the second value is the board's name.
local totals, befores, bad = boardTotals(user, ups)
if not totals then return {'OUT_OF_RANGE', befores, fmt(bad)} end
boardWrite(KEYS[1], KEYS[2], user, ups, totals, befores)
local out = {'OK'}
for i = 1, n do out[i + 1] = fmt(totals[i]) end
return out
`,
);

/** KEYS: stamp counter, user's boards, five board keys. ARGV: user, board, score. */
export const setScript = defineScript(
  "leaderboard set",
  `${COMMON}
local k = boardAt(3)
write(k, KEYS[1], ARGV[1], tonumber(ARGV[3]))
remember(KEYS[2], k, ARGV[2])
return 1
`,
);

/** KEYS: user's boards, five board keys. ARGV: user, board. Reply: 1 when the user was on the board. */
export const removeScript = defineScript(
  "leaderboard remove",
  `${COMMON}
if not removeFrom(boardAt(2), ARGV[1]) then return 0 end
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
return page(boardAt(1), offset, offset + tonumber(ARGV[2]), ARGV[3])
`,
);

/** KEYS: five board keys. ARGV: user, mode. Reply: {score, rank} or nil. */
export const rankScript = defineScript(
  "leaderboard rank",
  `${COMMON}
local k = boardAt(1)
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
local k = boardAt(1)
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
