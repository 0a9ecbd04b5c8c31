-- describe.lua — every geometric descriptor of a composite cathode, from one label stack.
--
--   tortuga examples/describe.lua                       the built-in generated sample (160³, 100 nm voxels)
--   tortuga examples/describe.lua labels.tif --phases pore=0,cam=1,ise=2
--   options: --out DIR (default out/describe)  --size N  --seed N  --small (48³, for tests)
--            --density cam=4.7e3,ise=1.9e3 (kg/m³; areas per gram of CAM)
--
-- Prints a table of: volume fractions; the surface of each phase and the interface of each pair in both
-- conventions (open: scikit-image's marching cubes on the raw indicator; closed: PoreSpy's padding and
-- smoothing), per volume and per gram of CAM; the triple-phase boundary length; chord lengths along x, y, z
-- of CAM and ISE (PoreSpy's conventions: a chord line every third row, chords touching a face dropped) with
-- their mean and median; the percolation of each phase along z (spanning, inlet-only, outlet-only,
-- isolated); and the local-thickness d10/d50/d90 of each phase. Writes, in --out:
--   describe.json        all of it (tg.json.write: sorted keys, floats that read back exactly)
--   chords.csv           the chord length distributions (one row per phase, axis and bin)
--   cam.ply              the marching-cubes mesh of the CAM phase, in metres (ParaView, MeshLab)
--   connectivity_<phase>.png  the middle z slice, the phase's voxels coloured by their cluster:
--                        green spanning z, blue touching only the first slice (inlet), orange only the last
--                        (outlet), red isolated; the other phases dark grey.
local tg = require "tortuga"
local util = tg.util

local opts, inputs = util.script_args(arg, { out = "out/describe", size = 160, seed = 1, small = false,
                                             phases = "pore=0,cam=1,ise=2", density = "cam=4.7e3,ise=1.9e3" },
                                      "describe")
if opts.small then opts.size = 48 end
os.execute("mkdir -p '" .. opts.out .. "'")
local phases = tg.cli.parse_phases(opts.phases)
local density = tg.cli.parse_density(opts.density)
local names = util.sorted_keys(phases)
table.sort(names, function(a, b) return phases[a] < phases[b] end)

-- 1. the labels
local labels, source
if inputs[1] then
  labels, source = tg.io.read(inputs[1]), inputs[1]
else
  local n = opts.size
  labels = tg.generate.cathode{ size = { n, n, n }, spacing = 1e-7, seed = opts.seed }
  source = string.format("tg.generate.cathode{size={%d,%d,%d}, spacing=1e-7, seed=%d}", n, n, n, opts.seed)
end
local nx, ny, nz = labels:dims()
local sp = labels:spacing()
print(string.format("%s: %s", source, tostring(labels)))

local um, um2 = 1e6, 1e12
local result = { input = source, dims = { nx, ny, nz }, spacing = sp, phases = phases, density = density,
                 units = { lengths = "m", areas = "m2", per_volume = "m-1", per_gram = "m2/g", tpb = "m",
                           tpb_per_volume = "m-2", fractions = "1" } }

-- 2. volume fractions
local f = tg.measure.fractions(labels, { phases = phases })
result.fractions = f.by_name
print("\nvolume fractions")
for _, name in ipairs(names) do print(string.format("  %-6s %7.2f %%", name, 100 * (f.by_name[name] or 0))) end

-- 3. surfaces and interfaces, both conventions; per volume and per gram of CAM; triple-phase boundary
local per_gram_of = phases.cam and density.cam and "cam" or nil
local surf = {}
for _, conv in ipairs{ "open", "closed" } do
  surf[conv] = tg.measure.surfaces(labels, { phases = phases, convention = conv, density = density,
                                             per_gram_of = per_gram_of })
end
local function key_name(k) -- "1-2" -> "cam-ise"
  local a, b = k:match("^(%d+)%-(%d+)$")
  local by = {}
  for n, l in pairs(phases) do by[l] = n end
  return by[tonumber(a)] .. "-" .. by[tonumber(b)]
end
result.surfaces = {}
print("\nsurfaces and interfaces      open (µm²)   closed (µm²)   open per volume (1/µm)   open per g CAM (m²/g)")
local function surface_row(label, kind, key)
  local o, c = surf.open, surf.closed
  local pg = o.specific.per_gram
  print(string.format("  %-24s %12.5g %14.5g %24.5g %23s", label, o[kind][key] * um2, c[kind][key] * um2,
    o.specific.per_volume[kind][key] / um, pg and string.format("%.5g", pg[kind][key]) or "-"))
end
for _, name in ipairs(names) do surface_row(name, "phases", phases[name]) end
local pairs_sorted = util.sorted_keys(surf.open.interfaces)
for _, k in ipairs(pairs_sorted) do surface_row(key_name(k), "interfaces", k) end
for conv, s in pairs(surf) do
  local e = { phases = {}, interfaces = {}, per_volume = { phases = {}, interfaces = {} }, per_gram = nil }
  for _, name in ipairs(names) do
    e.phases[name] = s.phases[phases[name]]
    e.per_volume.phases[name] = s.specific.per_volume.phases[phases[name]]
  end
  for k, a in pairs(s.interfaces) do
    e.interfaces[key_name(k)] = a
    e.per_volume.interfaces[key_name(k)] = s.specific.per_volume.interfaces[k]
  end
  if s.specific.per_gram then
    local pg = s.specific.per_gram
    e.per_gram = { phases = {}, interfaces = {}, of = pg.of, grams = pg.grams }
    for _, name in ipairs(names) do e.per_gram.phases[name] = pg.phases[phases[name]] end
    for k, a in pairs(pg.interfaces) do e.per_gram.interfaces[key_name(k)] = a end
  end
  e.interface_formula = s.interface_formula
  result.surfaces[conv] = e
end
local o = surf.open
result.tpb = { length = o.tpb_length, per_volume = o.specific.per_volume.tpb_length,
               per_gram = o.specific.per_gram and o.specific.per_gram.tpb_length or nil,
               method = "voxel-edge counting (edges whose four voxels hold all three phases), uncorrected" }
print(string.format("\ntriple-phase boundary   %.5g µm   (%.5g µm per µm³%s)", o.tpb_length * um,
  o.specific.per_volume.tpb_length / um2,
  o.specific.per_gram and string.format(", %.5g m per g CAM", o.specific.per_gram.tpb_length) or ""))

-- 4. chords of CAM and ISE along x, y, z; their distributions as CSV
result.chords = {}
local csv = { "phase,axis,bin_lo_m,bin_hi_m,length_m,count_fraction,pdf_per_m,fraction_at_least" }
print("\nchords                 n       mean (µm)  median (µm)")
for _, name in ipairs{ "cam", "ise" } do
  if phases[name] then
    local ch = tg.measure.chords(labels, { phase = phases[name], axis = "all" })
    result.chords[name] = {}
    for _, ax in ipairs{ "x", "y", "z" } do
      local d = tg.measure.cld(ch[ax])
      result.chords[name][ax] = { n = d.n, mean = d.mean, median = d.median }
      print(string.format("  %-4s along %s  %8d  %10.4g  %11.4g", name, ax, d.n, d.mean * um, d.median * um))
      for i = 1, #d.bin_centers do
        csv[#csv + 1] = string.format("%s,%s,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g", name, ax, d.bin_edges[i],
          d.bin_edges[i + 1], d.bin_centers[i], d.relfreq[i], d.pdf[i], d.cdf[i])
      end
    end
  end
end
local fcsv = assert(io.open(opts.out .. "/chords.csv", "w"))
fcsv:write(table.concat(csv, "\n"), "\n")
fcsv:close()

-- 5. percolation along z, and a slice coloured by cluster connectivity
result.percolation = {}
print("\npercolation along z    spanning     inlet    outlet  isolated   (% of the phase)")
local colours = { [0] = { 40, 40, 40 }, { 60, 180, 75 }, { 0, 130, 200 }, { 245, 130, 48 }, { 230, 25, 75 } }
for _, name in ipairs(names) do
  local p = tg.measure.percolation(labels, { phase = phases[name], axis = "z" })
  local fr = p.fractions
  result.percolation[name] = { spanning = fr.spanning, inlet = fr.inlet, outlet = fr.outlet, isolated = fr.isolated }
  print(string.format("  %-18s %8.2f  %8.2f  %8.2f  %8.2f", name, 100 * fr.spanning, 100 * fr.inlet,
    100 * fr.outlet, 100 * fr.isolated))
  -- the class of every cluster from its bounding box along z: 1 spanning, 2 inlet only, 3 outlet only, 4 isolated
  local c = tg.measure.components(labels, { phase = phases[name] })
  local class = {}
  for i, b in ipairs(c.bboxes) do
    local inlet, outlet = b[3] == 1, b[6] == nz
    class[i] = inlet and outlet and 1 or inlet and 2 or outlet and 3 or 4
  end
  local slice = c.labels:slice((nz + 1) // 2):map(class, { dtype = "u8" })
  tg.io.write_png(string.format("%s/connectivity_%s.png", opts.out, name), slice,
    { colormap = "labels", labels = colours })
  c.labels:release()
end

-- 6. local thickness
result.thickness = {}
print("\nlocal thickness        d10 (µm)  d50 (µm)  d90 (µm)")
for _, name in ipairs(names) do
  local t = tg.measure.thickness(labels, { phase = phases[name] })
  result.thickness[name] = { d10 = t.d10, d50 = t.d50, d90 = t.d90, mean = t.mean }
  print(string.format("  %-18s %8.4g  %8.4g  %8.4g", name, t.d10 * um, t.d50 * um, t.d90 * um))
  t.map:release()
end

-- 7. the CAM mesh, and the JSON
if phases.cam then
  local m = tg.measure.mesh(labels, phases.cam)
  tg.io.write_mesh(opts.out .. "/cam.ply", m)
  local nv, nt = m:counts()
  print(string.format("\nwrote %s/cam.ply (%d vertices, %d triangles, %.5g µm²)", opts.out, nv, nt, m:area() * um2))
end
result.provenance = { tortuga_version = tg.version, time = os.date("!%Y-%m-%dT%H:%M:%SZ") }
tg.json.write(opts.out .. "/describe.json", result)
print(string.format("wrote %s/describe.json, %s/chords.csv and %s/connectivity_*.png", opts.out, opts.out, opts.out))
