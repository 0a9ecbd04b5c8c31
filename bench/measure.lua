--- bench/measure.lua — tortuga's chords, components, distance transform and local thickness, timed beside the
-- peers that run here, in the same run on the same data.
--
--   BUILD/tortuga bench/measure.lua [labels.tif] [--size 300] [--threads N] [--no-thickness]
--
-- Without a file, the built-in generator makes a 300^3 three-phase cathode (pore 0, CAM 1, ISE 2), writes it to
-- a temporary TIFF, and bench/measure_ref.py times scipy.ndimage.label and distance_transform_edt on that same
-- file (Debian's python3-scipy). PoreSpy is not installed here (not a Debian package): its chord figure is the
-- one quoted in issue 5 ("about 7 s per phase for chords and distributions on three axes" on a 300^3 volume on
-- this machine kind), shown for orientation only and labelled NOT SAME-RUN.
-- Wall time from a monotonic clock (bench/common.lua).
local tg = require "tortuga"

local args = { size = 300, file = nil, threads = nil, thickness = true }
local i = 1
while arg and arg[i] do
  local a = arg[i]
  if a == "--size" then args.size = tonumber(arg[i + 1]) // 1; i = i + 1
  elseif a == "--no-thickness" then args.thickness = false
  elseif a == "--threads" then args.threads = tonumber(arg[i + 1]) // 1; i = i + 1
  else args.file = a end
  i = i + 1
end
if args.threads then tg.threads(args.threads) end

local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
local now = B.now

local timed = B.timed

local path = args.file
if not path then
  path = (os.getenv("TMPDIR") or "/tmp") .. string.format("/tortuga_bench_measure_%d.tif", args.size)
  local v = tg.generate.cathode { size = args.size, seed = 1 }
  tg.io.write(path, v)
  v:release()
end
local labels = tg.io.read(path)
local nx, ny, nz = labels:dims()
local nvox = nx * ny * nz
print(string.format("volume: %s (%dx%dx%d), threads: %d", path, nx, ny, nz, tg.threads()))

-- peers, same file, same run
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local cmd = string.format("TG_BENCH_VOLUME='%s' /usr/bin/python3 '%smeasure_ref.py' bench", path, here)
local p = io.popen(cmd)
local out = p:read("a")
p:close()
local ok, peer = pcall(tg.json.decode, out:match("{.*}") or "")
if not ok then peer = nil; print("scipy reference did not run: " .. tostring(out)) end

local rows = {}
local function row(what, ours, theirs, peer_name, note)
  rows[#rows + 1] = { what, ours, theirs, peer_name, note }
end

local max_chords = 0
for phase = 0, 2 do
  local t_lab, c = timed(function() return tg.measure.components(labels, { phase = phase }) end)
  local ps = tostring(phase)
  row("label phase " .. phase .. " (6-conn), n=" .. c.n, t_lab, peer and peer.label_s[ps], "scipy.ndimage.label",
    peer and (peer.n[ps] == c.n and "same count" or ("COUNT DIFFERS: scipy " .. peer.n[ps])) or "")
  c.labels:release()
  local t_edt, d = timed(function() return tg.measure.distance(labels, { phase = phase }) end)
  d:release()
  row("distance transform phase " .. phase, t_edt, peer and peer.edt_s[ps], "scipy distance_transform_edt", "")
  local t_ch, ch = timed(function()
    local ch = tg.measure.chords(labels, { phase = phase, axis = "all" })
    tg.measure.cld(ch)
    return ch
  end)
  max_chords = math.max(max_chords, ch.x.n + ch.y.n + ch.z.n)
  row("chords + cld, 3 axes, phase " .. phase, t_ch, 7.0, "PoreSpy (issue text)", "NOT SAME-RUN: quoted figure")
  if args.thickness then
    local t_th, th = timed(function() return tg.measure.thickness(labels, { phase = phase }) end)
    th.map:release()
    row("local thickness phase " .. phase, t_th, nil, "-", string.format("d50 = %.3g m", th.d50))
  end
  collectgarbage()
end
local t_perc = timed(function() return tg.measure.percolation(labels, { phase = 2, axis = "z" }) end)
row("percolation phase 2 (z)", t_perc, nil, "-", "")

print(string.format("%-42s %10s %10s  %-30s %s", "step", "tortuga s", "peer s", "peer", "ratio / note"))
for _, r in ipairs(rows) do
  local ratio = r[3] and string.format("%.1fx", r[3] / r[2]) or ""
  print(string.format("%-42s %10.4f %10s  %-30s %s %s", r[1], r[2], r[3] and string.format("%.4f", r[3]) or "-", r[4],
    ratio, r[5]))
end
print(string.format([[
memory (state bytes per voxel, beyond the u8 labels):
  components: 4 (i32 labels) + 16 per x-run (worst case 8 per voxel); no mask when a phase is given
  distance:   1 (phase mask) + 8 (f64 output; 4 with dtype = "f32")
  thickness:  1 (phase mask) + 8 (f64 squared distance) + 1/8 (centre bitmap) + 4 (f32 output) + 24 per kept centre
  chords:     4 per chord in the engine + 16 per chord in the Lua list, no per-voxel state: here at most %d
              chords on 3 axes, so a 1000^3 volume of the same structure needs ~%.2f GiB beside its labels.]],
  max_chords, max_chords / nvox * 1e9 * 20 / 2 ^ 30))
