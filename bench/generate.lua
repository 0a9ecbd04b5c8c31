-- bench/generate.lua — time to generate the built-in cathode sample and its synthetic SEM stacks.
--   build/tortuga bench/generate.lua [--sizes 200,400] [--repeat 3]
-- There is no peer tool that makes this structure, so the figures are printed alone: wall time (best of
-- --repeat runs) and voxels per second, for tg.generate.cathode (default options, seed 1, 100 nm voxels)
-- and tg.generate.sem (default artefacts) on its result.
local tg = require "tortuga"
local opts = tg.util.script_args(arg, { sizes = "200,400", ["repeat"] = 3 }, "bench/generate")

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local function best_of(k, fn)
  local best, r1, r2 = math.huge, nil, nil
  for _ = 1, k do
    r1, r2 = nil, nil
    collectgarbage()
    local t0 = now()
    r1, r2 = fn()
    best = math.min(best, now() - t0)
  end
  return best, r1, r2
end

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
