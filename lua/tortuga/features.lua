--- tortuga.features — ilastik's pixel-classification features per channel, plus optional 3x3 convolution layers,
-- computed by z slabs (exposed as tg.segment.features by lua/tortuga/segment.lua).
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
-- conv = <tortuga.ConvNet userdata holding a tg_conv_net *>} (see modules/lfeatures.c).
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
local volume = require "tortuga.volume"

local C = core.features
local NIL = util.NIL
local M = {}

M.ILASTIK_SIGMAS = { 0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0 }
M.KINDS = { "gaussian", "log", "gradmag", "dog", "st", "hessian" }
M.SETS = {
  default = { "gaussian", "log", "gradmag", "dog" },
  full = { "gaussian", "log", "gradmag", "dog", "st", "hessian" },
}

local Features = {}
Features.__index = Features

--- Load a convolution weight file; raises with the path and the reason on failure.
function M.load_conv(path)
  if type(path) ~= "string" then error("tg.segment.load_conv: path must be a string, got " .. type(path), 2) end
  local net, err = C.conv_load(path)
  if not net then error("tg.segment.load_conv: " .. err, 2) end
  return net
end

local function known(list, x)
  for _, k in ipairs(list) do if k == x then return true end end
  return false
end

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
      error(string.format("%s: channels differ in shape: channel 1 is %dx%dx%d, channel %d is %dx%dx%d", where,
        nx, ny, nz, i, a, b, c), 3)
    end
  end
  return { table.unpack(channels) }
end

local function engine_options(o, where)
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
  local kinds = o.set
  if type(kinds) == "string" then
    if not M.SETS[kinds] then
      error(string.format("%s: unknown feature set '%s' (known: 'default', 'full', or a list of %s)", where, kinds,
        table.concat(M.KINDS, ", ")), 3)
    end
    kinds = M.SETS[kinds]
  elseif type(kinds) == "table" then
    for _, k in ipairs(kinds) do
      if not known(M.KINDS, k) then
        error(string.format("%s: unknown feature kind '%s' (known: %s)", where, tostring(k), table.concat(M.KINDS, ", ")), 3)
      end
    end
  else
    error(where .. ": set must be 'default', 'full' or a list of feature kinds", 3)
  end
  if o.dims ~= 2 and o.dims ~= 3 then error(string.format("%s: dims must be 2 or 3, got %s", where, tostring(o.dims)), 3) end
  local conv = o.conv
  if type(conv) == "string" then
    local net, err = C.conv_load(conv)
    if not net then error(where .. ": conv: " .. err, 3) end
    conv = net
  elseif conv ~= nil and not tostring(conv):match("^tortuga%.ConvNet") then
    error(where .. ": conv must be the path of a weight file or a ConvNet", 3)
  end
  local eo = { sigmas = { table.unpack(sigmas) }, kinds = { table.unpack(kinds) }, dims = o.dims,
               truncate = o.truncate, conv = conv }
  local ok, err = pcall(C.count, eo, 1)
  if not ok then error(where .. ": " .. tostring(err):gsub("^segment%.features: ", ""), 3) end
  return eo
end

--- Build the feature object (nothing is computed until asked).
function M.features(channels, opts)
  local where = "tg.segment.features"
  local ch = channel_list(channels, where)
  local o = util.options(opts, { sigmas = NIL, set = "default", dims = 2, conv = NIL, z = NIL, truncate = 4.0,
                                 output = "object" }, where)
  if o.output ~= "object" and o.output ~= "stack" then
    error(where .. ": output must be 'object' or 'stack', got " .. tostring(o.output), 2)
  end
  local eo = engine_options(o, where)
  local nx, ny, nz = ch[1]:dims()
  local F = setmetatable({
    channels = ch, nchannels = #ch, shape = { nx, ny, nz }, options = eo,
    names = C.names(eo, #ch), count = C.count(eo, #ch), halo = C.halo(eo),
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
  return C.slab(self.channels, self.options, self:_range(z or self.z, "features:slab", 2))
end

function Features:stack(z)
  local vols = C.stack(self.channels, self.options, self:_range(z or self.z, "features:stack", 2))
  return vols, { table.unpack(self.names) }
end

function Features:at(mask, opts)
  if not volume.is_volume(mask) then error("features:at: mask must be a volume", 2) end
  local o = util.options(opts, { max_slab = 0 }, "features:at")
  return C.masked(self.channels, self.options, mask, o.max_slab)
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
  local vols = C.stack(ch, eo, self:_range(z or self.z, "features:volume", 2))
  return vols[comp]
end

function Features:__tostring()
  return string.format("tortuga.Features(%d channel%s %dx%dx%d, %d features, %dD%s)", self.nchannels,
    self.nchannels == 1 and "" or "s", self.shape[1], self.shape[2], self.shape[3], self.count, self.options.dims,
    self.options.conv and ", conv" or "")
end

return M
