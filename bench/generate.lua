-- bench/generate.lua — time to generate the built-in cathode sample and its synthetic SEM stacks.
--   build/tortuga bench/generate.lua [--sizes 200,400] [--repeat 3]
-- There is no peer tool that makes this structure, so the figures are printed alone: wall time (best of
-- --repeat runs) and voxels per second, for tg.generate.cathode (default options, seed 1, 100 nm voxels)
-- and tg.generate.sem (default artefacts) on its result.
local tg = require "tortuga"
local opts = tg.util.script_args(arg, { sizes = "200,400", ["repeat"] = 3 }, "bench/generate")

local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
local now = B.now

local best_of = B.best_of

print(string.format("tortuga %s, %d threads", tg.version, tg.threads()))
for s in tostring(opts.sizes):gmatch("%d+") do
  local n = tonumber(s)
  local nvox = n * n * n
  local k = math.tointeger(opts["repeat"]) or 3
  local t, labels, info = best_of(k, function()
    return tg.generate.cathode { size = { n, n, n }, spacing = 1e-7, seed = 1 }
  end)
  print(string.format("generate.cathode %d^3: %.3f s (best of %d), %.3g voxels/s   [cam %.4f pore %.4f ise %.4f, %d CAM particles]",
    n, t, k, nvox / t, info.fractions.cam, info.fractions.pore, info.fractions.ise, info.particles.cam))
  local ts = best_of(k, function() return tg.generate.sem(labels, { seed = 1 }) end)
  print(string.format("generate.sem     %d^3: %.3f s (best of %d), %.3g voxels/s (BSE + SE)", n, ts, k, nvox / ts))
  labels:release()
end
