-- quickstart.lua — the main job: FIB-SEM slices in, the paper's numbers out.
--
--   tortuga examples/quickstart.lua                      the built-in generated sample (200³, 100 nm voxels)
--   tortuga examples/quickstart.lua labels.tif --phases pore=0,cam=1,ise=2      your segmented stack
--   options: --out DIR (default out/quickstart)  --size N  --seed N  --trees N (40)  --small (64³, for tests)
--            --walkers N (2000)  --steps N (5000)
--
-- On the built-in sample every stage of a FIB-SEM study runs, and each is checked against the known truth:
--   1. tg.generate.cathode builds a composite cathode (pore 0, CAM 1, ISE 2) and tg.generate.sem renders the BSE
--      and SE slices a microscope would record (slice drift, curtaining, uneven illumination, noise, blur);
--   2. preprocessing as in the paper: illumination flattened, slices registered on the fiducial in the protective
--      cap above the specimen (the same shifts for both detectors), curtaining removed, contrast stretched;
--   3. a random forest on both channels, trained on a few strokes of the truth on three slices, segments the
--      stack; the segmentation is scored against the truth;
--   4. the labels are written as an ImageJ-calibrated TIFF and read back bit-identically;
--   5. tg.describe measures everything the paper measured (fractions, Eq. 1 interfaces per gram of CAM - on the
--      forest's class probabilities at sub-voxel precision, beside the truth's -, chords,
--      percolation, local thickness, random-walk and flux tortuosity of CAM and ISE, the filled-pore tortuosity,
--      the active-CAM estimate) with provenance.
-- With a label stack as argument, steps 4-5 run on it. Writes labels.tif, describe.json, raw.png, preprocessed.png,
-- segmented.png and quickstart.json (stage times, segmentation scores, drift error) to --out.
local tg = require "tortuga"
local util = tg.util

local opts, inputs = util.script_args(arg, { out = "out/quickstart", size = 200, seed = 1, trees = 40, small = false,
                                             walkers = 2000, steps = 5000, phases = "pore=0,cam=1,ise=2" }, "quickstart")
if opts.small then opts.size, opts.trees, opts.walkers, opts.steps = 64, 12, 500, 1000 end
os.execute("mkdir -p '" .. opts.out .. "'")
local phases = tg.cli.parse_phases(opts.phases)
local sw = tg.analysis.stopwatch(function(stage, s) print(string.format("  %-26s %6.2f s", stage, s)) end)
local summary = { stages = sw.timings }

local labels, source, prob, truth_d -- prob: the forest's class probabilities; truth_d: the truth's interfaces
if inputs[1] then
  labels = sw:time("read", tg.io.read, inputs[1])
  source = inputs[1]
  print(string.format("read %s: %s", inputs[1], tostring(labels)))
