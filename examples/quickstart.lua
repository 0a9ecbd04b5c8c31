-- quickstart.lua — the main job: a label stack in, numbers out.
--
--   tortuga examples/quickstart.lua                      the built-in generated sample (200³, 100 nm voxels)
--   tortuga examples/quickstart.lua labels.tif --phases pore=0,cam=1,ise=2
--   options: --out DIR (default out/quickstart)  --size N  --seed N  --small (64³, for tests)
--
-- Steps: generate the sample (or read the user's label stack), write it as an ImageJ-calibrated TIFF,
-- read it back and check it is identical, then the paper's descriptors: phase fractions; the CAM-ISE
-- interface per gram of CAM (Eq. 1, open convention); chord lengths of CAM and ISE along z (PoreSpy's
-- conventions); flux tortuosity of CAM (electronic) and ISE (ionic) along z (TauFactor's convention) and the
-- random-walk tortuosity of the ISE. Writes them as JSON, and a PNG of the middle slice with the phases
-- coloured. From raw FIB-SEM slices, examples/preprocess.lua and examples/segment.lua come first.
local tg = require "tortuga"
local util = tg.util

local opts, inputs = util.script_args(arg, { out = "out/quickstart", size = 200, seed = 1, small = false,
                                             phases = "pore=0,cam=1,ise=2" }, "quickstart")
if opts.small then opts.size = 64 end
os.execute("mkdir -p '" .. opts.out .. "'")

local phases = tg.cli.parse_phases(opts.phases)

-- 1. the labels: the user's stack, or the built-in sample
local labels, source
if inputs[1] then
  labels = tg.io.read(inputs[1])
  source = inputs[1]
  print(string.format("read %s: %s", inputs[1], tostring(labels)))
else
  local n = opts.size
  local t0 = os.clock()
  labels = tg.generate.cathode{ size = { n, n, n }, spacing = 1e-7, seed = opts.seed }
  source = string.format("tg.generate.cathode{size={%d,%d,%d}, spacing=1e-7, seed=%d}", n, n, n, opts.seed)
  print(string.format("generated %s in %.2f s (cpu)", tostring(labels), os.clock() - t0))
end

-- 2. write it as a TIFF stack that Fiji opens calibrated, and read it back
local tif = opts.out .. "/labels.tif"
tg.io.write(tif, labels, { compress = "deflate" })
local back = tg.io.read(tif)
assert(back:bytes() == labels:bytes(), "the TIFF did not read back identically")
local info = tg.io.info(tif)
print(string.format("wrote %s (%dx%dx%d %s, spacing %s) and read it back identically",
  tif, info.dims[1], info.dims[2], info.dims[3], info.dtype, util.format_length(info.spacing[1])))

-- 3. phase fractions
local f = tg.measure.fractions(back, { phases = phases })
print("\nphase   label  volume fraction")
local names = util.sorted_keys(phases)
table.sort(names, function(a, b) return phases[a] < phases[b] end)
for _, name in ipairs(names) do
  print(string.format("%-7s %5d  %6.2f %%", name, phases[name], 100 * (f[phases[name]] or 0)))
end

-- 4. interfaces, chords, tortuosity
local density = { cam = 4.7e3, ise = 1.9e3 } -- kg/m3: NCM and Li6PS5Cl
local s = tg.measure.surfaces(back, { phases = phases, density = density, per_gram_of = "cam" })
local key = function(a, b) return string.format("%d-%d", math.min(a, b), math.max(a, b)) end
local cam_ise = key(phases.cam, phases.ise)
print(string.format("\nCAM-ISE interface %.4g um2 (%.3f m2 per g of CAM, Eq. 1, %s convention)",
  s.interfaces[cam_ise] * 1e12, s.specific.per_gram.interfaces[cam_ise], s.convention))

local chords, taus = {}, {}
print("\nphase   mean chord z   flux tau z   random-walk tau z")
for _, name in ipairs{ "cam", "ise" } do
  local c = tg.measure.chords(back, { phase = phases[name], axis = "z" })
  local d = tg.measure.cld(c)
  local flux = tg.transport.flux(back, { phase = phases[name], axis = "z" })
  local walk = tg.transport.random_walk(back, { phase = phases[name], walkers = 2000, steps = opts.small and 500 or 5000,
                                                seed = opts.seed })
  chords[name] = { mean = d.mean, median = d.median, count = #c.lengths, units = "m" }
  taus[name] = { flux_z = flux.tau.z, walk_z = walk.tau.z, walk_late_z = walk.tau_late.z, converged = flux.converged,
                 convention = flux.convention }
  print(string.format("%-7s %9.3f um   %10.3f   %10.3f (late fit %.3f)", name, d.mean * 1e6, flux.tau.z, walk.tau.z,
    walk.tau_late.z))
end

-- 5. JSON with provenance, and a PNG of the middle slice
local result = {
  fractions = f.by_name,
  interfaces = { cam_ise = s.interfaces[cam_ise], cam_ise_per_gram_cam = s.specific.per_gram.interfaces[cam_ise],
                 convention = s.convention },
  chords_z = chords,
  tortuosity = taus,
  dims = info.dims,
  spacing = back:spacing(),
  units = { fractions = "1", spacing = "m", interfaces = "m2", per_gram = "m2/g", chords = "m", tortuosity = "1" },
  provenance = { input = source, tortuga_version = tg.version, time = os.date("!%Y-%m-%dT%H:%M:%SZ") },
}
tg.json.write(opts.out .. "/fractions.json", result)
local _, _, nz = back:dims()
tg.io.write_png(opts.out .. "/slice.png", back, { z = (nz + 1) // 2, colormap = "labels" })
print(string.format("\nwrote %s/fractions.json and %s/slice.png", opts.out, opts.out))
