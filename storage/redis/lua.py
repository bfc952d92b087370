"""The Lua scripts the Redis backends run. Each touches the keys it is given and no
others, all in one hash slot, so they run on Redis Cluster as on one server.

Ids and versions travel as decimal strings and are compared as such (longer is larger,
then byte order): Lua's numbers are doubles, exact only to 2**53, and Snowflakes pass it."""

NEWER = """
local function newer(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
"""

#: Feeds and celebrity lists are LISTs of ids, newest first, ending in the sentinel "0"
#: (older than any id), so an empty feed is still a cached one: Redis deletes an empty
#: list, and a missing feed means "regenerate".
SENTINEL = b"0"

_INSERT = (
    NEWER
    + """
local function older(a, b) return newer(b, a) end

-- `ids` ascending without repeats: nearly always they come so, and checking is cheaper
-- than sorting.
local function ascending(ids)
  for i = 2, #ids do
    if not newer(ids[i], ids[i - 1]) then
      table.sort(ids, older)
      local kept = {ids[1]}
      for j = 2, #ids do
        if ids[j] ~= kept[#kept] then kept[#kept + 1] = ids[j] end
      end
      return kept
    end
  end
  return ids
end

-- LPUSH `list` (oldest first, not empty) onto `key`, in chunks Lua's unpack can take.
-- Answers the list's length.
local function lpush(key, list)
  local length = 0
  for i = 1, #list, 1000 do
    length = redis.call('LPUSH', key, unpack(list, i, math.min(i + 999, #list)))
  end
  return length
end

-- The list's newest part: its ids down to the first one older than `oldest` (at worst
-- the sentinel ends it). Out-of-order ids land near the head, so this reads a few.
local function newest_part(key, oldest)
  local part, from, size = {}, 0, 16
  while true do
    local window = redis.call('LRANGE', key, from, from + size - 1)
    for _, held in ipairs(window) do
      if newer(oldest, held) then return part end
      part[#part + 1] = held
    end
    if #window < size then
      redis.call('RPUSH', key, '0')  -- a list without its sentinel: give it one back
      return part
    end
    from, size = from + size, size * 4
  end
end

-- Add `ids` (in any order) to the list `key` of at most `cap` ids, whose first element
-- is `head`. Nearly always they are all newer than the head: one LPUSH takes them.
-- Otherwise they are merged with the list's newest part (dropping repeats), which is
-- replaced. Answers how many went in and stayed.
local function insert(key, head, cap, ids)
  ids = ascending(ids)
  if #ids == 0 then return 0 end
  local part = {}
  if not newer(ids[1], head) then part = newest_part(key, ids[1]) end
  local merged, fresh = ids, nil
  if #part > 0 then
    merged, fresh = {}, {}
    local i, j = #part, 1
    while i >= 1 or j <= #ids do
      if i >= 1 and j <= #ids and ids[j] == part[i] then
        j = j + 1
      elseif j <= #ids and (i < 1 or newer(part[i], ids[j])) then
        merged[#merged + 1] = ids[j]
        fresh[#merged] = true
        j = j + 1
      else
        merged[#merged + 1] = part[i]
        i = i - 1
      end
    end
    redis.call('LTRIM', key, #part, -1)
  end
  local added = #merged - #part
  local length = lpush(key, merged)
  if length > cap + 1 then
    -- Past the capacity the oldest go: all below the merged ids, then the merged ids'
    -- oldest beyond `cap`, which may include some just added.
    for k = 1, #merged - cap do
      if fresh == nil or fresh[k] then added = added - 1 end
    end
    redis.call('LTRIM', key, 0, cap - 1)
    redis.call('RPUSH', key, '0')
  end
  return added
end
"""
)

#: LPUSHX into many lists at once, each in order and without duplicates: a fan-out
#: batch for one server in one call. KEYS may span slots but not servers: Redis Cluster
#: runs such a script on the node that holds them all (the flag below), as the seed's
#: batches go per cache node. ARGV: capacity, then per key the count of its ids and the
#: ids. (Measured on Redis 7.0: splitting one space-separated argument per list in Lua
#: cost a third of the script's time, more than the client pays to send ids apart.)
#: Answers how many went in and stayed, in all.
PUSH = (
    "#!lua flags=allow-cross-slot-keys\n"
    + _INSERT
    + """
local cap, added, at = tonumber(ARGV[1]), 0, 2
for k = 1, #KEYS do
  local count = tonumber(ARGV[at])
  local head = redis.call('LINDEX', KEYS[k], 0)
  if head then
    local ids = {}
    if count <= 1000 then  -- as far as unpack's stack is sure to reach
      ids = {unpack(ARGV, at + 1, at + count)}
    else
      for i = at + 1, at + count do ids[#ids + 1] = ARGV[i] end
    end
    added = added + insert(KEYS[k], head, cap, ids)
  end
  at = at + count + 1
end
return added
"""
)

