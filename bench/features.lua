-- bench/features.lua — tortuga's pixel features beside the same features computed with scipy.ndimage, same data,
-- same run (bench/features_ref.py with /usr/bin/python3).
--   build/tortuga bench/features.lua [--nx 300] [--ny 300] [--nz 112] [--set full] [--dims 3]
--                                    [--sigmas 0.3,0.7,1.0,1.6,3.5,5.0,10.0] [--repeat 1] [--out /tmp/tortuga-bench]
-- Data: two channels (BSE-like and SE-like textures: hashed noise smoothed at sigma 1 and 2), f32.
-- tortuga computes the whole (voxels x features) matrix in one slab; scipy computes each feature as an f32 array
-- (first and second derivatives shared between features of a scale, as a careful scipy user would).
-- Timings are wall-clock, best of `repeat`; tortuga uses tg.threads() threads.
local tg = require "tortuga"
local features = require("tortuga.segment").features
local opts = tg.util.script_args(arg, { nx = 300, ny = 300, nz = 112, set = "full", dims = 3,
  sigmas = "0.3,0.7,1.0,1.6,3.5,5.0,10.0", ["repeat"] = 1, out = "/tmp/tortuga-bench" }, "bench/features")
os.execute("mkdir -p '" .. opts.out .. "'")
local here = arg[0]:match("(.*)/") or "bench"

local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
local now = B.now

local nx, ny, nz = opts.nx, opts.ny, opts.nz
local sigmas = {}
for s in tostring(opts.sigmas):gmatch("[^,]+") do sigmas[#sigmas + 1] = tonumber(s) end

-- hashed noise, one byte per voxel, built slice by slice
local parts, x = {}, 2463534242
for z = 1, nz do
  local row = {}
  for i = 1, nx * ny do
    x = (x * 1103515245 + 12345) % 2147483648
    row[i] = x >> 23
  end
  local chunk = {}
  for i = 1, #row, 4096 do chunk[#chunk + 1] = string.char(table.unpack(row, i, math.min(i + 4095, #row))) end
  parts[z] = table.concat(chunk)
end
local noise = tg.volume.from_bytes(table.concat(parts), { nx, ny, nz, dtype = "u8" })
parts = nil
local bse = tg.filter.gaussian(noise, 1)
local se = tg.filter.gaussian(noise, 2)
noise = nil
collectgarbage()

local raw = opts.out .. "/features_channels.f32"
local f = assert(io.open(raw, "wb"))
f:write(bse:bytes())
f:write(se:bytes())
f:close()

local F = features({ bse, se }, { sigmas = sigmas, set = opts.set, dims = opts.dims })
local best = math.huge
for _ = 1, opts["repeat"] do
  local t0 = now()
  local X = F:slab()
  best = math.min(best, now() - t0)
  X:release()
  collectgarbage()
end

local p = io.popen(string.format("/usr/bin/python3 %s/features_ref.py bench %s %d %d %d 2 %s %d %s %d 2>&1", here, raw,
  nx, ny, nz, opts.set, opts.dims, table.concat(sigmas, ","), opts["repeat"]))
local ref = p:read("a")
p:close()
local ts, nf = ref:match("seconds (%S+) features (%d+)")
ts = tonumber(ts)

print(string.format("features of a %dx%dx%d two-channel f32 slab: set %s, %dD, sigmas {%s}, %d features, %d threads",
  nx, ny, nz, opts.set, opts.dims, table.concat(sigmas, ", "), F.count, tg.threads()))
print(string.format("  tortuga %8.2f s   (%.1f Mvoxel/s)", best, nx * ny * nz / best / 1e6))
if ts then
  if tonumber(nf) ~= F.count then print(string.format("  (scipy computed %s features, tortuga %d)", nf, F.count)) end
  print(string.format("  scipy   %8.2f s   ratio %.1fx", ts, ts / best))
else
  print("  scipy: not available (" .. ref:gsub("\n", " ") .. ")")
end
os.remove(raw)
