--- tg.segment — random-forest segmentation of BSE + SE stacks, Otsu thresholds, evaluation and clean-up.
--
--   local rf = tg.segment.forest{trees = 100, max_depth = nil, min_leaf = 1, mtry = nil, class_weight = nil, seed = 1,
--                                bins = nil, bootstrap = true, features = {...}, classes = {pore = 1, cam = 2, ise = 3}}
--     A random forest of CART trees on Gini impurity (engine/segment/tg_forest.h): bootstrap samples, mtry features
--     tried per split (nil = floor(sqrt(features))), max_depth nil = unlimited, min_leaf = distinct samples per leaf,
--     class_weight nil | "balanced" | {[label or name] = weight}; bins = 0: exact CART (sorted splits), 2..256:
--     histogram splits on quantile bins (nodes under 64 samples still split exactly), nil: exact below 65 536
--     training samples, 256 bins above. Same seed, same forest, whatever the thread count.
--     features: the feature options of tg.segment.features, {sigmas = {0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0},
--     set = "default" | "full" (or kinds = {"gaussian", "log", "gradmag", "dog", "st", "hessian"}), dims = 2 | 3,
--     truncate = 4, conv = nil}; the default is ilastik's scales, the "default" set, per slice (dims = 2).
--     conv = the path of a .tgconv weight file or a network from tg.segment.load_conv (see tortuga.features): its
--     outputs are appended to each channel's features for training and prediction (kinds = {} with conv uses the
--     convolution outputs alone); the weights are stored in the saved model, so tg.segment.load(path) recomputes
--     the same features without the weight file.
--     classes: names for the scribble labels ({pore = 1, cam = 2, ise = 3}); without it the classes are the non-zero
--     labels found in the scribbles.
--   rf:train(channels, scribbles) -> rf
--     channels: a list of volumes with the same shape ({bse, se}) or one volume. scribbles: a label volume with the
--     channels' shape, 0 = unlabelled, or a list of labelled slices {[z] = <nx x ny x 1 label volume>, ...}
--     (z 1-based). Features are computed only on the slices that hold labels, in slabs.
--   rf:predict(channels [, {probabilities = true, slab = nil}]) -> labels, prob
--     labels: u8 volume of the class label values; prob: one f32 volume per class, keyed by label value (and by
--     name for named classes), each voxel's probabilities summing to 1 (nil with probabilities = false).
--     Prediction runs in z slabs (slab = slices per slab; default: about 512 MiB of features), so the state per
--     voxel of the stack is the output only: 1 byte of label + 4 bytes per class of probability, on top of the
--     channels (4 bytes per f32 channel). Per voxel of one slab (transient, bounded by the slab size): the feature
--     rows, 4 * F bytes (F features), the columns of one channel, 4 * F / channels, and the filter temporaries,
--     at most 36 bytes (2D) or 56 bytes (3D) per voxel of the slab plus its z halo (3D only; up to 60 slices on
--     each side for sigma 10 with the structure tensor). A 500^3 two-channel f32 stack with three classes and the
--     default features (2D, 50 features, slabs of 10 slices): 1 GB of channels + 0.125 GB of labels + 1.5 GB of
--     probabilities + 0.5 + 0.25 + 0.08 GB for one slab = 3.5 GB; with the full set in 3D (122 features, slabs of
--     4 slices + 120 halo slices of temporaries): 2.6 GB + 0.5 + 0.25 + 1.7 GB = 5.1 GB: within 8 GiB either way.
--   rf:importance() -> {[feature name] = Gini importance (sums to 1)}, sorted list {{name = ..., value = ...}, ...}
--   rf:save(path);  tg.segment.load(path) -> forest     (versioned binary model with a SHA-256 checksum; a corrupt,
--     truncated, foreign or other-version file raises a clear error; the reloaded forest is bit-identical)
--   rf:info() -> {trees, classes, features, channels, nodes, class_values, names, feature_names, ...}
--   tg.segment.otsu(v, {classes = 2 | 3, bins = 256}) -> labels (u8 0..classes-1, darkest 0), {thresholds = {...},
--     classes, nan, posinf, neginf}: the histogram spans the finite values; the non-finite voxels are counted
--     (nan, posinf, neginf) and labelled 0 (NaN, -Inf) or classes-1 (+Inf)
--   tg.segment.evaluate(pred, truth [, {ignore = nil}]) -> { accuracy, confusion = {[truth label] = {[pred label] = n}},
--     iou = {[label] = ...}, dice = {[label] = ...}, mean_iou, mean_dice, fraction = {pred = {..}, truth = {..}},
--     fraction_error = {[label] = pred - truth}, max_fraction_error, labels = {...}, voxels, units = "1" }
--     Labels are compared by value; ignore = a truth label to leave out (e.g. unlabelled 0 in sparse truth).
--   tg.segment.clean(labels, {min_size = 0, majority = 0, connectivity = 6, dims = 3}) -> labels, info
--     Removes islands (connected components of one label) smaller than min_size voxels, reassigning each to the
--     most frequent label around it, then applies a majority filter of radius `majority` (cube, or square per
--     slice with dims = 2). info = {islands = n, voxels = changed by island removal}.
--   tg.segment.features, tg.segment.load_conv: tortuga.features' functions (when that module is installed).
local core = require "tortuga.core"
local util = require "tortuga.util"
local volume = require "tortuga.volume"
local json = require "tortuga.json"

