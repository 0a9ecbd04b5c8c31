-- bench/filter.lua — tortuga's filters beside scipy.ndimage and scikit-image, on the same data, in one run.
--   build/tortuga bench/filter.lua [--n 256] [--repeat 3] [--slices 40] [--size 1024] [--out /tmp/tortuga-bench]
-- 1. 3D Gaussian (sigma 2, truncate 4, reflect) and 3D median (3x3x3) on an n^3 random f32 volume, against
--    scipy.ndimage.gaussian_filter / median_filter (bench/filter_ref.py with /usr/bin/python3).
-- 2. Registration of `slices` slices of size^2 (a grain texture drifted by a known random walk) against
--    skimage.registration.phase_cross_correlation(upsample_factor=20) on consecutive pairs; both accuracies printed.
-- 3. Destripe and flatten throughput (slices per second at size^2).
-- Timings are wall-clock, best of `repeat`; tortuga uses tg.threads() threads (TG_THREADS / default).
local tg = require "tortuga"
local opts = tg.util.script_args(arg, { n = 256, ["repeat"] = 3, slices = 40, size = 1024, out = "/tmp/tortuga-bench" },
  "bench/filter")
os.execute("mkdir -p '" .. opts.out .. "'")
local here = arg[0]:match("(.*)/") or "bench"

local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
local now = B.now

local best_of = B.best_of

local function python(args)
  local p = io.popen("/usr/bin/python3 " .. here .. "/filter_ref.py " .. args .. " 2>/dev/null")
  local out = p:read("a")
  p:close()
  return out
end

-- 1. Gaussian and median on n^3 f32
local n = opts.n
local noise = tg.volume.new { n, n, n, dtype = "f32" }
do -- uniform noise from a counter hash, written once
  local s = {}
  local x = 12345
  for i = 1, n * n * n do
    x = (x * 1103515245 + 12345) % 2147483648
    s[i] = string.pack("<f", x / 2147483648)
  end
  noise = tg.volume.from_bytes(table.concat(s), { n, n, n, dtype = "f32" })
