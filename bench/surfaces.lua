--- bench/surfaces.lua — surfaces and interfaces of three phases: tortuga vs scikit-image, same run, same data.
--
--   BUILD/tortuga bench/surfaces.lua [labels.tif] [--size 300] [--threads N]
--
-- Without a file, the built-in generator makes a size^3 three-phase cathode (pore 0, CAM 1, ISE 2) and writes it
-- to a temporary TIFF. bench/surfaces_ref.py (Debian's python3-skimage) then times marching_cubes(mask, 0.5) +
-- mesh_surface_area for each phase and each pair union (what S_a and S_{a u b} need) on that same file, and
-- tortuga's tg.measure.surfaces does the same work (open convention, Lewiner). Both figures and their ratio are
-- printed, with the largest relative difference between the areas.
-- Memory (state per voxel): tortuga's surfaces keep nothing per voxel beyond the labels (1 byte/voxel, u8);
-- scikit-image needs the float32 indicator (4 bytes/voxel) plus the mesh of each phase.
-- Then the sub-voxel surfaces (source = "smoothed" and "probabilities", sigma 1 voxel) on the same volume: their
-- time beside the label-based one (issue 15: at most 2x), and scikit-image on the same smoothed fields.
-- Wall time from a monotonic clock (bench/common.lua).
local tg = require "tortuga"

local args = { size = 300 }
local i = 1
while arg and arg[i] do
  local a = arg[i]
  if a == "--size" then args.size = tonumber(arg[i + 1]) // 1; i = i + 1
  elseif a == "--threads" then args.threads = tonumber(arg[i + 1]) // 1; i = i + 1
  else args.file = a end
  i = i + 1
end
if args.threads then tg.threads(args.threads) end

local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
local now = B.now

local path = args.file
if not path then
  local n = args.size
  io.stderr:write(string.format("generating a %d^3 cathode ...\n", n))
  local labels = tg.generate.cathode{ size = { n, n, n }, spacing = 1e-7, seed = 1 }
  path = os.tmpname() .. ".tif"
  tg.io.write(path, labels)
end
local labels = tg.io.read(path)
local nx, ny, nz = labels:dims()
local sx, sy, sz = table.unpack(labels:spacing())

local src = debug.getinfo(1, "S").source:sub(2)
local ref_py = (src:match("^(.*)/[^/]*$") or ".") .. "/surfaces_ref.py"
local t0 = now()
local p = io.popen(string.format("/usr/bin/python3 '%s' '%s' 0 1 2", ref_py, path))
local ref_json = p:read("a")
p:close()
local ok_py = ref_json and ref_json:match("seconds")

-- tortuga: best of three
local best, s = math.huge, nil
for _ = 1, 3 do
  local a = now()
  s = tg.measure.surfaces(labels, { phases = { 0, 1, 2 } })
  best = math.min(best, now() - a)
end

print(string.format("volume %s: %dx%dx%d, %d threads", path, nx, ny, nz, tg.threads()))
print(string.format("tortuga surfaces + interfaces of 3 phases (6 areas): %.3f s", best))
if ok_py then
  local json = require "tortuga.json"
  local r = json.decode(ref_json)
  print(string.format("scikit-image marching_cubes + mesh_surface_area, 6 areas: %.3f s", r.seconds))
  print(string.format("ratio: %.1fx", r.seconds / best))
  local worst = 0
  local scale = sx * sy -- the reference works in voxel units (isotropic volumes)
  for k, a in pairs(r.areas) do
    local mine
    local pa, pb = k:match("^(%d)%+(%d)$")
    if pa then mine = s.interfaces_union[pa .. "-" .. pb] and (s.phases[tonumber(pa)] + s.phases[tonumber(pb)] -
      2 * s.interfaces_union[pa .. "-" .. pb]) else mine = s.phases[tonumber(k)] end
    worst = math.max(worst, math.abs(mine / scale - a) / a)
  end
  print(string.format("largest relative area difference: %.2e", worst))
else
  print("scikit-image reference did not run (needs /usr/bin/python3 with python3-skimage, python3-tifffile)")
end
print("memory per voxel: tortuga 1 B (the u8 labels; no other per-voxel state), scikit-image >= 5 B (float32 indicator + bool mask) plus meshes")

-- Sub-voxel surfaces: the smoothed indicators (sigma 1 voxel) of the same labels, and the same three fields given
-- as f32 "probabilities", against scipy's gaussian_filter + scikit-image on those fields (level rule: each field
-- and each pair sum at 0.5; the fields sum to 1, so this is the argmax rule's surface up to ties).
local core = require "tortuga.core"
local SIGMA = 1.0
local fields, fpaths = {}, {}
for i, l in ipairs { 0, 1, 2 } do
  fields[i] = labels:eq(l):astype("f32")
  fpaths[i] = os.tmpname() .. ".tif"
  tg.io.write(fpaths[i], fields[i])
end
local function best_of(f)
  local b, r = math.huge, nil
  for _ = 1, 3 do
    local a = now()
    r = f()
    b = math.min(b, now() - a)
  end
  return b, r
end
local ts, sm = best_of(function() return tg.measure.surfaces(labels, { phases = { 0, 1, 2 }, source = "smoothed", sigma = SIGMA }) end)
local tp, pr = best_of(function() return tg.measure.surfaces({ [0] = fields[1], [1] = fields[2], [2] = fields[3] },
                                                            { phases = { 0, 1, 2 }, source = "probabilities", sigma = SIGMA }) end)
local tl, lv = best_of(function() return core.measure.surfaces_fields(fields, nil, "open", "lewiner", { SIGMA, SIGMA, SIGMA },
                                                                       4.0, 0.5, true, false) end)
print(string.format("sub-voxel, sigma %g voxel: smoothed labels %.3f s (%.2fx the label-based), probabilities %.3f s " ..
  "(%.2fx), level rule on the fields %.3f s", SIGMA, ts, ts / best, tp, tp / best, tl))
print(string.format("  S_CAM-ISE: labels %.5g m2, smoothed %.5g m2 (%+.1f %%), probabilities %.5g m2", s.interfaces["1-2"],
  sm.interfaces["1-2"], 100 * (sm.interfaces["1-2"] / s.interfaces["1-2"] - 1), pr.interfaces["1-2"]))
p = io.popen(string.format("/usr/bin/python3 '%s' --fields %g '%s' '%s' '%s'", ref_py, SIGMA, fpaths[1], fpaths[2], fpaths[3]))
local fj = p:read("a")
p:close()
if fj and fj:match("seconds") then
  local r = require("tortuga.json").decode(fj)
  local worst = 0
  for i = 1, 3 do worst = math.max(worst, math.abs(lv.area[i] / (sx * sy) - r.areas[tostring(i)]) / r.areas[tostring(i)]) end
  for i = 1, 3 do
    for j = i + 1, 3 do
      local k = i .. "+" .. j
      worst = math.max(worst, math.abs(lv.union[i][j] / (sx * sy) - r.areas[k]) / r.areas[k])
    end
  end
  print(string.format("scikit-image on the same fields (gaussian_filter + marching_cubes, 6 areas): %.3f s, ratio %.1fx; " ..
    "largest relative area difference %.2e", r.seconds, r.seconds / tl, worst))
else
  print("scikit-image field reference did not run")
end
for _, f in ipairs(fpaths) do os.remove(f) end
if not args.file then os.remove(path) end
