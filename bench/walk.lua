-- bench/walk.lua — random-walk tortuosity: tortuga beside pytrax, same phase, same walkers and steps, one run.
--   build/tortuga bench/walk.lua [--size 300] [--walkers 2000] [--steps 5000] [--phase 1]
-- The phase is the CAM of the built-in generated sample (tg.generate.cathode, seed 1). pytrax is run by
-- bench/walk_ref.py with /usr/bin/python3 when PYTRAX_PATH (or /work/peers/pytrax) holds a checkout of it.
local tg = require "tortuga"
local opts = tg.util.script_args(arg, { size = 300, walkers = 2000, steps = 5000, phase = 1, out = "/tmp/tortuga-bench" }, "bench/walk")
os.execute("mkdir -p " .. opts.out)

local n = opts.size
local labels = tg.generate.cathode{ size = { n, n, n }, spacing = 1e-7, seed = 1 }
local path = opts.out .. "/walk_labels.tif"
tg.io.write(path, labels)

local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
local now = B.now

local best = math.huge
local r
for _ = 1, 3 do
  local t0 = now()
  r = tg.transport.random_walk(labels, { phase = opts.phase, walkers = opts.walkers, steps = opts.steps, seed = 1 })
  best = math.min(best, now() - t0)
end
local steps = opts.walkers * opts.steps
print(string.format("tortuga random walk, %d^3 phase %d, %d walkers x %d steps, %d threads: %.3f s (best of 3), %.3g steps/s/core",
  n, opts.phase, opts.walkers, opts.steps, tg.threads(), best, steps / best / tg.threads()))
print(string.format("  tau x %.3f  y %.3f  z %.3f (pytrax fit)   late fit x %.3f  y %.3f  z %.3f",
  r.tau.x, r.tau.y, r.tau.z, r.tau_late.x, r.tau_late.y, r.tau_late.z))

local cmd = string.format("/usr/bin/python3 %s/walk_ref.py %s %d %d %d 2>/dev/null", arg[0]:match("(.*)/") or "bench",
  path, opts.phase, opts.walkers, opts.steps)
local p = io.popen(cmd)
local out = p:read("a")
p:close()
local ok, ref = pcall(require("cjson").decode, out)
if ok and ref and ref.seconds then
  print(string.format("pytrax (1 process), same phase and sizes: %.3f s   tau x %.3f  y %.3f  z %.3f",
    ref.seconds, ref.tau.x, ref.tau.y, ref.tau.z))
  print(string.format("ratio pytrax / tortuga: %.1fx", ref.seconds / best))
else
  print("pytrax not run (set PYTRAX_PATH to a checkout of PMEAL/pytrax): " .. (out ~= "" and out or "no output"))
end
