--- tg.measure — descriptors of a label volume.
--
--   tg.measure.fractions(labels) --> { [0] = 0.07, [1] = 0.55, [2] = 0.38, units = "1" }
--     Volume fraction of every label present (voxel count / total voxels), for u8, u16 or i32 labels.
--     With {phases = {pore = 0, cam = 1, ise = 2}} the result also has `by_name = {pore = ..., ...}`.
local util = require "tortuga.util"
local volume = require "tortuga.volume"

local M = {}

function M.fractions(labels, opts)
  if not volume.is_volume(labels) then error("tg.measure.fractions: expected a label volume, got " .. type(labels), 2) end
  local o = util.options(opts, { phases = util.NIL }, "tg.measure.fractions")
  if labels.dtype ~= "u8" and labels.dtype ~= "u16" and labels.dtype ~= "i32" then
    error("tg.measure.fractions: labels must be an integer volume (u8, u16, i32), got " .. labels.dtype, 2)
  end
  local nx, ny, nz = labels:dims()
  local total = nx * ny * nz
  local out = { units = "1" }
  for label, n in pairs(labels:counts()) do out[label] = n / total end
  if o.phases then
    out.by_name = {}
    for name, label in pairs(o.phases) do out.by_name[name] = out[label] or 0.0 end
  end
  return out
end

return M