#: Merge ids into a list, creating it (with a TTL from now) when missing.
#: ARGV: capacity, ttl in ms, ids.
MERGE = (
    _INSERT
    + """
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then
  redis.call('RPUSH', KEYS[1], '0')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  head = '0'
end
return insert(KEYS[1], head, tonumber(ARGV[1]), {unpack(ARGV, 3)})
"""
)

#: Up to ARGV[1] ids, none above ARGV[2] ('' for no bound); false when the list is not
#: there. ARGV[3], when not '0', is a TTL in ms the read gives the list afresh.
PAGE = (
    NEWER
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local limit, max_id = tonumber(ARGV[1]), ARGV[2]
if limit <= 0 then return {} end
local page = {}
if max_id == '' then
  for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, limit - 1)) do
    if id ~= '0' then page[#page + 1] = id end
  end
  return page
end
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if id ~= '0' and not newer(id, max_id) then
    page[#page + 1] = id
    if #page == limit then break end
  end
end
return page
"""
)

#: Replace the hash's (v, t) when ARGV[1], the new version, is above the one held.
#: ARGV: version, payload, ttl in ms.
PUT_VERSIONED = (
    NEWER
    + """
local held = redis.call('HGET', KEYS[1], 'v')
if held and not newer(ARGV[1], held) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
)

#: Trending uses. KEYS: versions hash, tags hash, times zset (one table's, one slot).
#: ARGV: quintets (tweet id, version, posted at, payload, counts) where counts is '1' for
#: a tweet with tags or a deleted one; an untagged tweet never seen is left out.
SET_USES = (
    NEWER
    + """
for i = 1, #ARGV, 5 do
  local id, version = ARGV[i], ARGV[i + 1]
  local held = redis.call('HGET', KEYS[1], id)
  if (held or ARGV[i + 4] == '1') and (not held or newer(version, held)) then
    redis.call('HSET', KEYS[1], id, version)
    redis.call('HSET', KEYS[2], id, ARGV[i + 3])
    redis.call('ZADD', KEYS[3], ARGV[i + 2], id)
  end
end
return 0
"""
)

#: Drop uses posted before ARGV[1], answer the tags of the rest. KEYS as SET_USES.
USES = """
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1])
for start = 1, #old, 1000 do
  local chunk = {unpack(old, start, math.min(start + 999, #old))}
  redis.call('HDEL', KEYS[1], unpack(chunk))
  redis.call('HDEL', KEYS[2], unpack(chunk))
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1])
return redis.call('HVALS', KEYS[2])
"""

#: Notifications into one inbox. KEYS: inbox zset (ids, zero-padded, score 0: ordered by
#: lex), payloads hash, keys hash ('k:'..key -> id, 'i:'..id -> key). ARGV: capacity,
#: then triples (padded id, key, payload). Answers the 0-based triples added.
NOTIFY = """
local cap, added = tonumber(ARGV[1]), {}
for i = 2, #ARGV, 3 do
  local id, key = ARGV[i], ARGV[i + 1]
  if redis.call('HSETNX', KEYS[3], 'k:' .. key, id) == 1 then
    redis.call('HSET', KEYS[3], 'i:' .. id, key)
    redis.call('ZADD', KEYS[1], 0, id)
    redis.call('HSET', KEYS[2], id, ARGV[i + 2])
    added[#added + 1] = (i - 2) / 3
  end
end
local excess = redis.call('ZCARD', KEYS[1]) - cap
if excess > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, excess - 1)) do
    local key = redis.call('HGET', KEYS[3], 'i:' .. id)
    redis.call('HDEL', KEYS[3], 'i:' .. id, 'k:' .. key)
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
end
return added
"""

#: Newest ARGV[1] payloads of an inbox, none above ARGV[2] (a padded id, or '+').
INBOX = """
local ids = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[2], '-', 'LIMIT', 0, ARGV[1])
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
"""

#: Move a read mark (a padded id) forward only.
MARK_READ = """
local held = redis.call('GET', KEYS[1])
if not held or ARGV[1] > held then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
"""

#: GCRA (chirp/ratelimit.py, the same arithmetic), atomic per key. ARGV: now, limit,
#: period. Answers {allowed, remaining, retry_after, reset_after}, numbers as strings.
GCRA = """
local now, limit, period = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local new_tat = tat + interval
local allowed_at = new_tat - period
if now < allowed_at then
  return {0, '0', string.format('%.17g', allowed_at - now), string.format('%.17g', tat - now)}
end
local remaining = math.floor((period - (new_tat - now)) / interval + 1e-9)
redis.call('SET', KEYS[1], string.format('%.17g', new_tat),
  'PX', math.ceil((new_tat - now) * 1000) + 1)
return {1, tostring(remaining), '0', string.format('%.17g', new_tat - now)}
"""
