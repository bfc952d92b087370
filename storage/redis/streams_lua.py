"""The event log's Lua scripts. Each touches one partition's stream and, for a group member,
its lease (whose key shares the stream's hash tag), so it checks and changes them in one step.
"""

# Replies are flat: each entry is id, key, time, payload (fields are written in that order).

_LUA_COMMON = """
local function seq(id) return tonumber(string.match(id, '%-(%d+)$')) end
local function entry_id(offset) return string.format('0-%d', offset + 1) end

-- the partition's retained start and its end (the offset the next append gets)
local function bounds(key)
  if redis.call('EXISTS', key) == 0 then return 0, 0 end
  local info = redis.call('XINFO', 'STREAM', key)
  local added, first = 0, false
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = info[i + 1]
    elseif info[i] == 'first-entry' then first = info[i + 1] end
  end
  if first then return seq(first[1]) - 1, added end
  return added, added
end

-- each group's committed offset: its oldest pending entry, or all it has been delivered
local function committed_offsets(key)
  local out = {}
  if redis.call('EXISTS', key) == 0 then return out end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local name, pending, delivered
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1]
      elseif g[i] == 'pending' then pending = g[i + 1]
      elseif g[i] == 'last-delivered-id' then delivered = g[i + 1] end
    end
    if pending > 0 then
      out[name] = seq(redis.call('XPENDING', key, name)[2]) - 1
    else
      out[name] = seq(delivered)
    end
  end
  return out
end

local function fence(lease, token)
  if token ~= '' and redis.call('GET', lease) ~= token then
    return redis.error_reply('LEASELOST this process does not hold ' .. lease)
  end
end

local function add_entries(out, entries)
  for _, e in ipairs(entries) do
    local f = e[2]
    out[#out + 1] = e[1]; out[#out + 1] = f[2]; out[#out + 1] = f[4]; out[#out + 1] = f[6]
  end
end
"""

# KEYS: stream. ARGV: position, count. → start, end, entries from position.
READ_RANGE = (
    _LUA_COMMON
    + """
local start, stop = bounds(KEYS[1])
local out = {start, stop}
local position, count = tonumber(ARGV[1]), tonumber(ARGV[2])
if count > 0 and position < stop then
  add_entries(out, redis.call('XRANGE', KEYS[1], entry_id(position), '+', 'COUNT', count))
end
return out
"""
)

# KEYS: stream, lease. ARGV: group, consumer, id ('>' or a pending cursor), count, token.
# → start, end, how many entries the read took, the live ones (ones deleted meanwhile are
# acknowledged: nobody can apply them).
READ_GROUP = (
    _LUA_COMMON
    + """
local refused = fence(KEYS[2], ARGV[5])
if refused then return refused end
local start, stop = bounds(KEYS[1])
local out = {start, stop, 0}
local reply = redis.call(
  'XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[4], 'STREAMS', KEYS[1], ARGV[3])
if reply then
  local entries, live, gone = reply[1][2], {}, {}
  out[3] = #entries
  for _, e in ipairs(entries) do
    if e[2] then live[#live + 1] = e else gone[#gone + 1] = e[1] end
  end
  if #gone > 0 then redis.call('XACK', KEYS[1], ARGV[1], unpack(gone)) end
  add_entries(out, live)
end
return out
"""
)

# KEYS: stream, lease. ARGV: group, token, ids...
ACK = (
    _LUA_COMMON
    + """
local refused = fence(KEYS[2], ARGV[2])
if refused then return refused end
return redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 3))
"""
)

# KEYS: stream, lease. ARGV: group, consumer, token, min idle ms.
# Make every pending entry of the group this consumer's, and forget consumers left with
# none. → how many entries others still hold (not idle long enough yet).
TAKEOVER = (
    _LUA_COMMON
    + """
local refused = fence(KEYS[2], ARGV[3])
if refused then return refused end
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
local cursor = '0-0'
repeat
  cursor = redis.call(
    'XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[4], cursor, 'COUNT', 1000, 'JUSTID')[1]
until cursor == '0-0'
local waiting = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] end
  end
  if name ~= ARGV[2] then
    if pending == 0 then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    else
      waiting = waiting + pending
    end
  end
end
return waiting
"""
)

# KEYS: stream. ARGV: group ('' for none). → start, end, the group's committed offset.
POSITION = (
    _LUA_COMMON
    + """
local start, stop = bounds(KEYS[1])
local done = 0
if ARGV[1] ~= '' then done = committed_offsets(KEYS[1])[ARGV[1]] or 0 end
return {start, stop, done}
"""
)

# KEYS: stream. ARGV: group, offset.
COMMIT = (
    _LUA_COMMON
    + """
local offset = tonumber(ARGV[2])
local start, stop = bounds(KEYS[1])
if offset < 0 or offset > stop then
  return redis.error_reply(string.format('BADOFFSET offset %d is outside 0..%d', offset, stop))
end
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
while offset > 0 do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', string.format('0-%d', offset), 1000)
  if #pending == 0 then break end
  local ids = {}
  for i, p in ipairs(pending) do ids[i] = p[1] end
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
end
if redis.call('XPENDING', KEYS[1], ARGV[1])[1] == 0 then
  redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], string.format('0-%d', offset))
end
return offset
"""
)

# KEYS: stream. ARGV: cutoff time ('' for none), max entries ('' for none).
# → how many entries went. Never past any group's committed offset.
TRIM = (
    _LUA_COMMON
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local start, stop = bounds(KEYS[1])
local cut = start
if ARGV[2] ~= '' then cut = math.max(cut, stop - tonumber(ARGV[2])) end
if ARGV[1] ~= '' then
  -- the first entry young enough (append times rise with offsets)
  local cutoff, lo, hi = tonumber(ARGV[1]), cut, stop
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local e = redis.call('XRANGE', KEYS[1], entry_id(mid), '+', 'COUNT', 1)[1]
    if e and tonumber(e[2][4]) < cutoff then lo = seq(e[1]) else hi = mid end
  end
  cut = lo
end
for _, offset in pairs(committed_offsets(KEYS[1])) do
  if offset < cut then cut = offset end
end
if cut <= start then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', entry_id(cut))
"""
)

# KEYS: stream. ARGV: group. Forget the group if the stream has it.
DROP_GROUP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.pcall('XGROUP', 'DESTROY', KEYS[1], ARGV[1])
"""
