-- quickstart.lua — the main job: a label stack in, numbers out.
--
--   tortuga examples/quickstart.lua                      the built-in generated sample (200³, 100 nm voxels)
--   tortuga examples/quickstart.lua labels.tif --phases pore=0,cam=1,ise=2
--   options: --out DIR (default out/quickstart)  --size N  --seed N  --small (64³, for tests)
--
-- Steps: generate the sample (or read the user's label stack), write it as an ImageJ-calibrated TIFF,
-- read it back and check it is identical, print the phase fractions, write them as JSON and write a PNG
-- of the middle slice with the phases coloured. Later stages (preprocessing, segmentation, geometry,
-- transport) extend this script.
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

-- 4. JSON with provenance, and a PNG of the middle slice
local result = {
  fractions = f.by_name,
  dims = info.dims,
  spacing = back:spacing(),
  units = { fractions = "1", spacing = "m" },
  provenance = { input = source, tortuga_version = tg.version, time = os.date("!%Y-%m-%dT%H:%M:%SZ") },
}
tg.json.write(opts.out .. "/fractions.json", result)
local _, _, nz = back:dims()
tg.io.write_png(opts.out .. "/slice.png", back, { z = (nz + 1) // 2, colormap = "labels" })
print(string.format("\nwrote %s/fractions.json and %s/slice.png", opts.out, opts.out))
