/**
 * Lua fragments shared by several scripts. A script is one string sent to Redis, so sharing means
 * concatenating these in front of a script's own body (see `scripts/leaderboards.ts` and
 * `scripts/storage.ts`).
 */

/**
 * Numbers are doubles in Lua: integers up to 2^53 are exact, and `fmt` prints them in full (Lua's
 * own tostring and cjson keep only 14 significant digits). It prints with `%d` (a 64-bit integer
 * in Redis's Lua), which gives the same digits as `%.0f` for every safe integer at half the cost:
 * `%.0f` goes through glibc's multi-precision float printing. For the same reason scripts pass
 * numbers to `redis.call` printed by `fmt`, never as Lua numbers (Redis prints those with `%.17g`).
 */
export const NUMBERS_LUA = `
local MAX = 9007199254740991
local function fmt(x) return string.format('%d', x) end
`;

/**
 * Writing leaderboard scores (needs {@link NUMBERS_LUA}). A board is five keys (see keys.ts):
 * `s` scores, `o` ordinal order, `m` tie-break stamps, `d` distinct scores, `c` users per score.
 * The ordinal set holds every entry at score 0 with a member that sorts best-first byte by byte:
 * sign and magnitude of the score (higher first), then the 16-digit stamp of when the score last
 * changed (earlier first), then the user id. Every score is a safe integer, so each part fits 16
 * digits exactly.
 *
 * `boardTotals` and `boardWrite` are `increment`: the leaderboard store's own script and the
 * storage's award script both call them, so a board moves the same way on either path. Redis
 * builds every function here as a closure on each call of a script that includes it, so this holds
 * only what the award script needs; reads and removals are in {@link BOARD_EDITS_LUA}.
 */
export const BOARD_WRITES_LUA = `
local function enc(score, stamp, user)
  if score >= 0 then return string.format('0%016d%016d', MAX - score, stamp) .. user end
  return string.format('1%016d%016d', -score, stamp) .. user
end
local function boardAt(i)
  return {s = KEYS[i], o = KEYS[i + 1], m = KEYS[i + 2], d = KEYS[i + 3], c = KEYS[i + 4]}
end
-- \`s\` is the score as fmt prints it (the counts hash and the distinct set key scores by that text).
local function distinctAdd(k, s)
  if redis.call('HINCRBY', k.c, s, '1') == 1 then redis.call('ZADD', k.d, s, s) end
end
local function distinctRemove(k, s)
  if redis.call('HINCRBY', k.c, s, '-1') <= 0 then
    redis.call('HDEL', k.c, s)
    redis.call('ZREM', k.d, s)
  end
end
-- Sets a score; the tie-break stamp changes only when the score does. \`old\` is the score already
-- read (false when the user is not on the board), or nil to read it here. The new score's entries
-- are added before the old ones go, so the board's keys never empty out mid-write (an expiry set on
-- them stays).
local function write(k, seqKey, user, score, old)
  if old == nil then
    old = redis.call('ZSCORE', k.s, user)
    if old then old = tonumber(old) end
  end
  if old and old == score then return end
  local stamp = redis.call('INCR', seqKey)
  local s = fmt(score)
  redis.call('ZADD', k.s, s, user)
  redis.call('ZADD', k.o, '0', enc(score, stamp, user))
  distinctAdd(k, s)
  if old then
    redis.call('ZREM', k.o, enc(old, tonumber(redis.call('HGET', k.m, user)), user))
    distinctRemove(k, fmt(old))
  end
  redis.call('HSET', k.m, user, fmt(stamp))
end
-- The server clock in ms, read once per script.
local clock = nil
local function nowMs()
  if not clock then
    local t = redis.call('TIME')
    clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return clock
end
-- The new scores of increment updates {k = board keys, name, delta, expiresAt|''}, in order (a
-- board listed twice adds up), and each update's score before it (false when the user was not on
-- the board); or nil, board name, score when one would leave the safe-integer range.
local function boardTotals(user, ups)
  local totals, befores, pending = {}, {}, {}
  for i, u in ipairs(ups) do
    local before = pending[u.name]
    if before == nil then
      before = redis.call('ZSCORE', u.k.s, user)
      if before then before = tonumber(before) end
    end
    local total = (before or 0) + u.delta
    if total > MAX or total < -MAX then return nil, u.name, total end
    pending[u.name] = total
    totals[i] = total
    befores[i] = before
  end
  return totals, befores
end
-- Writes what boardTotals planned (\`befores\` from boardTotals, or nil), the expiry of period
-- boards, and the user's board set (for removeUser, scored by the board's expiry).
local function boardWrite(seqKey, userBoards, user, ups, totals, befores)
  local added = false
  for i, u in ipairs(ups) do
    local before = nil
    if befores then before = befores[i] end
    write(u.k, seqKey, user, totals[i], before)
    local entry = nil
    if u.expiresAt ~= '' then
      -- The five keys get their expiry together and only empty out together (see write), so the
      -- scores key's expiry stands for all five: set them only when it differs (a new board, or a
      -- changed expiry), not on every award.
      local at = tonumber(u.expiresAt)
      if redis.call('PEXPIRETIME', u.k.s) ~= at then
        for _, key in ipairs({u.k.s, u.k.o, u.k.m, u.k.d, u.k.c}) do redis.call('PEXPIREAT', key, at) end
      end
      if at > nowMs() then entry = at end -- else the board is already gone
    else
      local ttl = redis.call('PTTL', u.k.s)
      if ttl > 0 then entry = nowMs() + ttl
      -- A board without expiry has had none for as long as it has had members (expiry goes only
      -- with its keys), so a user already on it has its +inf entry.
      elseif ttl == -1 and not before then entry = '+inf' end
    end
    -- Only a new entry can grow the set, so only then are expired entries trimmed.
    if entry and redis.call('ZADD', userBoards, entry, u.name) == 1 then added = true end
  end
  if added then redis.call('ZREMRANGEBYSCORE', userBoards, '-inf', '(' .. fmt(nowMs())) end
end
`;

/**
 * Reading ordinal members back and removing entries (needs {@link BOARD_WRITES_LUA}): the
 * leaderboard store's scripts use these, the award script does not.
 */
export const BOARD_EDITS_LUA = `
-- The score and user of an ordinal member (see enc).
local function dec(member)
  local v = tonumber(string.sub(member, 2, 17))
  if string.sub(member, 1, 1) == '0' then return MAX - v, string.sub(member, 34) end
  return -v, string.sub(member, 34)
end
local function removeFrom(k, user)
  local old = redis.call('ZSCORE', k.s, user)
  if not old then return false end
  old = tonumber(old)
  redis.call('ZREM', k.o, enc(old, tonumber(redis.call('HGET', k.m, user)), user))
  redis.call('ZREM', k.s, user)
  redis.call('HDEL', k.m, user)
  distinctRemove(k, fmt(old))
  return true
end
-- Remembers the board for removeUser, until the board itself expires (a board whose expiry has
-- already passed is gone: nothing to remember).
local function remember(userBoards, k, name)
  local ttl = redis.call('PTTL', k.s)
  if ttl > 0 then redis.call('ZADD', userBoards, nowMs() + ttl, name) elseif ttl == -1 then redis.call('ZADD', userBoards, '+inf', name) end
end
`;
