--- bench/stream_measure.lua — tg.describe on a label stack larger than memory (streamed, issue 12) beside the
-- in-memory describe of a smaller volume, and scikit-image / scipy on that smaller volume.
--
--   build/tortuga bench/stream_measure.lua [--size 1024] [--tile 256] [--memory 2GB] [--dir /tmp]
--
-- The big stack (size x size x size u8 voxels, about 1.07 G at 1024) is written slab by slab with tg.io.writer from
-- a generated cathode of tile^3 voxels (tg.generate.cathode) repeated tile by tile, so the generator needs no more
-- memory than the tile: the writer never holds more than one slab of tile slices. Each stage runs in its own
-- process, so its peak resident memory (VmHWM of /proc/self/status) is its own:
--   1. in memory: tg.describe(volume) of the tile, read whole (the geometry: fractions, open surfaces with the Eq. 1
--      interfaces, chords and CLDs of CAM and ISE along x, y, z, percolation of CAM and ISE along x, y, z);
--   2. streamed: tg.describe(tg.io.open(tile.tif), {memory = M}), the same parts, the same numbers (checked);
--   3. streamed: tg.describe(tg.io.open(big.tif), {memory = M}); thickness, transport and active CAM need the
--      volume in memory (about 35 bytes per voxel: 37 GB here), so they are left out, as tg.describe says.
-- Peers on the tile (Debian's python3-skimage and python3-scipy, bench/stream_measure_ref.py): marching cubes +
-- mesh_surface_area of the three phases (scikit-image's open convention, as tortuga's "open") and
-- scipy.ndimage.label of CAM and ISE (the labelling behind percolation). Neither streams: on the big stack they
-- would hold the whole volume and its float copies (marching_cubes takes float input: 8+ GB), so they are not run
-- there. PoreSpy is not installed here (not a Debian package).
local tg = require "tortuga"
local here = (arg and arg[0] and arg[0]:match("(.*/)")) or "./"
local B = dofile(here .. "common.lua")

local function opt(name, def)
  for i = 1, #arg - 1 do if arg[i] == "--" .. name then return arg[i + 1] end end
  return def
end
local SIZE, TILE = math.tointeger(tonumber(opt("size", "1024"))), math.tointeger(tonumber(opt("tile", "256")))
local MEMORY, DIR = opt("memory", "2GB"), opt("dir", "/tmp")
local STAGE = opt("stage", nil)
local TILE_PATH = string.format("%s/tg-bench-stream-tile-%d.tif", DIR, TILE)
local BIG_PATH = string.format("%s/tg-bench-stream-big-%d.tif", DIR, SIZE)
local GEOMETRY = { phases = { pore = 0, cam = 1, ise = 2 }, transport = false, thickness = false, active = false }

local function geometry_opts(memory)
  local o = {}
  for k, v in pairs(GEOMETRY) do o[k] = v end
  o.memory = memory
  return o
end

-- A few numbers of a describe result, printed by each stage for the parent to compare.
local function summary(d)
  local f = d:flat()
  local keys = { "fractions.by_name.cam", "surfaces.interfaces.1-2", "chords.cam.z.mean", "chords.ise.x.n",
                 "percolation.cam.z.spanning", "percolation.ise.x.spanning" }
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = string.format("%s=%.17g", k, f[k] or 0 / 0) end
  return table.concat(out, " ")
end

if STAGE == "memory" then
  local v = tg.io.read(TILE_PATH)
  local t, d = B.timed(tg.describe, v, geometry_opts(nil))
  print(string.format("RESULT seconds=%.3f voxels=%d peak_mib=%.1f %s", t, d.voxels.total, B.peak_mib(), summary(d)))
  return
elseif STAGE == "tile" or STAGE == "big" then
  local st = tg.io.open(STAGE == "tile" and TILE_PATH or BIG_PATH)
  local t, d = B.timed(tg.describe, st, geometry_opts(MEMORY))
  local s = d.streamed
  print(string.format("RESULT seconds=%.3f voxels=%d peak_mib=%.1f slab=%d slabs=%d counted_peak_mib=%.1f %s", t,
    d.voxels.total, B.peak_mib(), s.slab, s.slabs, s.peak / 2 ^ 20, summary(d)))
  return
end

-- ---- the parent: data, then each stage in its own process

local function load_avg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("l") or "?"
  if f then f:close() end
  return s
end

local function ensure_data()
  local f = io.open(TILE_PATH, "rb")
  local have_tile = f ~= nil
  if f then f:close() end
  local t0 = B.now()
  local tile
  if not have_tile then
    tile = tg.generate.cathode { size = { TILE, TILE, TILE }, spacing = 1e-7, seed = 12 }
    tg.io.write(TILE_PATH, tile)
  else
    tile = tg.io.read(TILE_PATH)
  end
  f = io.open(BIG_PATH, "rb")
  if f then f:close() return B.now() - t0 end
  assert(SIZE % TILE == 0, "--size must be a multiple of --tile")
  local rep, bytes = SIZE // TILE, tile:bytes()
  local w = tg.io.writer(BIG_PATH, { dims = { SIZE, SIZE, SIZE }, dtype = "u8", spacing = 1e-7 })
  for _ = 1, rep do -- one slab of TILE slices at a time: each tile row repeated rep times, each row block rep times
    local parts = {}
    for z = 0, TILE - 1 do
      local plane = {}
      for y = 0, TILE - 1 do
        local off = (z * TILE + y) * TILE
        plane[#plane + 1] = string.rep(bytes:sub(off + 1, off + TILE), rep)
      end
      local p = table.concat(plane)
      parts[#parts + 1] = string.rep(p, rep)
    end
    local slab = tg.volume.from_bytes(table.concat(parts), { SIZE, SIZE, TILE, dtype = "u8", spacing = 1e-7 })
    w:write(slab)
    slab:release()
    parts = nil
    collectgarbage()
  end
  w:close()
  return B.now() - t0
end

local function stage(name)
  local cmd = string.format("'%s' '%s' --stage %s --size %d --tile %d --memory %s --dir '%s' 2>&1",
    arg[-1] or "build/tortuga", arg[0], name, SIZE, TILE, MEMORY, DIR)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local line = out:match("RESULT ([^\n]*)")
  if not line then error("stage " .. name .. " failed:\n" .. out) end
  local r = { raw = line }
  for k, v in line:gmatch("(%S+)=(%S+)") do r[k] = tonumber(v) or v end
  return r
end

print(string.format("tortuga %s, %d threads, load average %s (the machine is shared with other jobs: times are "
  .. "wall times under that load)", tg.version, tg.threads(), load_avg()))
local gen = ensure_data()
print(string.format("data: %s (%d^3 generated) and %s (%d^3 u8, its tiles), %.1f s", TILE_PATH, TILE, BIG_PATH, SIZE, gen))

local mem = stage("memory")
local tile = stage("tile")
local big = stage("big")
local function row(name, r)
  print(string.format("%-44s %9.2f s %8.1f Mvox/s  peak RSS %8.1f MiB%s", name, r.seconds, r.voxels / r.seconds / 1e6,
    r.peak_mib, r.slabs and string.format("  (%d slabs of %d, counted peak %.0f MiB)", r.slabs, r.slab,
      r.counted_peak_mib) or ""))
end
print("\ntg.describe, geometry (fractions, open surfaces + Eq. 1, chords + CLD x/y/z, percolation x/y/z of CAM and ISE)")
row(string.format("in memory, %d^3 (read whole)", TILE), mem)
row(string.format("streamed, %d^3, memory = %s", TILE, MEMORY), tile)
row(string.format("streamed, %d^3 = %.2f G voxels, memory = %s", SIZE, SIZE ^ 3 / 1e9, MEMORY), big)
local same = true
for k, v in mem.raw:gmatch("(%S+)=(%S+)") do
  if k:find("%.") and tile[k] ~= tonumber(v) then same = false print("DIFFERENT", k, v, tile[k]) end
end
print(string.format("streamed %d^3 numbers equal to the in-memory ones: %s", TILE, same and "yes" or "NO"))

-- peers on the tile
local cmd = string.format("/usr/bin/python3 '%sstream_measure_ref.py' '%s' 2>&1", here, TILE_PATH)
local p = io.popen(cmd)
local out = p and p:read("a") or ""
if p then p:close() end
print(string.format("\npeers on the %d^3 tile (in memory; they do not stream):", TILE))
io.write(out)
print(string.format("\nload average at the end: %s", load_avg()))