else
  -- 1. the sample and what the microscope sees
  local n = opts.size
  print(string.format("1. a generated %d³ cathode (100 nm voxels) and its FIB-SEM slices", n))
  local truth = sw:time("generate", tg.generate.cathode, { size = { n, n, n }, spacing = 1e-7, seed = opts.seed })
  local cap = math.max(16, n // 6) -- rows of protective cap with a fiducial above the specimen, as milled
  local bse, se, info = sw:time("render BSE + SE", tg.generate.sem, truth, { drift = 0.3, noise = 6, blur = 0.8,
    curtaining = 8, illumination = 0.15, cap = cap, seed = opts.seed })
  local z = (n + 1) // 2
  tg.io.write_png(opts.out .. "/raw.png", se, { z = z })

  -- 2. preprocessing: the drift is measured on the cap (the same in every slice), as FIB-SEM operators do; the
  -- specimen below it changes from slice to slice, which a translation cannot tell from drift
  print("2. preprocessing: flatten, register on the fiducial cap, shift both stacks, destripe, normalise")
  local sigma = n / 8
  local bse_f, se_f = sw:time("flatten", function()
    return tg.filter.flatten(bse, { sigma = sigma }), tg.filter.flatten(se, { sigma = sigma })
  end)
  local aligned, shifts, ainfo = sw:time("register + shift", tg.filter.correct_drift, { bse_f, se_f },
    { roi = { y = { 1, cap } }, mode = "fixed", rows = { cap + 1, cap + n } })
  local se_d = sw:time("destripe", tg.filter.destripe, aligned[2])
  local bse_p, se_p = sw:time("normalize", function() return tg.filter.normalize(aligned[1]), tg.filter.normalize(se_d) end)
  local e2 = 0
  for k, s in ipairs(shifts) do e2 = e2 + (s.x - info.drift[k].x) ^ 2 + (s.y - info.drift[k].y) ^ 2 end
  summary.drift_rms_px = math.sqrt(e2 / #shifts)
  local region = ainfo.region
  print(string.format("   drift over %d slices: RMS error %.3f px against the truth; common region %d x %d px", #shifts,
    summary.drift_rms_px, region.x[2] - region.x[1] + 1, region.y[2] - region.y[1] + 1))
  tg.io.write_png(opts.out .. "/preprocessed.png", se_p, { z = z })

  -- 3. segmentation from a few strokes
  print("3. random-forest segmentation from strokes on three slices")
  truth = truth:view { x = region.x, y = { region.y[1] - cap, region.y[2] - cap } }
  local nx, ny, nz = truth:dims()
  local scribbles = tg.volume.new { nx, ny, nz, dtype = "u8", spacing = truth:spacing() }
  for _, zs in ipairs { math.max(1, nz // 6), (nz + 1) // 2, math.max(1, nz - nz // 6) } do
    for k = 1, 4 do
      local y, x = k * ny // 5, k * nx // 5
      for i = 1, nx do scribbles:set(i, y, zs, truth:get(i, y, zs) + 1) end
      for j = 1, ny do scribbles:set(x, j, zs, truth:get(x, j, zs) + 1) end
    end
  end
  local rf = tg.segment.forest { trees = opts.trees, seed = opts.seed, classes = { pore = 1, cam = 2, ise = 3 } }
  sw:time("train forest", rf.train, rf, { bse_p, se_p }, scribbles)
  local pred
  pred, prob = sw:time("predict", rf.predict, rf, { bse_p, se_p })
  labels = sw:time("clean", function() return tg.segment.clean(pred, { min_size = 20 }):map { [1] = 0, [2] = 1, [3] = 2 } end)
  local ev = tg.segment.evaluate(labels, truth)
  truth_d = tg.describe(truth, { phases = phases, transport = false, thickness = false, active = false,
                                 percolation = false, chords = false, surface_source = "smoothed" })
  summary.segmentation = { accuracy = ev.accuracy, mean_iou = ev.mean_iou, fraction_error = ev.fraction_error,
                           scribbled_voxels = rf.samples, trees = opts.trees }
  print(string.format("   %d scribbled voxels; voxel accuracy %.4f, mean IoU %.4f against the truth", rf.samples,
    ev.accuracy, ev.mean_iou))
  tg.io.write_png(opts.out .. "/segmented.png", labels, { z = z, colormap = "labels" })
  source = string.format("tg.generate.cathode{size=%d, seed=%d} -> tg.generate.sem -> preprocessed -> segmented", n,
    opts.seed)
end

-- 4. a TIFF that Fiji opens calibrated, read back
local tif = opts.out .. "/labels.tif"
sw:time("write + read TIFF", function()
  tg.io.write(tif, labels, { compress = "deflate" })
  local back = tg.io.read(tif)
  if back:sha256() ~= labels:sha256() then error("quickstart: " .. tif .. " did not read back identically") end
end)
print(string.format("4. wrote %s (deflate, ImageJ calibration) and read it back identically", tif))

-- 5. every descriptor
print("5. tg.describe")
local d = sw:time("describe", tg.describe, labels, { phases = phases, input = source, probabilities = prob,
  walk = { walkers = opts.walkers, steps = opts.steps, seed = opts.seed } })
print(d)
d:write_json(opts.out .. "/describe.json")
if truth_d then -- the generated sample: the truth beside the measurement
  print("   against the truth (interfaces per gram of CAM: segmented on the class probabilities, sigma 1 voxel; the " ..
        "truth on its smoothed indicators, sigma 1)")
  summary.truth = {}
  for _, k in ipairs { "cam-ise", "pore-cam", "pore-ise" } do
    local a, t = d.interfaces[k], truth_d.interfaces[k]
    if a and t then
      print(string.format("   %-9s %.4f m2/g, truth %.4f (%+.1f %%)", k, a.per_gram, t.per_gram, 100 * (a.per_gram / t.per_gram - 1)))
      summary.truth[k] = { measured = a.per_gram, truth = t.per_gram }
    end
  end
  for _, name in ipairs { "pore", "cam", "ise" } do
    print(string.format("   fraction %-4s %.4f, truth %.4f", name, d.fractions.by_name[name], truth_d.fractions.by_name[name]))
  end
end
summary.tortuga_version, summary.source, summary.total_seconds = tg.version, source, sw:total()
tg.json.write(opts.out .. "/quickstart.json", summary)
print(string.format("\nwrote %s/describe.json, quickstart.json, labels.tif and the PNG slices in %.1f s", opts.out, sw:total()))
