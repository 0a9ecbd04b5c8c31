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
--     conv = the path of a .tgconv weight file or a network from tg.segment.load_conv (see below): its
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
--   tg.segment.load_conv(path) -> a convolution network (tortuga.ConvNet) from a .tgconv weight file (below).
--
-- tg.segment.features — ilastik's pixel-classification features per channel, plus optional 3x3 convolution layers,
-- computed by z slabs.
--
--   local F = tg.segment.features({bse, se}, {sigmas = {0.7, 1.6, 3.5}, set = "full", dims = 2})
--   F.names  F.count  F.nchannels  F.shape = {nx, ny, nz}  F.halo  F.options  F.z = {first, last}
--   F:slab(z)               --> matrix: f32 volume of dims (F.count, nx*ny, #z); element (j, r, k) is feature j of
--                               voxel x + nx*y of slice first+k (every slab gives the whole-volume values)
--   F:at(mask [, {max_slab}]) --> matrix (F.count, n, 1), n   for the voxels where mask ~= 0, in x-fastest scan order
--   F:stack(z)              --> {f32 volume per feature}, names    (each (nx, ny, #z), channel 1's spacing)
--   F:volume(name | index [, z]) --> one feature as an f32 volume, computing only that feature
--   F:slabs([max_bytes])    --> iterator of {first, last} z ranges whose slab fits in max_bytes (default 1 GiB)
--   F:bytes_per_voxel()     --> engine memory per voxel of a slab (matrix + one channel's columns + temporaries,
--                               halo not counted)
--   tg.segment.features(channels, {..., output = "stack"}) --> volumes, names   (the whole F.z range at once)
--
-- For the forest (coordinate here): training takes `local X, n = F:at(scribbles)` (a (count x n) matrix whose
-- rows follow the scan order of the non-zero scribble voxels); prediction loops `for z in F:slabs(budget) do
-- local X = F:slab(z) ... end`. In C, the same is `tg_features_points` / `tg_features_slab` with the engine
-- options that F.options holds: {sigmas = {...}, kinds = {"gaussian", ...}, dims = 2|3, truncate = 4,
-- conv = <tortuga.ConvNet userdata holding a tg_conv_net *>} (see modules/lsegment.c).
--
-- Options of features(channels, opts):
--   sigmas = {0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0} (ilastik's scales, in voxels; any subset or values in (0, 64];
--            "ilastik" names that list); at sigma < 0.5 only "gaussian" is computed, as in ilastik.
--   set = "default" (gaussian, log, gradmag, dog) | "full" (+ st, hessian) | a list of those kind names.
--   dims = 2 (derivatives in each slice; no z halo) | 3.
--   conv = path of a weight file (or a ConvNet from tg.segment.load_conv): a stack of 3x3 conv + ReLU layers
--          applied to each slice of each channel; its outputs are appended per channel.
--   z = {first, last}: the default range of slab/stack (1-based, inclusive); truncate = 4.0 (kernel radius in sigmas).
--   output = "object" | "stack".
--
-- Definitions (ilastik's, with scipy.ndimage's Gaussian derivative filters, truncate 4, mode "reflect"):
--   gaussian = G_s * I; log = sum of second derivatives; gradmag = sqrt(sum of squared first derivatives);
--   dog = G_s - G_0.66s; st = eigenvalues of the structure tensor, inner scale s, outer scale 0.5 s;
--   hessian = eigenvalues of the Hessian of Gaussian. Eigenvalues in descending order (vigra's convention).
--   Equal to scipy within 1e-4 (tests/fixtures/features, bench/features_ref.py). Column order: per channel,
--   kind then sigma then eigenvalue; conv outputs last. Names: "ch1:gaussian(1.6)", "ch2:hessian_ev1(3.5)", "ch1:conv12".
--
-- Convolution weight file (.tgconv, version 1): a text header, then little-endian float32 data:
--     tortuga-conv 1\n  layers <L>\n  layer <cin> <cout>\n (L lines)  data\n
--   then per layer: weights [cout][cin][3][3], then the cout biases. 3x3 kernels, stride 1, zero "same" padding,
--   ReLU after every layer; a grey channel given to a first layer with cin = 3 is fed as 3 identical planes.
--   Export VGG16's first block (conv1_1, conv1_2: 3->64->64) in a few lines:
--
--   -- PyTorch (torchvision)
--     import torch, torchvision, numpy as np
--     f = torchvision.models.vgg16(weights="IMAGENET1K_V1").features
--     layers = [f[0], f[2]]
--     with open("vgg16_block1.tgconv", "wb") as out:
--         out.write(b"tortuga-conv 1\nlayers %d\n" % len(layers))
--         for l in layers: out.write(b"layer %d %d\n" % (l.in_channels, l.out_channels))
--         out.write(b"data\n")
--         for l in layers:
--             out.write(l.weight.detach().numpy().astype("<f4").tobytes())
--             out.write(l.bias.detach().numpy().astype("<f4").tobytes())
--
--   -- Keras
--     import numpy as np, tensorflow as tf
--     m = tf.keras.applications.VGG16(weights="imagenet", include_top=False)
--     layers = [m.get_layer("block1_conv1"), m.get_layer("block1_conv2")]
--     with open("vgg16_block1.tgconv", "wb") as out:
--         out.write(b"tortuga-conv 1\nlayers %d\n" % len(layers))
--         for l in layers:
--             k = l.get_weights()[0]                       # (3, 3, cin, cout)
--             out.write(b"layer %d %d\n" % (k.shape[2], k.shape[3]))
--         out.write(b"data\n")
--         for l in layers:
--             k, b = l.get_weights()
--             out.write(k.transpose(3, 2, 0, 1).astype("<f4").tobytes())
--             out.write(b.astype("<f4").tobytes())
--
--   VGG16 expects its own input scaling (Keras "caffe": BGR means subtracted, 0..255); scale the channels
--   accordingly (e.g. tg.filter.normalize to 0..1, times 255, minus ~117), as no scaling is done here.
--
-- Memory: a slab needs (count * 4 + count / channels * 4 + at most 56 (3D) / 36 (2D)) bytes per voxel, the last
-- term also over the z halo (3D) — see engine/segment/tg_features.h. Nothing holds every feature of every voxel unless you ask for it.
local core = require "tortuga.core"
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local volume = require "tortuga.volume"
local json = require "tortuga.json"

local C = core.segment
local NIL = util.NIL
local M = {}

M.ILASTIK_SIGMAS = { 0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0 }
M.KINDS = { "gaussian", "log", "gradmag", "dog", "st", "hessian" }
M.SETS = {
  default = { "gaussian", "log", "gradmag", "dog" },
  full = { "gaussian", "log", "gradmag", "dog", "st", "hessian" },
}

local function is_conv(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return type(mt) == "table" and mt.__name == "tortuga.ConvNet"
end

--- Load a convolution weight file; raises with the path and the reason on failure.
function M.load_conv(path)
  if type(path) ~= "string" then error("tg.segment.load_conv: path must be a string, got " .. type(path), 2) end
  local net, err = C.conv_load(path)
  if not net then error("tg.segment.load_conv: " .. err, 2) end
  return net
end

local KNOWN_KIND = {}
for _, k in ipairs(M.KINDS) do KNOWN_KIND[k] = true end

-- A copy of a list of feature kind names; raises at level 4 (feature_options' caller's caller) on an unknown one.
local function check_kinds(list, where)
  for _, k in ipairs(list) do
    if not KNOWN_KIND[k] then
      local hint = type(k) == "string" and util.suggest(k, M.KINDS)
      error(string.format("%s: unknown feature kind '%s'%s (known: %s)", where, tostring(k),
        hint and (" (did you mean '" .. hint .. "'?)") or "", table.concat(M.KINDS, ", ")), 4)
    end
  end
  return { table.unpack(list) }
end

-- The feature options of tg.segment.features and of a forest's `features` (sigmas, set, kinds, dims, truncate,
-- conv; unknown keys already refused) -> the engine options every core.segment function reads:
-- {sigmas = {...}, kinds = {names...}, dims = 2|3, truncate = t, conv = ConvNet | nil}. Raises at level 3.
local function feature_options(o, where)
  local sigmas = o.sigmas
  if sigmas == nil then sigmas = M.ILASTIK_SIGMAS end
  if type(sigmas) == "string" then
    if sigmas ~= "ilastik" then
      error(string.format("%s: unknown sigma set '%s' (known: 'ilastik', or a list of numbers)", where, sigmas), 3)
    end
    sigmas = M.ILASTIK_SIGMAS
  end
  if type(sigmas) ~= "table" or #sigmas == 0 then
    error(where .. ": sigmas must be a non-empty list of numbers (voxels) or 'ilastik'", 3)
  end
  for i, s in ipairs(sigmas) do
    if type(s) ~= "number" or not (s > 0 and s <= 64) then
      error(string.format("%s: sigma %d must be a number in (0, 64] voxels, got %s", where, i, tostring(s)), 3)
    end
  end
  local kinds
  if o.kinds ~= nil then
    if type(o.kinds) ~= "table" then error(where .. ": kinds must be a list of names", 3) end
    kinds = check_kinds(o.kinds, where)
  elseif type(o.set) == "string" then
    if not M.SETS[o.set] then
      error(string.format("%s: unknown feature set '%s' (known: 'default', 'full', or a list of %s)", where, o.set,
        table.concat(M.KINDS, ", ")), 3)
    end
    kinds = { table.unpack(M.SETS[o.set]) }
  elseif type(o.set) == "table" then
    kinds = check_kinds(o.set, where)
  else
    error(where .. ": set must be 'default', 'full' or a list of feature kinds", 3)
  end
  if o.dims ~= 2 and o.dims ~= 3 then error(string.format("%s: dims must be 2 or 3, got %s", where, tostring(o.dims)), 3) end
  local conv = o.conv
  if type(conv) == "string" then
    local net, err = C.conv_load(conv)
    if not net then error(where .. ": conv: " .. err, 3) end
    conv = net
  elseif conv ~= nil and not is_conv(conv) then
    error(where .. ": conv must be the path of a weight file or a network from tg.segment.load_conv, got " .. type(conv), 3)
  end
  local eo = { sigmas = { table.unpack(sigmas) }, kinds = kinds, dims = o.dims, truncate = o.truncate, conv = conv }
  C.feature_count(eo, 1) -- the engine's checks (distinct sigmas, at least one feature): its message as it is
  return eo
end

local function feature_spec(o, where)
  o = util.options(o, { sigmas = NIL, set = "default", kinds = NIL, dims = 2, truncate = 4.0, conv = NIL }, where)
  return feature_options(o, where)
end

-- ---- pixel features (tg.segment.features) ----

-- A volume or a non-empty list of volumes of one shape -> a new list; raises at level 3.
local function channel_list(channels, where)
  if volume.is_volume(channels) then return { channels } end
  if type(channels) ~= "table" or #channels == 0 then
    error(where .. ": channels must be a volume or a non-empty list of volumes", 3)
  end
  for i, v in ipairs(channels) do
    if not volume.is_volume(v) then error(string.format("%s: channel %d is not a volume (%s)", where, i, type(v)), 3) end
  end
  local nx, ny, nz = channels[1]:dims()
  for i = 2, #channels do
    local a, b, c = channels[i]:dims()
    if a ~= nx or b ~= ny or c ~= nz then
      error(string.format("%s: channels differ in shape: channel 1 is %dx%dx%d, channel %d is %dx%dx%d; channels must "
        .. "have the same shape", where, nx, ny, nz, i, a, b, c), 3)
    end
  end
  return { table.unpack(channels) }
end

local Features = {}
Features.__index = Features

--- Build the feature object (nothing is computed until asked).
function M.features(channels, opts)
  local where = "tg.segment.features"
  local ch = channel_list(channels, where)
  local o = util.options(opts, { sigmas = NIL, set = "default", dims = 2, conv = NIL, z = NIL, truncate = 4.0,
                                 output = "object" }, where)
  if o.output ~= "object" and o.output ~= "stack" then
    error(where .. ": output must be 'object' or 'stack', got " .. tostring(o.output), 2)
  end
  local eo = feature_options(o, where)
  local nx, ny, nz = ch[1]:dims()
  local F = setmetatable({
    channels = ch, nchannels = #ch, shape = { nx, ny, nz }, options = eo,
    names = C.feature_names(eo, #ch), count = C.feature_count(eo, #ch), halo = C.feature_halo(eo),
  }, Features)
  F.z = F:_range(o.z, where, 2)
  if o.output == "stack" then return F:stack() end
  return F
end

function Features:_range(z, where, level)
  local nz = self.shape[3]
  if z == nil then return { 1, nz } end
  if math.type(z) == "integer" then z = { z, z } end
  if type(z) ~= "table" or math.type(z[1]) ~= "integer" or math.type(z[2]) ~= "integer"
      or z[1] < 1 or z[2] > nz or z[1] > z[2] then
    error(string.format("%s: z must be {first, last} within 1..%d, got %s", where, nz,
      type(z) == "table" and string.format("{%s, %s}", tostring(z[1]), tostring(z[2])) or tostring(z)), level + 1)
  end
  return { z[1], z[2] }
end

function Features:slab(z)
  return C.features_slab(self.channels, self.options, self:_range(z or self.z, "features:slab", 2))
end

function Features:stack(z)
  local vols = C.features_stack(self.channels, self.options, self:_range(z or self.z, "features:stack", 2))
  return vols, { table.unpack(self.names) }
end

function Features:at(mask, opts)
  if not volume.is_volume(mask) then error("features:at: mask must be a volume", 2) end
  local o = util.options(opts, { max_slab = 0 }, "features:at")
  return C.features_at(self.channels, self.options, mask, o.max_slab)
end

function Features:bytes_per_voxel()
  -- the matrix, one channel's columns and the filter temporaries (engine/segment/tg_features.h)
  return self.count * 4 + (self.count // self.nchannels) * 4 + (self.options.dims == 3 and 56 or 36)
end

function Features:slabs(max_bytes)
  max_bytes = max_bytes or (1 << 30)
  local nx, ny = self.shape[1], self.shape[2]
  local per_slice = nx * ny * self:bytes_per_voxel()
  local n = math.max(1, math.min(self.z[2] - self.z[1] + 1, max_bytes // per_slice - 2 * self.halo))
  local first = self.z[1]
  return function()
    if first > self.z[2] then return nil end
    local r = { first, math.min(first + n - 1, self.z[2]) }
    first = r[2] + 1
    return r
  end
end

--- One feature, by name or 1-based index, as an f32 volume over z (default F.z); computes only that feature.
function Features:volume(which, z)
  local i = which
  if type(which) == "string" then
    for k, n in ipairs(self.names) do if n == which then i = k end end
    if type(i) ~= "number" then error(string.format("features:volume: no feature named '%s'", which), 2) end
  end
  if math.type(i) ~= "integer" or i < 1 or i > self.count then
    error(string.format("features:volume: index must be 1..%d, got %s", self.count, tostring(which)), 2)
  end
  local name = self.names[i]
  local c, rest = name:match("^ch(%d+):(.*)$")
  local ch = { self.channels[tonumber(c)] }
  local eo = { dims = self.options.dims, truncate = self.options.truncate, kinds = {} }
  local comp = 1
  local conv = rest:match("^conv(%d+)$")
  if conv then
    eo.conv, eo.sigmas, comp = self.options.conv, { 1 }, tonumber(conv)
  else
    local kind, ev, s = rest:match("^(%a+)_ev(%d)%((.-)%)$")
    if not kind then kind, s = rest:match("^(%a+)%((.-)%)$") end
    eo.kinds, eo.sigmas, comp = { kind }, { tonumber(s) }, tonumber(ev) or 1
    for _, sg in ipairs(self.options.sigmas) do -- the exact sigma, not its %g print
      if string.format("%g", sg) == s then eo.sigmas = { sg } end
    end
  end
  local vols = C.features_stack(ch, eo, self:_range(z or self.z, "features:volume", 2))
  return vols[comp]
end

function Features:__tostring()
  return string.format("tortuga.Features(%d channel%s %dx%dx%d, %d features, %dD%s)", self.nchannels,
    self.nchannels == 1 and "" or "s", self.shape[1], self.shape[2], self.shape[3], self.count, self.options.dims,
    self.options.conv and ", conv" or "")
end

-- ---- random forests ----

-- The convolution weights travel in the model's metadata as the hex text of their weight file (checksummed with
-- the rest of the model), so that a reloaded forest recomputes exactly the features it was trained on.
local function to_hex(b) return (b:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function from_hex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

local function feature_meta(feat)
  return { sigmas = feat.sigmas, kinds = feat.kinds, dims = feat.dims, truncate = feat.truncate }
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
  local ud, n = C.train(channels, scribbles, self.feat, fopts, values, meta)
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
  local labels, prob = C.predict(ud, channels, self.feat, o.probabilities, o.slab)
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
  if type(feat) ~= "table" then
    ud:release()
    error("tg.segment.load: " .. path .. ": the model metadata has no feature options", 2)
  end
  if type(feat.kinds) == "number" then -- models written before the kinds were names hold a bit mask
    local mask, names = math.tointeger(feat.kinds) or 0, {}
    for i, k in ipairs(M.KINDS) do if mask & (1 << (i - 1)) ~= 0 then names[#names + 1] = k end end
    feat.kinds = names
  end
  if meta.conv ~= nil then
    local net, err
    if type(meta.conv) == "string" and #meta.conv % 2 == 0 and not meta.conv:find("%X") then
      net, err = C.conv_parse(from_hex(meta.conv), path .. ": convolution weights")
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
--   rf:predict_matrix(X [, {probabilities = false, width = nil}]) -> labels (u8, rows x 1 x 1), prob. width: the rows
--     are voxels of lines of this many (x fastest, as feature_matrix gives them); neighbouring voxels then descend
--     the trees together, which is faster; the result is the same for any width.
function M.feature_matrix(channels, fopts, opts)
  local where = "tg.segment.feature_matrix"
  channels = channel_list(channels, where)
  local feat = feature_spec(fopts, where)
  local o = util.options(opts, { z = NIL }, where)
  local X = C.features_slab(channels, feat, o.z, true)
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
  local ud = C.train_matrix(X, y, fopts, values, nil)
  if self.ud then self.ud:release() end
  local names = {}
  for i = 1, ud:info().features do names[i] = "feature" .. i end
  self.ud, self.values, self.feature_names, self.samples = ud, values, names, select(2, y:dims()) * select(3, y:dims()) * (y:dims())
  return self
end

function Forest:predict_matrix(X, opts)
  local where = "tg.segment.forest:predict_matrix"
  local ud = checked(self, where)
  local o = util.options(opts, { probabilities = false, width = NIL }, where)
  check_int(o.width, "width", 1, where)
  return C.predict_matrix(ud, X, o.probabilities, o.width)
end

function M.otsu(v, opts)
  local where = "tg.segment.otsu"
  if not volume.is_volume(v) then error(where .. ": expected a volume, got " .. type(v), 2) end
  local o = util.options(opts, { classes = 2, bins = 256 }, where)
  if o.classes ~= 2 and o.classes ~= 3 then error(where .. ": classes must be 2 or 3, got " .. tostring(o.classes), 2) end
  check_int(o.bins, "bins", 2, where)
  local labels, thr, left = C.otsu(v, o.classes, o.bins)
  return labels, { thresholds = thr, classes = o.classes, nan = left.nan, posinf = left.posinf, neginf = left.neginf }
end

function M.evaluate(pred, truth, opts)
  local where = "tg.segment.evaluate"
  if not volume.is_volume(pred) or not volume.is_volume(truth) then error(where .. ": expected two label volumes", 2) end
  local o = util.options(opts, { ignore = NIL }, where)
  local values, cm = C.confusion(pred, truth)
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
  if o.min_size > 1 then out, info.islands, info.voxels = C.remove_islands(out, o.min_size, o.connectivity) end
  if o.majority > 0 then out = C.majority(out, o.majority, o.dims) end
  if out == labels then out = labels:copy() end
  return out, info
end

return M