local C = core.segment
local NIL = util.NIL
local M = {}

local KINDS = { gaussian = 0, log = 1, gradmag = 2, dog = 3, st = 4, hessian = 5 }
local KIND_NAMES = { "gaussian", "log", "gradmag", "dog", "st", "hessian" }
local ILASTIK = { 0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0 }
local SETS = { default = 15, full = 63 }

local function is_conv(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return type(mt) == "table" and mt.__name == "tortuga.ConvNet"
end

local function feature_spec(o, where)
  o = util.options(o, { sigmas = NIL, set = "default", kinds = NIL, dims = 2, truncate = 4.0, conv = NIL }, where)
  local conv = o.conv
  if type(conv) == "string" then
    local net, err = core.features.conv_load(conv)
    if not net then error(where .. ": conv: " .. err, 3) end
    conv = net
  elseif conv ~= nil and not is_conv(conv) then
    error(where .. ": conv must be the path of a weight file or a network from tg.segment.load_conv, got " .. type(conv), 3)
  end
  local mask
  if o.kinds ~= nil then
    if type(o.kinds) ~= "table" then error(where .. ": kinds must be a list of names", 3) end
    mask = 0
    for _, k in ipairs(o.kinds) do
      local b = KINDS[k]
      if not b then
        local hint = util.suggest(tostring(k), KIND_NAMES)
        error(string.format("%s: unknown feature kind '%s'%s", where, tostring(k), hint and (" (did you mean '" .. hint .. "'?)") or ""), 3)
      end
      mask = mask | (1 << b)
    end
  else
    mask = SETS[o.set]
    if not mask then error(where .. ": set must be \"default\" or \"full\", got " .. tostring(o.set), 3) end
  end
  local sigmas = {}
  for i, s in ipairs(o.sigmas or ILASTIK) do sigmas[i] = s end
  if o.dims ~= 2 and o.dims ~= 3 then error(where .. ": dims must be 2 or 3, got " .. tostring(o.dims), 3) end
  return { sigmas = sigmas, kinds = mask, dims = o.dims, truncate = o.truncate, conv = conv }
end

-- The convolution weights travel in the model's metadata as the hex text of their weight file (checksummed with
-- the rest of the model), so that a reloaded forest recomputes exactly the features it was trained on.
local function to_hex(b) return (b:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function from_hex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

local function feature_meta(feat)
  return { sigmas = feat.sigmas, kinds = feat.kinds, dims = feat.dims, truncate = feat.truncate }
end

local function channel_list(channels, where)
  if volume.is_volume(channels) then return { channels } end
  if type(channels) ~= "table" or #channels == 0 then
    error(where .. ": channels must be a volume or a non-empty list of volumes", 3)
  end
  for i, v in ipairs(channels) do
    if not volume.is_volume(v) then error(string.format("%s: channel %d is not a volume (%s)", where, i, type(v)), 3) end
  end
  return channels
end

-- The non-zero label values of the scribbles (a volume or {[z] = slice}).
local function scribble_values(scribbles, where)
  local seen = {}
  local function add(v)
    if v.dtype ~= "u8" and v.dtype ~= "u16" then
      error(where .. ": scribbles must be u8 or u16 label volumes, got " .. v.dtype, 4)
    end
    for label, n in pairs(v:counts()) do if label ~= 0 and n > 0 then seen[label] = true end end
  end
  if volume.is_volume(scribbles) then add(scribbles)
  elseif type(scribbles) == "table" then
    for z, s in pairs(scribbles) do
      if math.type(z) ~= "integer" or not volume.is_volume(s) then
        error(where .. ": a scribble slice list maps slice numbers to 2D label volumes", 4)
      end
      add(s)
    end
  else
    error(where .. ": scribbles must be a label volume or a list of labelled slices", 4)
  end
  local values = {}
  for v in pairs(seen) do values[#values + 1] = v end
  table.sort(values)
  return values
end

local Forest = {}
Forest.__index = Forest

local function check_int(v, name, lo, where)
  if v ~= nil and (math.type(v) ~= "integer" or v < lo) then
    error(string.format("%s: %s must be an integer >= %d, got %s", where, name, lo, tostring(v)), 3)
  end
end

function M.forest(opts)
  local where = "tg.segment.forest"
  local o = util.options(opts, { trees = 100, max_depth = NIL, min_leaf = 1, mtry = NIL, class_weight = NIL, seed = 1,
                                 bins = NIL, bootstrap = true, features = NIL, classes = NIL }, where)
  check_int(o.trees, "trees", 1, where)
  check_int(o.max_depth, "max_depth", 1, where)
  check_int(o.min_leaf, "min_leaf", 1, where)
  check_int(o.mtry, "mtry", 1, where)
  check_int(o.seed, "seed", 0, where)
  check_int(o.bins, "bins", 0, where)
  if o.bins ~= nil and o.bins ~= 0 and (o.bins < 2 or o.bins > 256) then error(where .. ": bins must be 0 (exact) or 2..256", 2) end
  if o.class_weight ~= nil and o.class_weight ~= "balanced" and type(o.class_weight) ~= "table" then
    error(where .. ": class_weight must be nil, \"balanced\" or a table {[label or name] = weight}", 2)
  end
  if o.classes ~= nil then
    if type(o.classes) ~= "table" then error(where .. ": classes must be a table {name = label}", 2) end
    for name, v in pairs(o.classes) do
      if type(name) ~= "string" or math.type(v) ~= "integer" or v < 1 or v > 255 then
        error(where .. ": classes maps names to labels 1..255 ({pore = 1, cam = 2, ise = 3})", 2)
      end
    end
  end
  local self = setmetatable({ options = o, feat = feature_spec(o.features, where .. ": features"), classes = o.classes }, Forest)
  return self
end

local function class_names(classes)
  local byvalue = {}
  for name, v in pairs(classes or {}) do byvalue[v] = name end
  return byvalue
end

function Forest:train(channels, scribbles)
  local where = "tg.segment.forest:train"
  channels = channel_list(channels, where)
  local values
  if self.classes then
    values = {}
    for _, v in pairs(self.classes) do values[#values + 1] = v end
    table.sort(values)
  else
    values = scribble_values(scribbles, where)
    if #values == 0 then error(where .. ": the scribbles have no labelled voxel (0 = unlabelled)", 2) end
    if #values == 1 then
      error(string.format("%s: the scribbles label only one class (%d); a forest needs at least two", where, values[1]), 2)
    end
  end
  local o = self.options
  local cw = o.class_weight
  if type(cw) == "table" then
    local list = {}
    for i, v in ipairs(values) do
      local name = class_names(self.classes)[v]
      list[i] = cw[v] or (name and cw[name])
      if type(list[i]) ~= "number" then error(string.format("%s: class_weight has no weight for class %s", where, name or v), 2) end
    end
    cw = list
  end
  local names = C.feature_names(self.feat, #channels)
  local meta = json.encode({ format = "tortuga.forest", features = feature_meta(self.feat), feature_names = names,
                             conv = self.feat.conv and to_hex(self.feat.conv:bytes()) or nil,
                             classes = self.classes or {}, class_values = values }, { indent = 0 })
  local fopts = { trees = o.trees, max_depth = o.max_depth, min_leaf = o.min_leaf, mtry = o.mtry, bins = o.bins,
                  bootstrap = o.bootstrap, seed = o.seed, class_weight = cw }
  local ok, ud, n = pcall(C.train, channels, scribbles, self.feat, fopts, values, meta)
  if not ok then error(where .. ": " .. tostring(ud):gsub("^segment: ", ""), 2) end
  if self.ud then self.ud:release() end
  self.ud, self.samples, self.values, self.feature_names = ud, n, values, names
  return self
end

local function checked(self, where)
  if not self.ud then error(where .. ": the forest is not trained (call :train or tg.segment.load)", 3) end
  return self.ud
end

function Forest:predict(channels, opts)
  local where = "tg.segment.forest:predict"
  local ud = checked(self, where)
  local o = util.options(opts, { probabilities = true, slab = NIL }, where)
  channels = channel_list(channels, where)
  check_int(o.slab, "slab", 1, where)
  local ok, labels, prob = pcall(C.predict, ud, channels, self.feat, o.probabilities, o.slab)
  if not ok then error(where .. ": " .. tostring(labels):gsub("^segment: ", ""), 2) end
  if prob then
    local byvalue, keyed = class_names(self.classes), {}
    for i, v in ipairs(self.values) do
      keyed[v] = prob[i]
      if byvalue[v] then keyed[byvalue[v]] = prob[i] end
    end
    prob = keyed
  end
  return labels, prob
end

function Forest:importance()
  local ud = checked(self, "tg.segment.forest:importance")
  local imp = ud:info().importance
  local byname, list = {}, {}
  for i, v in ipairs(imp) do
    local name = self.feature_names[i] or ("feature" .. i)
    byname[name] = v
    list[#list + 1] = { name = name, value = v }
  end
  table.sort(list, function(a, b) if a.value ~= b.value then return a.value > b.value end return a.name < b.name end)
  return byname, list
end

function Forest:info()
  local info = checked(self, "tg.segment.forest:info"):info()
  info.meta = nil
  info.names = self.classes
  info.feature_names = self.feature_names
  info.samples = self.samples
  info.features_options = self.feat
  return info
end

function Forest:save(path)
  local ud = checked(self, "tg.segment.forest:save")
  if type(path) ~= "string" then error("tg.segment.forest:save: path must be a string", 2) end
  local ok, err = ud:save(path)
  if not ok then error("tg.segment.forest:save: " .. err, 2) end
  return true
end

function Forest:release()
  if self.ud then self.ud:release() end
  self.ud = nil
end
Forest.__close = Forest.release

function Forest:__tostring()
  if not self.ud then return "tortuga.Forest(untrained)" end
  return tostring(self.ud)
end

function M.load(path)
  if type(path) ~= "string" then error("tg.segment.load: path must be a string", 2) end
  local ud, err = C.load(path)
  if not ud then error("tg.segment.load: " .. err, 2) end
  local info = ud:info()
  local ok, meta = pcall(json.decode, info.meta or "")
  if not ok or type(meta) ~= "table" or meta.format ~= "tortuga.forest" then
    ud:release()
    error("tg.segment.load: " .. path .. ": the model has no tortuga segmentation metadata", 2)
  end
  local classes = meta.classes
  if type(classes) ~= "table" or next(classes) == nil then classes = nil end
  local feat = meta.features
  if meta.conv ~= nil then
    local net, err
    if type(meta.conv) == "string" and #meta.conv % 2 == 0 and not meta.conv:find("%X") then
      net, err = core.features.conv_parse(from_hex(meta.conv), path .. ": convolution weights")
    else
      err = path .. ": the convolution weights in the model metadata are not hex text"
    end
    if not net then
      ud:release()
      error("tg.segment.load: " .. err, 2)
    end
    feat.conv = net
  end
  local self = setmetatable({ options = { trees = info.trees, max_depth = info.max_depth ~= 0 and info.max_depth or nil,
                                          min_leaf = info.min_leaf, mtry = info.mtry, seed = info.seed, bins = info.bins },
                              feat = feat, classes = classes, ud = ud, values = info.class_values,
                              feature_names = meta.feature_names }, Forest)
  return self
end

function M.is_forest(x) return getmetatable(x) == Forest end

--- Lower level, for benchmarks and for features computed elsewhere:
--   tg.segment.feature_matrix(channels, features_opts [, {z = {first, last}}]) -> f32 volume (nx = features,
--     ny = voxels of the slices, x fastest), and the feature names.
--   rf:train_matrix(X, y) trains on rows of X (f32 volume, nx = features) with labels y (u8 volume, one per row);
--   rf:predict_matrix(X [, {probabilities = false}]) -> labels (u8, rows x 1 x 1), prob.
function M.feature_matrix(channels, fopts, opts)
  local where = "tg.segment.feature_matrix"
  channels = channel_list(channels, where)
  local feat = feature_spec(fopts, where)
  local o = util.options(opts, { z = NIL }, where)
  local ok, X = pcall(C.features_matrix, channels, feat, o.z)
  if not ok then error(where .. ": " .. tostring(X):gsub("^segment: ", ""), 2) end
  return X, C.feature_names(feat, #channels)
end

function Forest:train_matrix(X, y)
  local where = "tg.segment.forest:train_matrix"
  local values = scribble_values(y, where)
  if #values < 2 then error(where .. ": y must hold at least two classes (labels 1..255)", 2) end
  if values[1] == 0 then error(where .. ": y holds 0, but class labels are 1..255", 2) end
  local o = self.options
  local fopts = { trees = o.trees, max_depth = o.max_depth, min_leaf = o.min_leaf, mtry = o.mtry, bins = o.bins,
                  bootstrap = o.bootstrap, seed = o.seed, class_weight = type(o.class_weight) == "string" and o.class_weight or nil }
  local ok, ud = pcall(C.train_matrix, X, y, fopts, values, nil)
  if not ok then error(where .. ": " .. tostring(ud):gsub("^segment: ", ""), 2) end
  if self.ud then self.ud:release() end
  local names = {}
  for i = 1, ud:info().features do names[i] = "feature" .. i end
  self.ud, self.values, self.feature_names, self.samples = ud, values, names, select(2, y:dims()) * select(3, y:dims()) * (y:dims())
  return self
end

function Forest:predict_matrix(X, opts)
  local where = "tg.segment.forest:predict_matrix"
  local ud = checked(self, where)
  local o = util.options(opts, { probabilities = false }, where)
  local ok, labels, prob = pcall(C.predict_matrix, ud, X, o.probabilities)
  if not ok then error(where .. ": " .. tostring(labels):gsub("^segment: ", ""), 2) end
  return labels, prob
end

function M.otsu(v, opts)
  local where = "tg.segment.otsu"
  if not volume.is_volume(v) then error(where .. ": expected a volume, got " .. type(v), 2) end
  local o = util.options(opts, { classes = 2, bins = 256 }, where)
  if o.classes ~= 2 and o.classes ~= 3 then error(where .. ": classes must be 2 or 3, got " .. tostring(o.classes), 2) end
  check_int(o.bins, "bins", 2, where)
  local ok, labels, thr, left = pcall(C.otsu, v, o.classes, o.bins)
  if not ok then error(where .. ": " .. tostring(labels):gsub("^otsu: ", ""), 2) end
  return labels, { thresholds = thr, classes = o.classes, nan = left.nan, posinf = left.posinf, neginf = left.neginf }
end

function M.evaluate(pred, truth, opts)
  local where = "tg.segment.evaluate"
  if not volume.is_volume(pred) or not volume.is_volume(truth) then error(where .. ": expected two label volumes", 2) end
  local o = util.options(opts, { ignore = NIL }, where)
  local ok, values, cm = pcall(C.confusion, pred, truth)
  if not ok then error(tostring(values), 2) end
  local n, correct = 0, 0
  local rows, cols = {}, {}
  local keep = {}
  for i, v in ipairs(values) do keep[i] = v ~= o.ignore end
  for i = 1, #values do
    if keep[i] then
      for j = 1, #values do
        local c = cm[i][j]
        n = n + c
        rows[i] = (rows[i] or 0) + c
        cols[j] = (cols[j] or 0) + c
        if i == j then correct = correct + c end
      end
    end
  end
  if n == 0 then error(where .. ": no voxel to compare", 2) end
  local r = { confusion = {}, iou = {}, dice = {}, fraction = { pred = {}, truth = {} }, fraction_error = {},
              labels = {}, voxels = n, accuracy = correct / n, units = "1" }
  local sum_iou, sum_dice, nc, maxerr = 0, 0, 0, 0
  for i, v in ipairs(values) do
    if keep[i] then
      r.labels[#r.labels + 1] = v
      local row = {}
      for j, w in ipairs(values) do if cm[i][j] > 0 then row[w] = cm[i][j] end end
      r.confusion[v] = row
      local tp, t, p = cm[i][i], rows[i] or 0, cols[i] or 0
      local union = t + p - tp
      r.iou[v] = union > 0 and tp / union or 1
      r.dice[v] = (t + p) > 0 and 2 * tp / (t + p) or 1
      r.fraction.truth[v] = t / n
      r.fraction.pred[v] = p / n
      r.fraction_error[v] = (p - t) / n
      maxerr = math.max(maxerr, math.abs(r.fraction_error[v]))
      if t > 0 then sum_iou, sum_dice, nc = sum_iou + r.iou[v], sum_dice + r.dice[v], nc + 1 end
    end
  end
  -- predictions of an ignored or absent-from-truth label count as errors (already in accuracy); class means are over
  -- the labels present in the truth
  r.mean_iou = nc > 0 and sum_iou / nc or 0
  r.mean_dice = nc > 0 and sum_dice / nc or 0
  r.max_fraction_error = maxerr
  return r
end

function M.clean(labels, opts)
  local where = "tg.segment.clean"
  if not volume.is_volume(labels) then error(where .. ": expected a label volume, got " .. type(labels), 2) end
  local o = util.options(opts, { min_size = 0, majority = 0, connectivity = 6, dims = 3 }, where)
  check_int(o.min_size, "min_size", 0, where)
  check_int(o.majority, "majority", 0, where)
  if labels.dtype ~= "u8" then error(where .. ": labels must be u8, got " .. labels.dtype, 2) end
  local out, info = labels, { islands = 0, voxels = 0 }
  local ok, err = pcall(function()
    if o.min_size > 1 then out, info.islands, info.voxels = C.remove_islands(out, o.min_size, o.connectivity) end
    if o.majority > 0 then out = C.majority(out, o.majority, o.dims) end
  end)
  if not ok then error(where .. ": " .. tostring(err):gsub("^[%w_]+: ", ""), 2) end
  if out == labels then out = labels:copy() end
  return out, info
end

if package.searchpath("tortuga.features", package.path) then
  local okf, features = pcall(require, "tortuga.features")
  if okf and type(features) == "table" then M.features, M.load_conv = features.features, features.load_conv end
end

return M
