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
if not args.file then os.remove(path) end
