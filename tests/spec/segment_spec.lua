-- segment_spec.lua — tg.segment: the forest on analytic volumes, save/load, thread-count independence, named
-- classes and slice scribbles, Otsu, evaluate, clean, bad input, and the real sem-3phase-seg-groundtruth images.
local tg = require "tortuga"
local H = test_helper

local FEAT = { sigmas = { 0.7, 1.6 }, set = "default", dims = 2 } -- 8 features per channel: quick

-- Two channels, 24 x 20 x 6: class by the column band (x <= 8: 1, x <= 16: 2, else 3) in channel 1 (levels 10, 50,
-- 90), channel 2 a smooth ramp along y that carries no class information.
local function bands()
  local nx, ny, nz = 24, 20, 6
  local a = tg.volume.new { nx, ny, nz, dtype = "f32" }
  local b = tg.volume.new { nx, ny, nz, dtype = "f32" }
  local truth = tg.volume.new { nx, ny, nz, dtype = "u8" }
  for z = 1, nz do
    for y = 1, ny do
      for x = 1, nx do
        local c = x <= 8 and 1 or x <= 16 and 2 or 3
        a:set(x, y, z, 10 + 40 * (c - 1))
        b:set(x, y, z, y * 3.0)
        truth:set(x, y, z, c)
      end
    end
  end
  return a, b, truth
end

-- Scribbles: a few strokes of the truth on slices 2 and 5 (rows 5 and 15), 0 elsewhere.
local function strokes(truth)
  local nx, ny, nz = truth:dims()
  local s = tg.volume.new { nx, ny, nz, dtype = "u8" }
  for _, z in ipairs { 2, 5 } do
    for _, y in ipairs { 5, 15 } do
      for x = 1, nx do s:set(x, y, z, truth:get(x, y, z)) end
    end
  end
  return s
end

