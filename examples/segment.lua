-- segment.lua — BSE + SE stacks and a few scribbles to a pore / CAM / ISE label volume with a random forest.
--
--   tortuga examples/segment.lua                                  the built-in sample (known truth)
--   tortuga examples/segment.lua bse.tif se.tif scribbles.tif [truth.tif]
--        your preprocessed stacks (SE may be "-" for none), a scribble stack (0 = unlabelled, 1 = pore, 2 = CAM,
--        3 = ISE; same dims) and optionally a full ground truth (labels 0 pore, 1 CAM, 2 ISE) to evaluate against
--   options: --out DIR (default out/segment)  --size N (160)  --slices N (48)  --trees N (100)  --seed N (1)
--            --min-size N (island removal, voxels; default 20)  --small (64x64x16, for tests)
--
-- The generated sample is rendered by tg.generate.sem with noise, blur, curtaining and illumination (no drift, so
-- the truth stays aligned), preprocessed (flatten, destripe the SE stack, normalise), and scribbled with a few
-- strokes of the known truth on three slices: four rows and four columns of each. The forest (ilastik's features of
-- both channels, per slice) predicts every voxel; islands smaller than --min-size are reassigned.
-- Writes labels.tif (u8: 0 pore, 1 CAM, 2 ISE, ImageJ-calibrated), prob_pore.tif, prob_cam.tif, prob_ise.tif (f32),
-- overlay.png (the labels blended over the BSE image of the middle slice), forest.tgf (the model, reload with
-- tg.segment.load), evaluation.json, and prints the evaluation when a truth is known.
local tg = require "tortuga"
local util = tg.util

local opts, inputs = util.script_args(arg, { out = "out/segment", size = 160, slices = 48, trees = 100, seed = 1,
                                             min_size = 20, small = false }, "segment")
if opts.small then opts.size, opts.slices, opts.trees = 64, 16, 30 end
os.execute("mkdir -p '" .. opts.out .. "'")
local CLASSES = { pore = 1, cam = 2, ise = 3 } -- scribble values; the output labels are these minus 1

-- 1. channels, scribbles, truth
local bse, se, scribbles, truth
if inputs[1] then
  if not inputs[3] then error("segment: give bse.tif se.tif scribbles.tif [truth.tif] (se may be -)") end
  bse = tg.io.read(inputs[1])
  se = inputs[2] ~= "-" and tg.io.read(inputs[2]) or nil
  scribbles = tg.io.read(inputs[3])
  truth = inputs[4] and tg.io.read(inputs[4]) or nil
  print(string.format("read %s%s, scribbles %s", tostring(bse), se and (" and " .. tostring(se)) or "", tostring(scribbles)))
else
  truth = tg.generate.cathode { size = { opts.size, opts.size, opts.slices }, spacing = 1e-7, seed = opts.seed }
  local bse_raw, se_raw = tg.generate.sem(truth, { drift = 0, noise = 6, blur = 0.8, curtaining = 8,
                                                   illumination = 0.15, seed = opts.seed })
  local sigma = opts.size / 8
  bse = tg.filter.normalize(tg.filter.flatten(bse_raw, { sigma = sigma }))
  se = tg.filter.normalize(tg.filter.destripe(tg.filter.flatten(se_raw, { sigma = sigma })))
  -- strokes: rows and columns of the truth on three slices
  local nx, ny, nz = truth:dims()
  scribbles = tg.volume.new { nx, ny, nz, dtype = "u8", spacing = truth:spacing() }
  local zs = { math.max(1, nz // 6), (nz + 1) // 2, math.max(1, nz - nz // 6) }
  for _, z in ipairs(zs) do
    for k = 1, 4 do
      local y, x = k * ny // 5, k * nx // 5
      for i = 1, nx do scribbles:set(i, y, z, truth:get(i, y, z) + 1) end
      for j = 1, ny do scribbles:set(x, j, z, truth:get(x, j, z) + 1) end
    end
  end
  print(string.format("generated %s BSE + SE with noise, blur, curtaining and illumination; scribbles on slices %s",
    tostring(bse), table.concat(zs, ", ")))
end
local channels = se and { bse, se } or { bse }

-- 2. train, predict, clean
local t0 = os.clock()
local rf = tg.segment.forest { trees = opts.trees, seed = opts.seed, classes = CLASSES }
rf:train(channels, scribbles)
local info = rf:info()
print(string.format("trained %s on %d scribbled voxels (%d nodes)", tostring(rf), rf.samples, info.nodes))
local labels, prob = rf:predict(channels)
local cleaned, cinfo = tg.segment.clean(labels, { min_size = opts.min_size })
local out = cleaned:map { [1] = 0, [2] = 1, [3] = 2 }
print(string.format("predicted %s in %.1f s (cpu); %d islands under %d voxels reassigned", tostring(out),
  os.clock() - t0, cinfo.islands, opts.min_size))

-- 3. outputs
tg.io.write(opts.out .. "/labels.tif", out)
for name in pairs(CLASSES) do tg.io.write(opts.out .. "/prob_" .. name .. ".tif", prob[name]) end
rf:save(opts.out .. "/forest.tgf")
-- overlay: each pixel's value codes its phase (0..2) and BSE grey level (0..63); the palette blends them
local nx, ny, nz = out:dims()
local z = (nz + 1) // 2
local grey = tg.filter.normalize(bse:view { z = { z, z } }):astype("u8")
local ov = tg.volume.new { nx, ny, 1, dtype = "u8" }
for y = 1, ny do
  for x = 1, nx do ov:set(x, y, 1, out:get(x, y, z) * 64 + grey:get(x, y, 1) // 4) end
end
local COLOURS = { [0] = { 40, 40, 255 }, [1] = { 255, 140, 0 }, [2] = { 0, 200, 80 } }
local palette = {}
for c = 0, 2 do
  for g = 0, 63 do
    local v, col = g * 4 + 2, COLOURS[c]
    palette[c * 64 + g] = { math.floor(0.6 * v + 0.4 * col[1]), math.floor(0.6 * v + 0.4 * col[2]), math.floor(0.6 * v + 0.4 * col[3]) }
  end
end
tg.io.write_png(opts.out .. "/overlay.png", ov, { colormap = "labels", labels = palette })

-- 4. evaluation
local _, imp = rf:importance()
print("most important features:")
for i = 1, math.min(5, #imp) do print(string.format("  %-24s %.3f", imp[i].name, imp[i].value)) end
local result = { trees = opts.trees, samples = rf.samples, islands_removed = cinfo.islands }
if truth then
  local ev = tg.segment.evaluate(out, truth)
  local raw = tg.segment.evaluate(labels:map { [1] = 0, [2] = 1, [3] = 2 }, truth)
  result.evaluation, result.evaluation_before_cleaning = ev, raw
  print(string.format("voxel accuracy %.4f (before cleaning %.4f), mean IoU %.4f", ev.accuracy, raw.accuracy, ev.mean_iou))
  print("phase   truth    predicted  error    IoU     Dice")
  for _, c in ipairs(ev.labels) do
    local name = ({ [0] = "pore", [1] = "cam", [2] = "ise" })[c] or tostring(c)
    print(string.format("%-6s  %.4f   %.4f     %+.4f  %.4f  %.4f", name, ev.fraction.truth[c], ev.fraction.pred[c],
      ev.fraction_error[c], ev.iou[c], ev.dice[c]))
  end
end
tg.json.write(opts.out .. "/evaluation.json", result)
print(string.format("wrote %s/labels.tif, prob_*.tif, overlay.png (slice %d), forest.tgf, evaluation.json", opts.out, z))
