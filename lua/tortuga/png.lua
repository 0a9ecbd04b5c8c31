--- tortuga.png — PNG images of slices (wired as tg.io.write_png).
--
--   tg.io.write_png(path, v [, {z=, colormap="grey"|"labels"|"viridis", range={lo, hi},
--                                labels={[0]={r,g,b}, ...}, compression=0..9}])  --> path
--
-- Writes one z slice of `v` as an 8-bit PNG: `z` is 1-based (default: the middle slice, nz // 2 + 1; a
-- volume with nz == 1 is a slice). Colour maps:
--   grey     greyscale, linear from range (default: 0..255 for u8, i.e. written as is; the slice's
--            min..max otherwise), clamped;
--   labels   RGB, one fixed colour per label value (0 pore: near black, 1: orange, 2: blue, then the rest
--            of matplotlib's tab20 and golden-ratio hues; values wrap modulo 256); `labels` overrides
--            entries, e.g. labels = {[1] = {200, 0, 0}};
--   viridis  RGB, the viridis map over range (polynomial fit of matplotlib's table, within 4 levels).
-- The pixel size goes into the PNG's pHYs chunk (pixels per metre from the x and y spacing) when the
-- spacing is known. The file is written to a temporary name and renamed when complete.
-- Errors name the path (unwritable, missing folder) or the bad option (z outside 1..nz, unknown colour map).
local core = require "tortuga.core"
local util = require "tortuga.util"

local M = {}

local COLORMAPS = { grey = true, gray = true, labels = true, viridis = true }

local function is_volume(x)
  local mt = getmetatable(x)
  return type(x) == "userdata" and mt ~= nil and mt.__name == "tortuga.Volume"
end

function M.write_png(path, v, opts)
  local where = "tg.io.write_png"
  if type(path) ~= "string" or path == "" then
    error(where .. ": expected a file path as the first argument, got " .. type(path), 2)
  end
  if not is_volume(v) then error(where .. ": expected a volume as the second argument, got " .. type(v), 2) end
  local o = util.options(opts, { z = util.NIL, colormap = "grey", range = util.NIL, labels = util.NIL,
                                 compression = util.NIL }, where)
  if type(o.colormap) ~= "string" or not COLORMAPS[o.colormap] then
    local hint = type(o.colormap) == "string" and util.suggest(o.colormap, { "grey", "labels", "viridis" })
    error(string.format("%s: colormap must be 'grey', 'labels' or 'viridis', got '%s'%s", where,
      tostring(o.colormap), hint and string.format(" (did you mean '%s'?)", hint) or ""), 2)
  end
  local _, _, nz = v:dims()
  local z = o.z
  if z == nil then
    z = nz // 2 + 1
  else
    z = math.tointeger(z)
    if not z then error(where .. ": z must be an integer slice index, got " .. tostring(o.z), 2) end
    if z < 1 or z > nz then
      error(string.format("%s: z = %d is outside the volume's slices 1..%d", where, z, nz), 2)
    end
  end
  if o.range ~= nil then
    local r = o.range
    if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number" or not (r[1] <= r[2])
       or r[1] ~= r[1] or math.abs(r[1]) == math.huge or math.abs(r[2]) == math.huge then
      error(where .. ": range must be {lo, hi} with finite numbers lo <= hi", 2)
    end
  end
  if o.labels ~= nil and o.colormap ~= "labels" then
    error(where .. ": option 'labels' needs colormap = 'labels'", 2)
  end
  local ok, res, err = pcall(core.png.write, path, v, { z = z, colormap = o.colormap, range = o.range,
                                                          labels = o.labels, compression = o.compression })
  if not ok then error(where .. ": " .. tostring(res), 2) end
  if not res then error(where .. ": cannot write " .. tostring(err), 2) end
  return path
end

--- The built-in label palette: {[0] = {r, g, b}, ..., [255] = {r, g, b}}.
function M.default_palette()
  return core.png.default_palette()
end

return M
