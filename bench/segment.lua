-- bench/segment.lua — tortuga's random forest beside scikit-learn's RandomForestClassifier, same features, same run.
--   build/tortuga bench/segment.lua [--size 250] [--slices 160] [--trees 100] [--stride 50] [--no-exact]
--                                   [--out /tmp/tortuga-bench]
-- The generated sample (size x size x slices voxels, 10 million by default) is rendered as BSE + SE
-- (tg.generate.sem with its default noise, blur, curtaining and illumination, no drift); 40 features per voxel (2 channels x gaussian, log,
-- gradmag, dog at sigma 0.7, 1, 1.6, 3.5, 5, per slice) are computed once by tortuga and written raw for Python.
-- Training set: every `stride`-th voxel (200 000 with the defaults), labels = the known truth; both forests then
-- predict every voxel (10 million rows) and are scored against the truth. Both use `trees` trees, sqrt(features) per
-- split, bootstrap, unlimited depth; scikit-learn with n_jobs=2 (bench/segment_ref.py, Debian python3-sklearn),
-- tortuga with tg.threads() threads. Timings are wall-clock for the forest alone (features are shared input).
-- tortuga's exact (sort-based, bins = 0) CART is trained too, to show that the binned splits cost no accuracy
-- (--no-exact skips it).
local tg = require "tortuga"
local opts = tg.util.script_args(arg, { size = 250, slices = 160, trees = 100, stride = 50, no_exact = false,
  out = "/tmp/tortuga-bench" }, "bench/segment")
os.execute("mkdir -p '" .. opts.out .. "'")
local here = arg[0]:match("(.*)/") or "bench"

local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
local now = B.now

local n, nz = opts.size, opts.slices
local labels = tg.generate.cathode { size = { n, n, nz }, seed = 1 }
local bse, se = tg.generate.sem(labels, { drift = 0, seed = 1 }) -- no drift: the truth stays aligned
local truth = labels:map { [0] = 1, [1] = 2, [2] = 3 }
local feat = { sigmas = { 0.7, 1.0, 1.6, 3.5, 5.0 }, set = "default", dims = 2 }
local t0 = now()
local X, names = tg.segment.feature_matrix({ bse, se }, feat)
local t_feat = now() - t0
local nf, rows = X:dims()
print(string.format("%d x %d x %d voxels = %d rows, %d features (%.1f s to compute), %d threads", n, n, nz, rows, nf,
  t_feat, tg.threads()))

-- raw files for Python, and the training subset
local raw_x, raw_y = opts.out .. "/segment_X.f32", opts.out .. "/segment_y.u8"
local xb = X:bytes()
local f = assert(io.open(raw_x, "wb"))
f:write(xb)
f:close()
local yb = truth:bytes()
f = assert(io.open(raw_y, "wb"))
f:write(yb)
f:close()
local rowbytes, xs, ys = nf * 4, {}, {}
for r = 0, rows - 1, opts.stride do
  xs[#xs + 1] = xb:sub(r * rowbytes + 1, (r + 1) * rowbytes)
  ys[#ys + 1] = yb:sub(r + 1, r + 1)
end
xb = nil
collectgarbage()
local ntrain = #ys
local Xtr = tg.volume.from_bytes(table.concat(xs), { nf, ntrain, 1, dtype = "f32" })
local ytr = tg.volume.from_bytes(table.concat(ys), { ntrain, 1, 1, dtype = "u8" })
xs, ys = nil, nil

local function accuracy(pred)
  local p = tg.volume.from_bytes(pred:bytes(), { n, n, nz, dtype = "u8" })
  return tg.segment.evaluate(p, truth)
end

local function run(bins)
  local rf = tg.segment.forest { trees = opts.trees, seed = 1, bins = bins }
  local a = now()
  rf:train_matrix(Xtr, ytr)
  local fit = now() - a
  a = now()
  local pred = rf:predict_matrix(X, { width = n }) -- rows are the voxels, x fastest, as rf:predict sees them
  local pr = now() - a
  local ev = accuracy(pred)
  return fit, pr, ev, rf
end

local fit, pr, ev, rf = run(256)
local info = rf:info()
print(string.format("tortuga (binned): fit %d samples %.2f s, predict %d rows %.2f s (%.2f M voxels/s), accuracy %.4f, mean IoU %.4f, %d nodes",
  ntrain, fit, rows, pr, rows / pr / 1e6, ev.accuracy, ev.mean_iou, info.nodes))
local efit, epr, eev
if not opts.no_exact then
  efit, epr, eev = run(0)
  print(string.format("tortuga (exact):  fit %.2f s, predict %.2f s, accuracy %.4f, mean IoU %.4f (binned - exact = %+.4f)",
    efit, epr, eev.accuracy, eev.mean_iou, ev.accuracy - eev.accuracy))
end

local cmd = string.format("/usr/bin/python3 %s/segment_ref.py bench %s %s %d %d %d %d", here, raw_x, raw_y, rows, nf,
  opts.stride, opts.trees)
local p = io.popen(cmd)
local out = p:read("a")
p:close()
local sfit, spr, sacc = tonumber(out:match("sk_fit (%S+)")), tonumber(out:match("sk_predict (%S+)")),
  tonumber(out:match("sk_accuracy (%S+)"))
if not sfit then
  print("scikit-learn reference failed (install python3-sklearn):\n" .. out)
  os.exit(1)
end
print(string.format("scikit-learn:     fit %.2f s, predict %.2f s (%.2f M voxels/s), accuracy %.4f", sfit, spr, rows / spr / 1e6, sacc))
print(string.format("ratio (scikit-learn / tortuga): fit %.1fx, predict %.1fx (target >= 3x each); accuracy difference %+.4f (target within 0.005)",
  sfit / fit, spr / pr, ev.accuracy - sacc))
os.remove(raw_x)
os.remove(raw_y)
