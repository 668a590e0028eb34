import { defineScript } from "../connection.js";

/**
 * Records one event in its day, week and month buckets.
 * KEYS: users and counters of the day, week and month buckets, then the user's bucket set.
 * ARGV: userId, type, metric|'', delta|'', the three bucket ids, the three expiries (epoch ms)|''.
 */
export const recordScript = defineScript(
  "analytics record",
  `
local user, kind, metric, delta = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for g = 0, 2 do
  local users, counters, expiresAt = KEYS[1 + g * 2], KEYS[2 + g * 2], ARGV[8 + g]
  redis.call('SADD', users, user)
  redis.call('HINCRBY', counters, 'e', 1)
  if kind == 'badge_awarded' then
    redis.call('HINCRBY', counters, 'b', 1)
  elseif kind == 'points_added' or kind == 'points_removed' then
    -- Both sums exist once a metric has points, as in the reference store.
    local added, removed = 0, 0
    if kind == 'points_added' then added = delta else removed = delta end
    redis.call('HINCRBY', counters, 'a:' .. metric, added)
    redis.call('HINCRBY', counters, 'r:' .. metric, removed)
  end
  redis.call('SADD', KEYS[7], ARGV[5 + g])
  if expiresAt ~= '' then
    redis.call('PEXPIREAT', users, expiresAt)
    redis.call('PEXPIREAT', counters, expiresAt)
    -- The user's bucket list lives as long as the longest-lived bucket in it.
    local current = redis.call('PEXPIRETIME', KEYS[7])
    if current == -1 or current < tonumber(expiresAt) then redis.call('PEXPIREAT', KEYS[7], expiresAt) end
  end
end
return 1
`,
);

/** KEYS: users and counters of each bucket. Reply: per bucket {counters as flat field/value list, distinct users}. */
export const aggregateScript = defineScript(
  "analytics aggregate",
  `
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = {redis.call('HGETALL', KEYS[i + 1]), redis.call('SCARD', KEYS[i])}
end
return out
`,
);

/** KEYS: the user's bucket set. ARGV: userId, key prefix as the script must spell it. */
export const forgetUserScript = defineScript(
  "analytics forgetUser",
  `
for _, bucket in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('SREM', ARGV[2] .. 'an:' .. bucket .. ':u', ARGV[1])
end
redis.call('DEL', KEYS[1])
return 1
`,
);
