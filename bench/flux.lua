--- bench/flux.lua — tortuga's flux solver timed beside scipy's Jacobi-preconditioned CG on the same volumes, in the
-- same run, plus tortuga's own figures on TF-500 and a 300^3 generated three-phase cathode.
--
--   BUILD/tortuga bench/flux.lua [--threads N] [--no-tf500] [--no-ref] [--size 300]
--
-- Peers: TauFactor, PoreSpy and pytrax cannot be installed here (no PyPI), so bench/flux_ref.py solves exactly the
-- same discrete problem (TauFactor's convention) with scipy.sparse.linalg.cg + Jacobi to relative residual 1e-6
-- (Debian's python3-scipy). tortuga runs with its default tol = 1e-6 on the TRUE residual AND the current
-- balance, which is stricter. Published figures for TF-500 (TauFactor 2 paper: 447 s per direction on a
-- 32-core CPU, 26 s on an A6000 GPU; PoreSpy 540 s; PuMA 1201 s) are printed for orientation only, NOT SAME-RUN.
-- Wall time from a monotonic clock, CPU time (all threads) from os.clock(), peak memory of this process (VmHWM):
-- bench/common.lua.
local tg = require "tortuga"

local args = { threads = nil, tf500 = true, ref = true, size = 300 }
local i = 1
while arg and arg[i] do
  local a = arg[i]
  if a == "--threads" then args.threads = tonumber(arg[i + 1]) // 1; i = i + 1
  elseif a == "--size" then args.size = tonumber(arg[i + 1]) // 1; i = i + 1
  elseif a == "--no-tf500" then args.tf500 = false
  elseif a == "--no-ref" then args.ref = false
  else error("unknown argument " .. a) end
  i = i + 1
end
if args.threads then tg.threads(args.threads) end
tg.progress(false)

local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
local now = B.now

local peak_mib = B.peak_mib

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local shared = os.getenv("TG_SHARED_DATA") or (here .. "../../shared/data")
local tmp = os.getenv("TMPDIR") or "/tmp"

local function ref(path, label, axis)
  if not args.ref then return nil end
  local p = io.popen(string.format("/usr/bin/python3 '%sflux_ref.py' '%s' %d %s 2>&1", here, path, label, axis))
  local out = p:read("a")
  p:close()
  local ok, r = pcall(tg.json.decode, out:match("{.*}") or "")
  if not ok then print("  scipy reference did not run: " .. out) return nil end
  return r
end

local function run(name, v, cond, axis, path, label)
  local t0, c0 = now(), os.clock()
  local r = tg.transport.flux(v, { conductivity = cond, axis = axis })
  local t, cpu = now() - t0, os.clock() - c0
  local line = string.format("%-34s %s  tau %.5f  its %4d  res %.1e  mism %.1e  %s  tortuga %7.2f s (cpu %7.2f s)",
    name, axis, r.tau[axis], r.iterations[axis], r.residual[axis], r.current_mismatch[axis],
    r.converged and "conv" or "NOT CONVERGED", t, cpu)
  local peer = path and ref(path, label, axis)
  if peer then
    line = line .. string.format("  | scipy CG+Jacobi %7.2f s (%d its, tau %.5f)  ratio %.1fx", peer.seconds, peer.iterations,
      peer.tau, peer.seconds / t)
  end
  print(line)
  return r, t
end

print(string.format("threads: %d", tg.threads()))

-- synth_3phase_200 (shared volume): both conducting phases, all axes, against scipy on the same file
local s200 = shared .. "/synth-3phase-200/synth_3phase_200.tif"
if io.open(s200, "rb") then
  local v = tg.io.read(s200)
  for _, ph in ipairs{ 1, 2 } do
    local cond = { [0] = 0, [1] = 0, [2] = 0 }
    cond[ph] = 1
    for _, ax in ipairs{ "z", "y", "x" } do
      run("synth_3phase_200 phase " .. ph, v, cond, ax, ax == "z" and s200 or nil, ph)
    end
  end
  v:release()
end

-- a generated three-phase cathode (pore 0, CAM 1, ISE 2): CAM and ISE along z
do
  local n = args.size
  local path = string.format("%s/tortuga_bench_flux_%d.tif", tmp, n)
  local v = tg.generate.cathode { size = n, seed = 1 }
  tg.io.write(path, v)
  for _, ph in ipairs{ 1, 2 } do
    local cond = { [0] = 0, [1] = 0, [2] = 0 }
    cond[ph] = 1
    run(string.format("cathode %d^3 %s", n, ph == 1 and "CAM" or "ISE"), v, cond, "z", path, ph)
  end
  v:release()
  os.remove(path)
end

-- TF-500 (TauFactor 2's benchmark): every direction
if args.tf500 then
  local zip = shared .. "/tf500/TF-500x500x500-1x2x6-v3.tiff.zip"
  local dir = tmp .. "/tortuga_bench_tf500"
  local tif = dir .. "/TF-500x500x500-1x2x6-v3.tiff"
  if not io.open(tif, "rb") then os.execute("mkdir -p '" .. dir .. "' && unzip -o -q '" .. zip .. "' -d '" .. dir .. "'") end
  if io.open(tif, "rb") then
    local v = tg.io.read(tif)
    -- its resolution tags (72 dpi, no z calibration) are not the voxel size: TauFactor's reference is for cubic voxels
    v:spacing({ 1e-6, 1e-6, 1e-6 })
    local refs = { z = 4.2431, y = 1.1513, x = 1.3905 }
    for _, ax in ipairs{ "z", "y", "x" } do
      local r = run("TF-500", v, { [0] = 0, [255] = 1 }, ax)
      print(string.format("  TF-500 %s: tau %.4f vs 4.2431/1.1513/1.3905 reference %.4f -> %+.3f %%", ax, r.tau[ax], refs[ax],
        100 * (r.tau[ax] / refs[ax] - 1)))
    end
    print("  published (NOT SAME-RUN): TauFactor 2 CPU 32-core 447 s, GPU A6000 26 s, PoreSpy 540 s, PuMA 1201 s per direction")
    v:release()
  else
    print("TF-500: could not unzip " .. zip .. " (is Debian's unzip installed?)")
  end
end
print(string.format("peak memory of this process: %.0f MiB", peak_mib()))