end
local raw = opts.out .. "/filter_noise.f32"
local f = assert(io.open(raw, "wb"))
f:write(noise:bytes())
f:close()
local tg_gauss = best_of(opts["repeat"], function() tg.filter.gaussian(noise, 2) end)
local tg_median = best_of(math.max(1, opts["repeat"] // 2), function() tg.filter.median(noise, 1) end)
local ref = python(string.format("bench %s %d %d", raw, n, opts["repeat"]))
local sg, sm = tonumber(ref:match("scipy_gaussian (%S+)")), tonumber(ref:match("scipy_median (%S+)"))
print(string.format("%d^3 f32, %d threads", n, tg.threads()))
local function line(what, t, s)
  print(string.format("  %-28s tortuga %8.3f s   %-8s %s   %s", what, t, s and "scipy" or "", s and string.format("%8.3f s", s) or "(scipy not available)",
    s and string.format("ratio %.1fx", s / t) or ""))
end
line("gaussian sigma 2 (3D)", tg_gauss, sg)
line("median 3x3x3", tg_median, sm)
noise = nil
collectgarbage()

-- 2. registration
local size, nz = opts.size, opts.slices
local tex = tg.filter.gaussian(tg.volume.from_bytes(string.rep("\0", size * size * 4), { size, size, 1, dtype = "f32" }), 1)
do
  local s, x = {}, 777
  for i = 1, size * size do
    x = (x * 1103515245 + 12345) % 2147483648
    s[i] = string.pack("<f", x / 2147483648 * 255)
  end
  tex = tg.filter.gaussian(tg.volume.from_bytes(table.concat(s), { size, size, 1, dtype = "f32" }), 2, { per_slice = true })
end
local texb = tex:bytes()
local stack = tg.volume.from_bytes(string.rep(texb, nz), { size, size, nz, dtype = "f32" })
local drift, x, y, seed = { { x = 0, y = 0 } }, 0, 0, 99
for z = 2, nz do
  seed = (seed * 1103515245 + 12345) % 2147483648
  x = x + (seed / 2147483648 - 0.5) * 2
  seed = (seed * 1103515245 + 12345) % 2147483648
  y = y + (seed / 2147483648 - 0.5) * 2
  drift[z] = { x = x, y = y }
end
local drifted = tg.filter.shift(stack, drift, { invert = true, fill = "nearest", interpolation = "cubic" })
local stretched = tg.filter.normalize(drifted, { per_slice = false })
local u8 = tg.volume.from_bytes(string.rep("\0", size * size * nz), { size, size, nz, dtype = "u8" })
do -- f32 [0, 1] -> u8
  local b = stretched:bytes()
  local out = {}
  for i = 1, #b // 4 do out[i] = string.char(math.floor(string.unpack("<f", b, 4 * i - 3) * 255 + 0.5)) end
  u8 = tg.volume.from_bytes(table.concat(out), { size, size, nz, dtype = "u8" })
end
stack, drifted, stretched = nil, nil, nil
collectgarbage()
local rawu8 = opts.out .. "/filter_stack.u8"
f = assert(io.open(rawu8, "wb"))
f:write(u8:bytes())
f:close()
local shifts
local tg_reg = best_of(opts["repeat"], function() shifts = tg.filter.register(u8) end)
local threads = tg.threads()
tg.threads(1)
local tg_reg1, tg_cpu1 = best_of(opts["repeat"], function() tg.filter.register(u8) end), math.huge
for _ = 1, opts["repeat"] do -- CPU seconds of the 1-thread run: what the load of other processes does not change
  local c0 = os.clock()
  tg.filter.register(u8)
  tg_cpu1 = math.min(tg_cpu1, os.clock() - c0)
end
tg.threads(threads)
local function rms(s)
  local e = 0
  for z = 1, nz do e = e + (s[z].x - drift[z].x) ^ 2 + (s[z].y - drift[z].y) ^ 2 end
  return math.sqrt(e / nz)
end
local out = python(string.format("register %s %d %d %d 20 %d", rawu8, size, size, nz, opts["repeat"]))
local sk_t, sk_cpu = tonumber(out:match("skimage_register (%S+)")), tonumber(out:match("skimage_register_cpu (%S+)"))
local sk = {}
for sx, sy in out:gmatch("shift (%S+) (%S+)") do sk[#sk + 1] = { x = tonumber(sx), y = tonumber(sy) } end
print(string.format("registration, %d slices of %dx%d u8 (drift: random walk, steps up to 1 px)", nz, size, size))
print(string.format("  tortuga   %8.3f s  (%.1f slices/s, %d threads)  RMS error %.3f px", tg_reg, nz / tg_reg, threads,
  rms(shifts)))
print(string.format("  tortuga   %8.3f s  (%.1f slices/s, 1 thread; %.3f s CPU)", tg_reg1, nz / tg_reg1, tg_cpu1))
if sk_t then
  print(string.format("  skimage   %8.3f s  (upsample 20, best of %d)  RMS error %.3f px   ratio %.1fx (%.1fx with 1 thread)",
    sk_t, opts["repeat"], #sk == nz and rms(sk) or 0 / 0, sk_t / tg_reg, sk_t / tg_reg1))
  print(string.format("  CPU seconds, 1 thread each: tortuga %.3f, skimage %.3f: ratio %.1fx", tg_cpu1, sk_cpu or 0 / 0,
    (sk_cpu or 0 / 0) / tg_cpu1))
else
  print("  skimage not available (apt-get install python3-skimage)")
end

-- 3. destripe and flatten throughput (no peer in the same run: Fiji's Xlib filter is Java)
local t_ds = best_of(opts["repeat"], function() tg.filter.destripe(u8) end)
print(string.format("destripe (defaults: levels 3, db4, sigma 0.5), %d slices of %dx%d: %.3f s, %.1f slices/s", nz, size,
  size, t_ds, nz / t_ds))
for _, order in ipairs { 0, 2 } do
  local t_fl = best_of(opts["repeat"], function() tg.filter.flatten(u8, { order = order }) end)
  print(string.format("flatten (sigma %g px, order %d), %d slices of %dx%d: %.3f s, %.1f slices/s", size / 8, order, nz,
    size, size, t_fl, nz / t_fl))
end