describe("tg.segment.forest", function()
  local a, b, truth = bands()
  local scribbles = strokes(truth)

  it("separates separable classes exactly from a few strokes", function()
    local rf = tg.segment.forest { trees = 20, features = FEAT }
    rf:train({ a, b }, scribbles)
    assert.equal(2 * 2 * 24, rf.samples)
    local labels, prob = rf:predict { a, b }
    assert.equal("u8", labels.dtype)
    local ev = tg.segment.evaluate(labels, truth)
    assert.equal(1, ev.accuracy)
    assert.equal(1, ev.mean_iou)
    -- probabilities: one f32 volume per class, summing to 1
    for _, p in ipairs { { 3, 4, 1 }, { 12, 10, 3 }, { 20, 18, 6 } } do
      local s = prob[1]:get(p[1], p[2], p[3]) + prob[2]:get(p[1], p[2], p[3]) + prob[3]:get(p[1], p[2], p[3])
      assert.near(1, s, 1e-5)
    end
    assert.equal("f32", prob[2].dtype)
    -- the informative channel carries the importance
    local byname, list = rf:importance()
    local s1, total = 0, 0
    for name, v in pairs(byname) do
      total = total + v
      if name:match("^ch1:") then s1 = s1 + v end
    end
    assert.near(1, total, 1e-9)
    assert.is_true(s1 > 0.9)
    assert.truthy(list[1].name:match("^ch1:"))
  end)

  it("accepts named classes and a list of labelled slices", function()
    local nx, ny = a:dims()
    local slices = {}
    for _, z in ipairs { 2, 5 } do
      local s = tg.volume.new { nx, ny, 1, dtype = "u8" }
      for x = 1, nx do s:set(x, 10, 1, truth:get(x, 10, z)) end
      slices[z] = s
    end
    local rf = tg.segment.forest { trees = 10, features = FEAT, classes = { left = 1, middle = 2, right = 3 } }
    rf:train({ a, b }, slices)
    local labels, prob = rf:predict({ a, b })
    assert.equal(1, tg.segment.evaluate(labels, truth).accuracy)
    assert.equal(prob[2], prob.middle)
    assert.equal(1, rf:info().names.left)
  end)

  it("saves and reloads bit-identically; same seed, same forest at any thread count", function()
    local dir = H.tmpdir("segment")
    local rf = tg.segment.forest { trees = 8, features = FEAT, seed = 7, class_weight = "balanced" }
    local old = tg.threads()
    tg.threads(1)
    rf:train({ a, b }, scribbles)
    tg.threads(2)
    local rf2 = tg.segment.forest { trees = 8, features = FEAT, seed = 7, class_weight = "balanced" }
    rf2:train({ a, b }, scribbles)
    tg.threads(old)
    assert.is_true(rf.ud:equal(rf2.ud))
    local path = dir .. "/bands.tgf"
    rf:save(path)
    local back = tg.segment.load(path)
    assert.is_true(rf.ud:equal(back.ud))
    local l1, p1 = rf:predict({ a, b })
    local l2, p2 = back:predict({ a, b })
    assert.equal(l1:bytes(), l2:bytes())
    assert.equal(p1[3]:bytes(), p2[3]:bytes())
    assert.same(rf:importance(), back:importance())
    assert.truthy(tostring(back):match("^tortuga.Forest%(8 trees, 3 classes, 16 features, 2 channels%)"))
    back:release()
    assert.raises_with(function() back:predict({ a, b }) end, "not trained")
  end)

  it("reloads models whose metadata gives the feature kinds as a bit mask (written before they were names)", function()
    local dir = H.tmpdir("segment")
    local core = require "tortuga.core"
    local rf = tg.segment.forest { trees = 4, features = FEAT, seed = 3 }
    rf:train({ a, b }, scribbles)
    -- the same forest, its metadata as older tortuga wrote it: kinds = 15 (gaussian, log, gradmag, dog)
    local names = core.segment.feature_names(rf.feat, 2)
    local json = require "tortuga.json"
    local meta = json.encode({ format = "tortuga.forest", feature_names = names, classes = {}, class_values = { 1, 2, 3 },
                               features = { sigmas = { 0.7, 1.6 }, kinds = 15, dims = 2, truncate = 4.0 } }, { indent = 0 })
    local old = core.segment.train({ a, b }, scribbles, rf.feat, { trees = 4, seed = 3 }, { 1, 2, 3 }, meta)
    local path = dir .. "/mask.tgf"
    assert.is_true(old:save(path))
    local back = tg.segment.load(path)
    assert.same({ "gaussian", "log", "gradmag", "dog" }, back.feat.kinds)
    local l1 = rf:predict({ a, b })
    local l2 = back:predict({ a, b })
    assert.equal(l1:bytes(), l2:bytes())
  end)

  it("predicts the same bits whatever the row width (voxels descending together) and the thread count", function()
    local rf = tg.segment.forest { trees = 8, features = FEAT, seed = 3 }
    rf:train({ a, b }, scribbles)
    local X = tg.segment.feature_matrix({ a, b }, FEAT)
    local old = tg.threads()
    tg.threads(1)
    local lv, pv = rf:predict { a, b } -- told the width of the volume's lines (24)
    tg.threads(2)
    for _, width in ipairs { false, 1, 7, 24, 100000 } do
      local l, p = rf:predict_matrix(X, { probabilities = true, width = width or nil })
      assert.equal(lv:bytes(), l:bytes())
      for k = 1, 3 do assert.equal(pv[k]:bytes(), p[k]:bytes()) end
    end
    -- uniform random rows, where neighbours share no path: the same again
    local nf, n, parts, ys = 5, 3001, {}, {}
    math.randomseed(5)
    for i = 1, n do
      local r = {}
      for q = 1, nf do r[q] = math.random() end
      parts[i] = string.pack("<fffff", table.unpack(r))
      ys[i] = string.char(1 + (r[1] > 0.5 and 1 or 0) + (r[2] > 0.5 and 2 or 0))
    end
    local R = tg.volume.from_bytes(table.concat(parts), { nf, n, 1, dtype = "f32" })
    local Y = tg.volume.from_bytes(table.concat(ys), { n, 1, 1, dtype = "u8" })
    local rr = tg.segment.forest { trees = 6, seed = 2 }:train_matrix(R, Y)
    local l1, p1 = rr:predict_matrix(R, { probabilities = true })
    tg.threads(1)
    for _, width in ipairs { 3, 64, 77 } do
      local l, p = rr:predict_matrix(R, { probabilities = true, width = width })
      assert.equal(l1:bytes(), l:bytes())
      for k = 1, 4 do assert.equal(p1[k]:bytes(), p[k]:bytes()) end
    end
    tg.threads(old)
    assert.is_true(tg.segment.evaluate(l1, Y).accuracy > 0.95)
    assert.raises_with(function() rr:predict_matrix(R, { width = 0 }) end, "width must be an integer >= 1")
  end)

  it("trains and predicts with convolution features, stored in the model so a reload predicts bit-identically", function()
    local dir = H.tmpdir("segment")
    -- fixed weights, one 1 -> 2 layer using only the centre taps: conv1 = ReLU(v - 30), conv2 = ReLU(70 - v)
    local w = {}
    for i = 1, 18 do w[i] = 0 end
    w[5], w[14] = 1, -1
    local parts = { "tortuga-conv 1\nlayers 1\nlayer 1 2\ndata\n" }
    for _, x in ipairs(w) do parts[#parts + 1] = string.pack("<f", x) end
    parts[#parts + 1] = string.pack("<f<f", -30, 70)
    local path = dir .. "/centre.tgconv"
    local f = assert(io.open(path, "wb"))
    f:write(table.concat(parts))
    f:close()
    -- the convolution outputs alone (kinds = {}): channel 1's two maps separate the three bands
    local rf = tg.segment.forest { trees = 10, seed = 3, features = { sigmas = { 1 }, kinds = {}, conv = path } }
    rf:train({ a, b }, scribbles)
    assert.same({ "ch1:conv1", "ch1:conv2", "ch2:conv1", "ch2:conv2" }, rf.feature_names)
    local labels = rf:predict({ a, b }, { probabilities = false })
    assert.equal(1, tg.segment.evaluate(labels, truth).accuracy)
    local imp = rf:importance()
    assert.is_true(imp["ch1:conv1"] + imp["ch1:conv2"] > 0.5)
    -- with filter features too (conv columns last per channel), from a loaded network
    local net = tg.segment.load_conv(path)
    local rf2 = tg.segment.forest { trees = 10, seed = 3, features = { sigmas = { 0.7, 1.6 }, conv = net } }
    rf2:train({ a, b }, scribbles)
    assert.equal(20, #rf2.feature_names)
    assert.equal("ch1:conv2", rf2.feature_names[10])
    assert.equal("ch2:conv2", rf2.feature_names[20])
    local l1, p1 = rf2:predict({ a, b })
    assert.equal(1, tg.segment.evaluate(l1, truth).accuracy)
    -- the saved model carries the weights: delete the weight file, reload, predict the same bytes
    local model = dir .. "/conv.tgf"
    rf2:save(model)
    os.remove(path)
    local back = tg.segment.load(model)
    assert.is_true(rf2.ud:equal(back.ud))
    assert.same(rf2.feature_names, back.feature_names)
    local l2, p2 = back:predict({ a, b })
    assert.equal(l1:bytes(), l2:bytes())
    for k = 1, 3 do assert.equal(p1[k]:bytes(), p2[k]:bytes()) end
    -- a bad conv option
    assert.raises_with(function() tg.segment.forest { features = { conv = 42 } } end, "conv must be")
    assert.raises_with(function() tg.segment.forest { features = { conv = dir .. "/missing.tgconv" } } end,
      "missing.tgconv")
  end)

  it("rejects bad input with clear errors", function()
    local rf = tg.segment.forest { trees = 3, features = FEAT }
    local small = tg.volume.new { 10, 10, 6, dtype = "f32" }
    assert.raises_with(function() rf:train({ a, small }, scribbles) end, "channels must have the same shape")
    local empty = tg.volume.new { 24, 20, 6, dtype = "u8" }
    assert.raises_with(function() rf:train({ a, b }, empty) end, "no labelled voxel")
    local one = tg.volume.new { 24, 20, 6, dtype = "u8" }
    one:set(1, 1, 1, 2)
    one:set(2, 1, 1, 2)
    assert.raises_with(function() rf:train({ a, b }, one) end, "only one class")
    local named = tg.segment.forest { trees = 3, features = FEAT, classes = { pore = 1, cam = 2 } }
    assert.raises_with(function() named:train({ a, b }, scribbles) end, "scribble label 3")
    assert.raises_with(function() named:train({ a, b }, scribbles) end, "not in the class list")
    local named3 = tg.segment.forest { trees = 3, features = FEAT, classes = { pore = 1, cam = 2, ise = 3, extra = 4 } }
    assert.raises_with(function() named3:train({ a, b }, scribbles) end, "class 4 has no labelled voxel")
    assert.raises_with(function() tg.segment.forest { tress = 3 } end, "did you mean 'trees'")
    assert.raises_with(function() tg.segment.forest { trees = 0 } end, "trees must be an integer >= 1")
    -- predicting with another number of channels or features
    rf:train({ a, b }, scribbles)
    assert.raises_with(function() rf:predict({ a }) end, "trained on 2 channels, given 1")
    local rf1 = tg.segment.forest { trees = 3, features = FEAT }
    rf1:train({ a, b }, scribbles)
    rf1.feat = { sigmas = { 0.7 }, kinds = rf1.feat.kinds, dims = 2, truncate = 4 }
    assert.raises_with(function() rf1:predict({ a, b }) end, "trained on 16 features, these options give 8")
    assert.raises_with(function() tg.segment.forest({ trees = 2 }):predict({ a, b }) end, "not trained")
  end)

  it("refuses foreign, corrupt, truncated and other-version model files", function()
    local dir = H.tmpdir("segment")
    local rf = tg.segment.forest { trees = 3, features = FEAT }
    rf:train({ a, b }, scribbles)
    local path = dir .. "/m.tgf"
    rf:save(path)
    local f = assert(io.open(path, "rb"))
    local bytes = f:read("a")
    f:close()
    local function with(content, name)
      local p = dir .. "/" .. name
      local g = assert(io.open(p, "wb"))
      g:write(content)
      g:close()
      return p
    end
    local p = with(bytes:sub(1, 8) .. "\2" .. bytes:sub(10), "v2.tgf")
    assert.raises_with(function() tg.segment.load(p) end, "version 2, this tortuga reads version 1")
    p = with(bytes:sub(1, #bytes - 100), "short.tgf")
    assert.raises_with(function() tg.segment.load(p) end, "corrupt or truncated")
    local i = #bytes // 2
    p = with(bytes:sub(1, i - 1) .. string.char((bytes:byte(i) + 1) % 256) .. bytes:sub(i + 1), "flip.tgf")
    assert.raises_with(function() tg.segment.load(p) end, "checksum mismatch")
    p = with("P6\n2 2\n255\n" .. string.rep("\255\0\0", 4), "image.ppm") -- a 2x2 red image: some other format
    assert.raises_with(function() tg.segment.load(p) end, "not a tortuga forest model")
    assert.raises_with(function() tg.segment.load(dir .. "/missing.tgf") end, "missing.tgf")
    assert.raises_with(function() rf:save("/nonexistent-dir/x.tgf") end, "/nonexistent-dir/x.tgf")
  end)
end)

describe("tg.segment.otsu", function()
  it("finds the valleys of a trimodal volume", function()
    local v = tg.volume.new { 30, 10, 3, dtype = "u8" }
    for z = 1, 3 do
      for y = 1, 10 do
        for x = 1, 30 do
          local c = (x - 1) % 3
          v:set(x, y, z, 40 + 80 * c + (x + y + z) % 7 - 3)
        end
      end
    end
    local labels, r = tg.segment.otsu(v, { classes = 3 })
    assert.equal(2, #r.thresholds)
    assert.is_true(r.thresholds[1] >= 43 and r.thresholds[1] < 117)
    assert.is_true(r.thresholds[2] >= 123 and r.thresholds[2] < 197)
    for x = 1, 30 do assert.equal((x - 1) % 3, labels:get(x, 5, 2)) end
    local l2 = tg.segment.otsu(v:astype("f32"))
    assert.equal(0, l2:get(1, 1, 1))
    assert.equal(1, l2:get(3, 1, 1))
    assert.raises_with(function() tg.segment.otsu(v, { classes = 4 }) end, "classes must be 2 or 3")
    assert.raises_with(function() tg.segment.otsu(tg.volume.new { 4, 4, 1 }) end, "constant")
  end)
end)

describe("tg.segment.evaluate", function()
  it("computes accuracy, confusion, IoU, Dice and fraction errors", function()
    -- truth: 6 voxels of 1, 4 of 2; prediction: 5 of the 1s right, one 1 -> 2, all 2s right
    local t = tg.volume.new { 10, 1, 1, dtype = "u8" }
    local p = tg.volume.new { 10, 1, 1, dtype = "u8" }
    for x = 1, 10 do
      t:set(x, 1, 1, x <= 6 and 1 or 2)
      p:set(x, 1, 1, x <= 5 and 1 or 2)
    end
    local r = tg.segment.evaluate(p, t)
    assert.near(0.9, r.accuracy, 1e-12)
    assert.equal(5, r.confusion[1][1])
    assert.equal(1, r.confusion[1][2])
    assert.equal(4, r.confusion[2][2])
    assert.near(5 / 6, r.iou[1], 1e-12)
    assert.near(4 / 5, r.iou[2], 1e-12)
    assert.near(10 / 11, r.dice[1], 1e-12)
    assert.near(8 / 9, r.dice[2], 1e-12)
    assert.near((5 / 6 + 4 / 5) / 2, r.mean_iou, 1e-12)
    assert.near(-0.1, r.fraction_error[1], 1e-12)
    assert.near(0.1, r.max_fraction_error, 1e-12)
    assert.raises_with(function() tg.segment.evaluate(p, tg.volume.new { 9, 1, 1 }) end, "prediction is 10x1x1 but truth is 9x1x1")
  end)
end)

describe("tg.segment.clean", function()
  it("removes small islands and smooths with a majority filter", function()
    local v = tg.volume.new { 12, 12, 4, dtype = "u8" }
    for z = 1, 4 do for y = 1, 12 do for x = 1, 12 do v:set(x, y, z, x <= 6 and 1 or 2) end end end
    v:set(3, 3, 2, 2) -- a lone voxel of 2 in the 1 half
    v:set(9, 9, 3, 3) -- a lone voxel of 3 in the 2 half
    local c, info = tg.segment.clean(v, { min_size = 2 })
    assert.equal(2, info.islands)
    assert.equal(1, c:get(3, 3, 2))
    assert.equal(2, c:get(9, 9, 3))
    assert.equal(1, c:get(6, 6, 2))
    assert.equal(2, c:get(7, 6, 2))
    local m = tg.segment.clean(v, { majority = 1 })
    assert.equal(1, m:get(3, 3, 2))
    assert.equal(2, m:get(9, 9, 3))
    assert.raises_with(function() tg.segment.clean(v:astype("f32"), { min_size = 3 }) end, "labels must be u8")
    assert.raises_with(function() tg.segment.clean(v, { min_szie = 3 }) end, "did you mean 'min_size'")
  end)
end)

describe("the generated sample", function()
  it("reaches >= 97 % voxel accuracy and phase fractions within 0.01 from strokes on three slices", function()
    -- 120 x 120 x 36 voxels rendered with noise 6, blur 0.8, curtaining 8, illumination 0.15 (no drift: the truth stays
    -- aligned), preprocessed as examples/segment.lua does; four rows and four columns of the truth on three slices
    local n, nz = 120, 36
    local truth = tg.generate.cathode { size = { n, n, nz }, spacing = 1e-7, seed = 1 }
    local b0, s0 = tg.generate.sem(truth, { drift = 0, noise = 6, blur = 0.8, curtaining = 8, illumination = 0.15, seed = 1 })
    local bse = tg.filter.normalize(tg.filter.flatten(b0, { sigma = n / 8 }))
    local se = tg.filter.normalize(tg.filter.destripe(tg.filter.flatten(s0, { sigma = n / 8 }), { wavelet = 4, sigma = 2 }))
    local scr = tg.volume.new { n, n, nz, dtype = "u8" }
    for _, z in ipairs { 6, 18, 30 } do
      for k = 1, 4 do
        local y, x = k * n // 5, k * n // 5
        for i = 1, n do scr:set(i, y, z, truth:get(i, y, z) + 1) end
        for j = 1, n do scr:set(x, j, z, truth:get(x, j, z) + 1) end
      end
    end
    local rf = tg.segment.forest { trees = 50, classes = { pore = 1, cam = 2, ise = 3 } }
    rf:train({ bse, se }, scr)
    local labels = rf:predict({ bse, se }, { probabilities = false })
    local ev = tg.segment.evaluate(labels:map { [1] = 0, [2] = 1, [3] = 2 }, truth)
    assert.is_true(ev.accuracy >= 0.97, "accuracy " .. ev.accuracy)
    for _, c in ipairs { 0, 1, 2 } do
      assert.is_true(math.abs(ev.fraction_error[c]) <= 0.01, "fraction error of " .. c .. ": " .. ev.fraction_error[c])
    end
  end)
end)

describe("sem-3phase-seg-groundtruth", function()
  local D = H.shared_data("sem-3phase-seg-groundtruth/0.tif") and H.shared_data("sem-3phase-seg-groundtruth")
  local ok_ref, ref = pcall(dofile, "tests/fixtures/segment/sklearn_iou.lua")
  local MAPS = { [0] = { [85] = 1, [170] = 2, [255] = 3 }, [1] = { [127] = 1, [254] = 2 } }
  for k = 0, 1 do
    it("image " .. k .. ": class-mean IoU > 0.55 and at least scikit-learn's on the same features #shared", function()
      H.need_shared("sem-3phase-seg-groundtruth/" .. k .. ".tif")
      local img = tg.io.read(D .. "/" .. k .. ".tif"):astype("f32")
      local lab = tg.io.read(D .. "/" .. k .. "_labels.tif"):map(MAPS[k])
      local gt = tg.io.read(D .. "/" .. k .. "_ground_truth.tif"):map(MAPS[k])
      local rf = tg.segment.forest { trees = 100, seed = 1, features = { set = "default" } }
      rf:train({ img }, lab)
      local pred = rf:predict({ img }, { probabilities = false })
      local ev = tg.segment.evaluate(pred, gt)
      assert.is_true(ev.mean_iou > 0.55, "mean IoU " .. ev.mean_iou)
      assert.is_true(ok_ref, "fixture tests/fixtures/segment/sklearn_iou.lua")
      -- scikit-learn's IoU varies with its seed (five seeds in the fixture); tortuga's seed 1 must reach at least
      -- the lowest of them
      local lowest = math.huge
      for _, s in ipairs(ref[k].seeds) do lowest = math.min(lowest, s) end
      assert.is_true(ev.mean_iou >= lowest, string.format("tortuga %.4f < scikit-learn %.4f", ev.mean_iou, lowest))
    end)
  end
end)
