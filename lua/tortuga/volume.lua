--- tg.volume — 3D arrays of voxels with a spacing in metres.
--
--   local v = tg.volume.new{200, 200, 100, dtype = "u8", spacing = {1e-7, 1e-7, 2e-7}}
--   v:dims()                 --> 200, 200, 100          v.dtype --> "u8"
--   v:spacing()              --> {1e-7, 1e-7, 2e-7}     v:spacing(5e-8) sets it (number or {sx, sy, sz})
--   v:get(x, y, z)  v:set(x, y, z, value)              (1-based indices; values saturate to the dtype)
--   v:view{x = {1, 50}, z = {10, 20}}                  zero-copy sub-volume, 1-based inclusive ranges
--   v:slice(z)                                         zero-copy view of one slice
--   v:copy()  v:astype("f32")  v:fill(0)
--   v:stats()                --> {min, max, mean, std, count, nan_count, posinf_count, neginf_count}
--                                (min .. std over the finite values; NaN, +Inf, -Inf are counted apart)
--   v:histogram{bins = 256, range = {lo, hi}} --> {counts = {...}, edges = {...}, bins = 256, range = {lo, hi},
--                                below, above, nan, posinf, neginf}  (voxels not binned, counted apart)
--   v:counts()               --> {[label] = voxels}  (integer volumes)
--   v:map{[1] = 2, [2] = 1}  v:eq(label)  v:threshold(t)     (masks are u8 0/1; threshold is value >= t)
--   v:release()              frees the data now; also on garbage collection and at the end of a
--                            `local v <close> = ...` block
-- Types: u8, u16, i32, f32, f64. Axes: x = columns (fastest), y = rows, z = slices.
local core = require "tortuga.core"
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library

local M = {}
local methods = core.volume.methods
local NIL = util.NIL
local cview, chist, cmap = methods.view, methods.histogram, methods.map

--- Create a zero-filled volume: tg.volume.new{nx, ny, nz, dtype = "u8", spacing = 1e-7 or {sx, sy, sz}}.
function M.new(t)
  if type(t) ~= "table" then error("tg.volume.new: expected {nx, ny, nz, dtype=..., spacing=...}", 2) end
  local o = util.options(t, { 0, 0, 0, dtype = "u8", spacing = NIL }, "tg.volume.new")
  for i = 1, 3 do
    if math.type(o[i]) ~= "integer" or o[i] < 1 then
      error(string.format("tg.volume.new: dimension %d must be a positive integer, got %s", i, tostring(o[i])), 2)
    end
  end
  return core.volume.new(o[1], o[2], o[3], o.dtype, o.spacing)
end

--- A volume from raw bytes in x-fastest order (interop, tests): tg.volume.from_bytes(s, {nx, ny, nz, dtype=...}).
function M.from_bytes(s, t)
  local o = util.options(t, { 0, 0, 0, dtype = "u8", spacing = NIL }, "tg.volume.from_bytes")
  return core.volume.from_bytes(s, o[1], o[2], o[3], o.dtype, o.spacing)
end

--- True if x is a volume (the one test every module uses; rawget, so no metamethod of x runs).
function M.is_volume(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return type(mt) == "table" and rawget(mt, "__name") == "tortuga.Volume"
end

function methods.view(v, o)
  o = util.options(o, { x = NIL, y = NIL, z = NIL }, "v:view")
  return cview(v, o.x, o.y, o.z)
end

function methods.slice(v, z)
  if math.type(z) ~= "integer" then error("v:slice: expected a slice index (integer), got " .. tostring(z), 2) end
  return cview(v, nil, nil, z)
end

local function finite(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

--- Equal bins over [lo, hi] (default: the finite min and max). Voxels not binned are counted, never dropped
--- unseen: below / above (finite, outside the range), nan, posinf, neginf.
function methods.histogram(v, o)
  o = util.options(o, { bins = 256, range = NIL }, "v:histogram")
  if math.type(o.bins) ~= "integer" or o.bins < 1 then error("v:histogram: bins must be a positive integer", 2) end
  local lo, hi
  if o.range then
    if type(o.range) ~= "table" then error("v:histogram: range must be {lo, hi} with lo < hi", 2) end
    lo, hi = o.range[1], o.range[2]
    if type(lo) == "number" and type(hi) == "number" and not (finite(lo) and finite(hi)) then
      error(string.format("v:histogram: range must be finite, got {%s, %s}", tostring(lo), tostring(hi)), 2)
    end
  else
    local s = v:stats()
    if s.count == 0 then
      error(string.format("v:histogram: the volume has no finite value (%d NaN, %d +Inf, %d -Inf); give a range",
        s.nan_count, s.posinf_count, s.neginf_count), 2)
    end
    lo, hi = s.min, s.max
    if hi == lo then hi = lo + 1 end
  end
  if type(lo) ~= "number" or type(hi) ~= "number" or not (hi > lo) then
    error("v:histogram: range must be {lo, hi} with lo < hi", 2)
  end
  local counts, out = chist(v, o.bins, lo, hi)
  local edges, w = {}, (hi - lo) / o.bins
  for i = 0, o.bins do
    if finite(w) then edges[i + 1] = lo + i * w
    else edges[i + 1] = lo * (1 - i / o.bins) + hi * (i / o.bins) end -- hi - lo overflows (e.g. ±1e308)
  end
  return { counts = counts, edges = edges, bins = o.bins, range = { lo, hi },
           below = out.below, above = out.above, nan = out.nan, posinf = out.posinf, neginf = out.neginf }
end

--- v:map{[from] = to, ...} [, {dtype = ...}] — replace values; others are kept.
-- The values an integer dtype holds.
local INT_RANGE = { u8 = { 0, 255 }, u16 = { 0, 65535 }, i32 = { -2147483648, 2147483647 } }

-- A key of v:map that no voxel of an integer volume can hold matches nothing: a mistake, never a silent no-op.
local function check_map_key(k, dtype)
  local r = INT_RANGE[dtype]
  if r and (math.tointeger(k) == nil or k < r[1] or k > r[2]) then
    error(string.format("v:map: key %s is not a %s value (integers %d..%d): it would match no voxel", tostring(k), dtype,
      r[1], r[2]), 3)
  end
end

-- A value that the output dtype cannot hold would be rounded or saturated: say so instead.
local function check_map_value(k, val, dtype)
  local r = INT_RANGE[dtype]
  if r and (math.tointeger(val) == nil or val < r[1] or val > r[2]) then
    error(string.format("v:map: value %s (for key %s) does not fit %s (integers %d..%d); give {dtype = ...}", tostring(val),
      tostring(k), dtype, r[1], r[2]), 3)
  end
end

function methods.map(v, t, o)
  if type(t) ~= "table" then error("v:map: expected a table {[from] = to}", 2) end
  o = util.options(o, { dtype = NIL }, "v:map")
  local out_dtype = o.dtype or v.dtype
  local from, to = {}, {}
  for k, val in pairs(t) do
    if type(k) ~= "number" or type(val) ~= "number" then error("v:map: keys and values must be numbers", 2) end
    check_map_key(k, v.dtype)
    check_map_value(k, val, out_dtype)
    from[#from + 1], to[#to + 1] = k, val
  end
  return cmap(v, from, to, o.dtype)
end

return M
