--- tg.filter — preprocessing of image stacks: smoothing, rank filters, illumination, curtaining, contrast, drift.
--
--   tg.filter.gaussian(v, sigma [, {per_slice, order, truncate, units}])   smoothing and Gaussian derivatives
--   tg.filter.median(v, radius [, {per_slice}])      tg.filter.mean(v, radius [, {per_slice}])
--   tg.filter.flatten(v [, {sigma, order}])          illumination: v / blur(v), each slice keeping its mean
--   tg.filter.destripe(v [, {levels, wavelet, sigma, direction}])   curtaining (Münch et al. 2009)
--   tg.filter.normalize(v [, {saturated, per_slice}]) --> volume, ranges   ImageJ "Enhance Contrast, normalize"
--   tg.filter.register(v [, {reference, mode, roi, subpixel, ...}]) --> shifts, info   slice drift
--   tg.filter.shift(v, shifts [, {interpolation, fill, invert, crop}])   apply (undo) the drift on any paired stack
--   tg.filter.valid_region(v, shifts)  tg.filter.daubechies(n)
--   tg.filter.correct_drift({bse, se, ...} [, {roi, mode, reference, interpolation, rows}]) --> aligned, shifts, info
--                                      register the first stack, shift every stack alike, crop to the common region
--
-- Axes: x = columns, y = rows, z = slices. Sigmas and radii are in voxels unless given with a unit
-- ("200nm", or units = "m"), then the volume's spacing converts them per axis.
--
-- Stacks larger than memory: every filter above (and register, shift, correct_drift) takes a stack on disk
-- (tg.io.open) where it takes a volume, with three more options:
--   out = "result.tif" or a writer (tg.io.writer, for compression or BigTIFF), required; memory = "2GB" (default:
--   tg.memory()); max_slab = n (at most n slices per slab: finer progress, tests).
-- The stack is read slab by slab with the halo the kernel needs along z (3D Gaussian, median and mean: the z radius;
-- slice-wise filters: none) and the result written slab by slab, bit-identical to the in-memory call. The slab
-- height comes from the budget and the filter's memory per voxel. Returns the result opened as a stack (or the
-- writer, still open, when out is a writer: close it yourself) and info = {out = path, streamed = {slab, slabs, halo,
-- memory, planned, peak, passes, voxels, seconds, voxels_per_second, units = "bytes"}} (normalize: stack, ranges,
-- info; register: shifts, info with streamed; correct_drift: stacks, shifts, info with streamed). A failure or Ctrl-C
-- removes the temporary: no file appears under out. normalize with per_slice = false reads the stack 2 times (u8,
-- u16), 3 (i32, f32) or 5 (f64): exact percentiles first, then the stretch.
-- Output types: gaussian, mean, flatten and destripe give f32 for every input type (nothing can overflow);
-- median and shift keep the input type (shift rounds and saturates); normalize keeps u8/u16 (full range)
-- and gives f32 in [0, 1] otherwise. Memory per voxel: the output, plus what each engine file header states.
-- NaN: gaussian, mean, flatten, destripe spread it; median sorts it last; normalize ignores it.
local core = require "tortuga.core"
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local volume = require "tortuga.volume"
local tio = require "tortuga.io"

local C = core.filter
local NIL = util.NIL
local M = {}

local function check_volume(v, where)
  if not volume.is_volume(v) and not tio.is_stack(v) then
    error(string.format("%s: expected a volume or a stack (tg.io.open), got %s", where, type(v)), 3)
  end
end

-- the streaming options every filter takes (for stacks on disk)
local function with_stream(defaults)
  defaults.out, defaults.memory, defaults.max_slab = NIL, NIL, NIL
  return defaults
end

-- The writer for out (a path: a new writer that this call owns and closes), or raise.
local function writer_for(out, where)
  if type(out) == "string" and out ~= "" then return tio.writer(out), true end
  if tio.is_writer(out) then return out, false end
  error(string.format("%s: a stack on disk needs out = a path or a writer (tg.io.writer), got %s", where,
    tostring(out)), 4)
end

-- Run call(writer, stream_opts) for a stack, or call() for a volume (then out, memory and max_slab must be unset).
-- A stack: the result opened as a stack (or the caller's writer), the engine's extra results, info.
local function dispatch(v, o, where, call)
  if not tio.is_stack(v) then
    if o.out ~= nil or o.memory ~= nil or o.max_slab ~= nil then
      error(where .. ": out, memory and max_slab are for stacks on disk (tg.io.open); write a volume with tg.io.write", 3)
    end
    return call()
  end
  local w, own = writer_for(o.out, where)
  local r = table.pack(pcall(call, w, { memory = o.memory, max_slab = o.max_slab }))
  if not r[1] then
    w:abort()
    error(where .. ": " .. tostring(r[2]), 3)
  end
  local info = { streamed = r[2], out = own and o.out or nil }
  local extra = r.n >= 3 and r[3] or nil
  if own then
    local ok, err = pcall(w.close, w)
    if not ok then error(where .. ": " .. tostring(err), 3) end
    local res = tio.open(o.out)
    if extra ~= nil then return res, extra, info end
    return res, info
  end
  if extra ~= nil then return w, extra, info end
  return w, info
end

local function is_number(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

-- A length in voxels along axis a: a number (voxels, or metres with units = "m") or a string with a unit.
local function to_voxels(s, a, v, units, where, what)
  if type(s) == "string" then
    local m, err = util.parse_length(s)
    if not m then error(string.format("%s: %s: %s", where, what, err), 4) end
    return m / v:spacing()[a]
  end
  if not is_number(s) then error(string.format("%s: %s must be a number, got %s", where, what, tostring(s)), 4) end
  if units == "m" then return s / v:spacing()[a] end
  return s
end

--- Gaussian smoothing, or a Gaussian derivative, 2D per slice or 3D.
-- sigma: a number (the same on every axis), {sx, sy} or {sx, sy, sz}; voxels, or metres with units = "m",
-- or strings with a unit ("150nm"). Every sigma must be > 0, except that an axis may be 0 in a table (not filtered).
-- Options: per_slice = false (true: 2D in each slice), order = {ox, oy, oz} (0, 1 or 2: derivative order per axis),
-- truncate = 4.0 (kernel radius in sigmas), units = "voxels" | "m".
-- Exactly scipy.ndimage.gaussian_filter(v, sigma, order, mode="reflect", truncate=4.0) (to float rounding).
-- Returns a new f32 volume.
function M.gaussian(v, sigma, opts)
  local where = "tg.filter.gaussian"
  check_volume(v, where)
  local o = util.options(opts, with_stream { per_slice = false, order = NIL, truncate = 4.0, units = "voxels" }, where)
  util.check(o.units == "voxels" or o.units == "m", where, "units must be 'voxels' or 'm', got '%s'", tostring(o.units))
  util.check(is_number(o.truncate) and o.truncate > 0, where, "truncate must be a positive number")
  local s = {}
  if type(sigma) == "table" then
    util.check(#sigma == 2 or #sigma == 3, where, "sigma must be a number or {sx, sy} or {sx, sy, sz}, got a table of %d", #sigma)
    for a = 1, 3 do
      s[a] = sigma[a] ~= nil and to_voxels(sigma[a], a, v, o.units, where, "sigma[" .. a .. "]") or 0
      util.check(s[a] >= 0, where, "sigma[%d] must be >= 0, got %s", a, tostring(sigma[a]))
    end
    util.check(s[1] > 0 or s[2] > 0 or (s[3] > 0 and not o.per_slice), where, "at least one sigma must be > 0")
  else
    util.check(sigma ~= nil, where, "sigma is missing (a number of voxels, or a length such as '200nm')")
    for a = 1, 3 do s[a] = to_voxels(sigma, a, v, o.units, where, "sigma") end
    util.check(s[1] > 0, where, "sigma must be > 0, got %s", tostring(sigma))
  end
  if o.per_slice then s[3] = 0 end
  local order = o.order or { 0, 0, 0 }
  util.check(type(order) == "table", where, "order must be {ox, oy, oz}")
  for a = 1, 3 do
    local k = order[a] or 0
    util.check(math.type(k) == "integer" and k >= 0 and k <= 2, where, "order[%d] must be 0, 1 or 2, got %s", a, tostring(k))
  end
  return dispatch(v, o, where, function(w, so) return C.gaussian(v, s, order, o.per_slice, o.truncate, w, so) end)
end

local function radius_of(r, where)
  if math.type(r) ~= "integer" or r < 1 then
    error(string.format("%s: radius must be an integer >= 1 (the window is 2*radius+1 wide), got %s", where, tostring(r)), 3)
  end
  return r
end

--- Median over a (2r+1)^3 cube, or a (2r+1)^2 square per slice with per_slice = true; scipy's mode "reflect".
-- Keeps the input type. NaN sorts after every number.
function M.median(v, radius, opts)
  local where = "tg.filter.median"
  check_volume(v, where)
  local o = util.options(opts, with_stream { per_slice = false }, where)
  local r = radius_of(radius, where)
  return dispatch(v, o, where, function(w, so) return C.median(v, r, o.per_slice, w, so) end)
end

--- Mean (box) filter over a (2r+1)^3 cube or a (2r+1)^2 square per slice; scipy's uniform_filter, mode "reflect". f32.
function M.mean(v, radius, opts)
  local where = "tg.filter.mean"
  check_volume(v, where)
  local o = util.options(opts, with_stream { per_slice = false }, where)
  local r = radius_of(radius, where)
  return dispatch(v, o, where, function(w, so) return C.mean(v, r, o.per_slice, w, so) end)
end

--- Illumination correction: each slice divided by a strong blur of itself, then scaled so the slice keeps its mean
-- grey level. order = 0 (default): the Gaussian blur (reflect padding), the paper's method; order = 1 / 2: a
-- Gaussian-weighted local linear / quadratic fit, which removes affine / quadratic illumination exactly up to the
-- edges (order 0 leaves ~0.8 sigma x slope at the edges and sigma^2/2 x the curvature) but follows more of the
-- sample's own large-scale composition, which costs phase contrast when sigma is near the slice size. sigma per
-- slice, voxels or a length; default 1/8 of the larger slice side; choose it several particle sizes wide.
-- Returns f32. See engine/filter/tg_flatten.h.
function M.flatten(v, opts)
  local where = "tg.filter.flatten"
  check_volume(v, where)
  local o = util.options(opts, with_stream { sigma = NIL, units = "voxels", order = 0 }, where)
  util.check(o.order == 0 or o.order == 1 or o.order == 2, where, "order must be 0, 1 or 2, got %s", tostring(o.order))
  local nx, ny = v:dims()
  local sigma = o.sigma or math.max(nx, ny) / 8
  local s = {}
  for a = 1, 2 do
    local sa = type(sigma) == "table" and sigma[a] or sigma
    s[a] = to_voxels(sa, a, v, o.units, where, "sigma")
    util.check(s[a] > 0, where, "sigma must be > 0, got %s", tostring(sa))
  end
  return dispatch(v, o, where, function(w, so) return C.flatten(v, s[1], s[2], o.order, w, so) end)
end

--- The Münch et al. (2009) wavelet–FFT stripe filter (Fiji Xlib's "Stripes Filter"), per slice.
-- Options: levels (default: min(3, the deepest level the slice allows)), wavelet = 4 (Daubechies order, db1..db20),
-- sigma = 0.5 (width of the Gaussian notch in frequency indices; index k is k / ny cycles per pixel along y at every
-- level, so 0.5 takes what is constant over the slice's height and a little of k = 1; larger also takes stripes
-- that vary along y, and more of the image), direction = "vertical" (stripes constant along y, FIB curtaining) |
-- "horizontal". The defaults meet tests/spec/filter_spec.lua's targets on generated curtaining (512x512: stripe band
-- -91 %, PSNR +10 dB, a stripe-free image passes at 41 dB): levels 3 reach streaks up to ~4 px wide; a level
-- deeper also removes the image's particle-scale column structure.
-- direction = "vertical" (stripes constant along y, FIB curtaining) | "horizontal". Returns f32.
-- The filter removes everything in the damped bands that is constant along the stripes, image content included:
-- deep levels and large sigma remove more stripes and more of the image's own column structure.
function M.destripe(v, opts)
  local where = "tg.filter.destripe"
  check_volume(v, where)
  local o = util.options(opts, with_stream { levels = NIL, wavelet = 4, sigma = 0.5, direction = "vertical" }, where)
  util.check(math.type(o.wavelet) == "integer" and o.wavelet >= 1 and o.wavelet <= 20, where,
    "wavelet must be the Daubechies order 1..20, got %s", tostring(o.wavelet))
  util.check(is_number(o.sigma) and o.sigma > 0, where, "sigma must be a positive number, got %s", tostring(o.sigma))
  util.check(o.direction == "vertical" or o.direction == "horizontal", where,
    "direction must be 'vertical' or 'horizontal', got '%s'", tostring(o.direction))
  local nx, ny = v:dims()
  local maxl = C.destripe_max_levels(nx, ny, o.wavelet)
  util.check(maxl >= 1, where, "%dx%d slices are too small for db%d (a level needs 4N pixels)", nx, ny, o.wavelet)
  local levels = o.levels or math.min(3, maxl)
  util.check(math.type(levels) == "integer" and levels >= 1 and levels <= maxl, where,
    "levels must be an integer in 1..%d for %dx%d slices with db%d, got %s", maxl, nx, ny, o.wavelet, tostring(levels))
  return dispatch(v, o, where, function(w, so) return C.destripe(v, levels, o.wavelet, o.sigma, o.direction, w, so) end)
end

--- The 2N coefficients of the Daubechies scaling filter dbN (minimum phase; PyWavelets' rec_lo).
function M.daubechies(n)
  util.check(math.type(n) == "integer" and n >= 1 and n <= 20, "tg.filter.daubechies", "order must be 1..20, got %s", tostring(n))
  return C.daubechies(n)
end

--- Percentile contrast stretch (ImageJ Process > Enhance Contrast, "Normalize"): saturated % of the voxels
-- (half at each end) saturate; per_slice = true (ImageJ's default on stacks) or one range for the volume.
-- u8/u16 keep their type over the full range; other types give f32 in [0, 1].
-- range = {lo, hi}: map this range instead of finding one (e.g. another stack's), as one range for the volume.
-- Returns the volume and the ranges used: { {lo=, hi=}, ... } (one per slice, or one).
function M.normalize(v, opts)
  local where = "tg.filter.normalize"
  check_volume(v, where)
  local o = util.options(opts, with_stream { saturated = 0.35, per_slice = true, range = NIL }, where)
  util.check(is_number(o.saturated) and o.saturated >= 0 and o.saturated < 100, where,
    "saturated must be a percentage in [0, 100), got %s", tostring(o.saturated))
  local lo, hi
  if o.range ~= nil then
    util.check(type(o.range) == "table" and is_number(o.range[1]) and is_number(o.range[2]) and o.range[1] <= o.range[2],
      where, "range must be {lo, hi} with finite numbers lo <= hi")
    lo, hi = o.range[1], o.range[2]
  end
  return dispatch(v, o, where, function(w, so) return C.normalize(v, o.saturated, o.per_slice, lo, hi, w, so) end)
end

--- Slice drift by phase correlation. Returns shifts = { {x=0, y=0}, {x=0.4, y=-1.2}, ... } (pixels, one per slice:
-- the content of the reference frame appears at (x + dx, y + dy) in that slice; tg.generate.sem's info.drift has the
-- same convention) and info = {quality = {...}, reference = ..., mode = ..., units = "px"}.
-- Options: reference = 1 (the slice with shift 0), mode = "sequential" (each slice to its neighbour toward the
-- reference, accumulated, as StackReg/MultiStackReg) | "fixed" (each slice to the reference),
-- roi = {x = {first, last}, y = {first, last}} (pixels, 1-based inclusive), subpixel = true, window = true (Hann),
-- lowpass = 0.3 (Gaussian spectral weight, sigma in units of the Nyquist frequency; 0 = pure phase correlation), ignore_axes = true (ignore
-- the kx = 0 and ky = 0 lines of the spectrum, where stripes and curtaining live), whiten = 1 (the cross-power
-- spectrum is divided by its magnitude to this power: 1 = phase correlation, 0 = plain cross-correlation),
-- neighbours = 1 (sequential mode: register each slice to the previous K slices and solve all pair shifts for the
-- absolute shifts by least squares; helps against independent pair errors such as noise, not against a structure
-- that changes along z, see engine/filter/tg_register.h).
-- With a roi (volumes in memory), the ROI follows the drift: a first estimate from neighbouring slices, then each
-- slice moved back by the whole pixels of its shift and registered again (mode as asked), until the whole pixels
-- stay the same (info.passes), so the ROI holds the same content in every slice as the drift accumulates. A
-- feature that drifts out of the frame altogether (more than the ROI's distance to the edge) cannot be followed.
function M.register(v, opts)
  local where = "tg.filter.register"
  check_volume(v, where)
  local o = util.options(opts, { reference = 1, mode = "sequential", roi = NIL, subpixel = true, window = true,
                                 lowpass = 0.3, ignore_axes = true, whiten = 1.0, neighbours = 1, memory = NIL,
                                 max_slab = NIL }, where)
  local _, _, nz = v:dims()
  util.check(math.type(o.reference) == "integer" and o.reference >= 1 and o.reference <= nz, where,
    "reference must be a slice index in 1..%d, got %s", nz, tostring(o.reference))
  util.check(o.mode == "sequential" or o.mode == "fixed", where, "mode must be 'sequential' or 'fixed', got '%s'", tostring(o.mode))
  util.check(is_number(o.lowpass) and o.lowpass >= 0, where, "lowpass must be a number >= 0")
  util.check(is_number(o.whiten) and o.whiten >= 0 and o.whiten <= 1, where, "whiten must be in [0, 1]")
  util.check(math.type(o.neighbours) == "integer" and o.neighbours >= 1 and o.neighbours <= 16, where,
    "neighbours must be an integer in 1..16, got %s", tostring(o.neighbours))
  local stack = tio.is_stack(v)
  util.check(stack or (o.memory == nil and o.max_slab == nil), where, "memory and max_slab are for stacks on disk")
  util.check(not stack or o.mode == "fixed" or o.neighbours == 1, where,
    "a stack on disk is registered with neighbours = 1 (sequential) or mode = 'fixed'")
  local roi = o.roi and util.options(o.roi, { x = NIL, y = NIL }, where .. " roi") or {}
  local ok, shifts, quality, streamed = pcall(C.register, v, {
    x = roi.x, y = roi.y, reference = o.reference, mode = o.mode, subpixel = o.subpixel, window = o.window,
    lowpass = o.lowpass, ignore_axes = o.ignore_axes, whiten = o.whiten,
    neighbours = o.mode == "sequential" and o.neighbours or 1, memory = o.memory, max_slab = o.max_slab })
  if not ok then error(where .. ": " .. tostring(shifts), 2) end
  local passes = 1
  if (roi.x or roi.y) and not stack then
    -- The ROI follows the drift: a fixed ROI sees the content leave it (and other content enter) as the drift
    -- accumulates, which biases the shifts low and, past a few pixels, breaks them (the cap of tg.generate.sem
    -- with drift = 2.5 per slice: 3.7 px RMS in fixed mode). So each slice is moved back by the whole pixels of
    -- its estimated shift (an exact integer shift) and registered again: the ROI then holds the same content in
    -- every slice, and the residual is the subpixel part. Repeated until the whole pixels no longer change.
    -- The first estimate comes from neighbouring slices (sequential: their shifts are small, while a fixed ROI
    -- against the reference wraps once the drift passes half the ROI); the passes after it use the mode asked for.
    local function round(x) return x >= 0 and math.floor(x + 0.5) or -math.floor(-x + 0.5) end
    if o.mode == "fixed" then
      local ok1, s1 = pcall(C.register, v, { x = roi.x, y = roi.y, reference = o.reference, mode = "sequential",
        subpixel = o.subpixel, window = o.window, lowpass = o.lowpass, ignore_axes = o.ignore_axes, whiten = o.whiten,
        neighbours = 1 })
      if not ok1 then error(where .. ": " .. tostring(s1), 2) end
      shifts = s1
    end
    for _ = 1, 4 do
      local whole, any = {}, false
      for z, sh in ipairs(shifts) do
        whole[z] = { x = round(sh.x), y = round(sh.y) }
        any = any or whole[z].x ~= 0 or whole[z].y ~= 0
      end
      if not any then break end
      local moved = C.shift(v, whole, "linear", "nearest", false, false) -- whole pixels: the values exactly
      local ok2, res, q = pcall(C.register, moved, {
        x = roi.x, y = roi.y, reference = o.reference, mode = o.mode, subpixel = o.subpixel, window = o.window,
        lowpass = o.lowpass, ignore_axes = o.ignore_axes, whiten = o.whiten,
        neighbours = o.mode == "sequential" and o.neighbours or 1 })
      moved:release()
      if not ok2 then error(where .. ": " .. tostring(res), 2) end
      local same = true
      for z = 1, #shifts do
        local t = { x = whole[z].x + res[z].x, y = whole[z].y + res[z].y }
        same = same and round(t.x) == whole[z].x and round(t.y) == whole[z].y
        shifts[z] = t
      end
      quality, passes = q, passes + 1
      if same then break end
    end
  end
  return shifts, { quality = quality, reference = o.reference, mode = o.mode, units = "px", streamed = streamed,
                   passes = passes }
end

local function check_shifts(v, shifts, where)
  local _, _, nz = v:dims()
  if type(shifts) ~= "table" then error(string.format("%s: shifts must be a table of {x=, y=} per slice", where), 3) end
  if #shifts ~= nz then
    error(string.format("%s: %d shifts for %d slices (one {x=, y=} per slice is needed)", where, #shifts, nz), 3)
  end
end

--- Undo a drift: out(x, y, z) = v(x + dx_z, y + dy_z, z), with the shifts of tg.filter.register (or info.drift).
-- Options: interpolation = "linear" | "cubic" (Keys, a = -0.5), fill = 0 (value outside the slice) or "nearest",
-- invert = false (true: apply the opposite, i.e. create the drift), crop = false (true: keep only the region
-- valid in every slice), region = {x = {first, last}, y = {first, last}} (keep only this box of the frame, 1-based
-- inclusive; instead of crop). Keeps the input type (rounded, saturated).
function M.shift(v, shifts, opts)
  local where = "tg.filter.shift"
  check_volume(v, where)
  check_shifts(v, shifts, where)
  local o = util.options(opts, with_stream { interpolation = "linear", fill = 0, invert = false, crop = false,
                                             region = NIL }, where)
  util.check(o.interpolation == "linear" or o.interpolation == "cubic", where,
    "interpolation must be 'linear' or 'cubic', got '%s'", tostring(o.interpolation))
  util.check(o.fill == "nearest" or is_number(o.fill), where, "fill must be a number or 'nearest', got %s", tostring(o.fill))
  local region = o.region and util.options(o.region, { x = NIL, y = NIL }, where .. " region")
  return dispatch(v, o, where, function(w, so)
    return C.shift(v, shifts, o.interpolation, o.fill, o.invert, o.crop, w, so, region)
  end)
end

--- The region valid in every slice after shift(v, shifts): {x = {first, last}, y = {first, last}} (1-based), or nil.
--- MultiStackReg's "identical drift correction" in one call: register stacks[1] (options roi, mode, reference as
-- tg.filter.register), shift every stack by the same shifts (interpolation = "cubic" | "linear"), crop all to the
-- region valid in every slice, and keep only `rows` = {first, last} of the frame (1-based, inclusive, in the
-- frame's rows; e.g. the specimen below a protective cap used as the roi). Returns the list of aligned stacks,
-- the shifts, and info = {region = {x = {x1, x2}, y = {y1, y2}} (the output's place in the frame, 1-based),
-- register = <register's info>}. Raises when the drift leaves nothing valid, or rows fall outside the region.
-- Stacks on disk (all of them): out = {path or writer, ...} (one per stack), memory, max_slab; registration reads
-- stack 1 once (pairs of consecutive slices, or each slice against the reference), then each stack is shifted and
-- cropped slab by slab; info.streamed = {register = {...}, shift = {{...}, ...}}.
function M.correct_drift(stacks, opts)
  local where = "tg.filter.correct_drift"
  util.check(type(stacks) == "table" and #stacks >= 1, where, "expected a list of stacks {bse, se, ...}")
  local o = util.options(opts, { roi = NIL, mode = NIL, reference = NIL, interpolation = "cubic", rows = NIL,
                                 out = NIL, memory = NIL, max_slab = NIL }, where)
  local nx, ny, nz = nil, nil, nil
  local on_disk = tio.is_stack(stacks[1])
  for i, v in ipairs(stacks) do
    check_volume(v, where)
    util.check(tio.is_stack(v) == on_disk, where, "stack %d is %s but stack 1 is %s: give all volumes or all stacks on disk",
      i, on_disk and "a volume" or "on disk", on_disk and "on disk" or "a volume")
    local a, b, c = v:dims()
    if i == 1 then nx, ny, nz = a, b, c
    else util.check(a == nx and b == ny and c == nz, where, "stack %d is %dx%dx%d, stack 1 is %dx%dx%d", i, a, b, c, nx, ny, nz) end
  end
  if on_disk then
    util.check(type(o.out) == "table" and #o.out == #stacks, where,
      "stacks on disk need out = {path or writer, ...}, one per stack (%d)", #stacks)
  else
    util.check(o.out == nil and o.memory == nil and o.max_slab == nil, where,
      "out, memory and max_slab are for stacks on disk (tg.io.open)")
  end
  local shifts, rinfo = M.register(stacks[1], { roi = o.roi, mode = o.mode, reference = o.reference,
                                                memory = o.memory, max_slab = o.max_slab })
  local region = M.valid_region(stacks[1], shifts)
  util.check(region ~= nil, where, "the drift is larger than the slices: no pixel is valid in every slice")
  local y1, y2 = region.y[1], region.y[2]
  if o.rows ~= nil then
    util.check(type(o.rows) == "table" and math.type(o.rows[1]) == "integer" and math.type(o.rows[2]) == "integer",
      where, "rows must be {first, last} (integers, frame rows)")
    y1, y2 = math.max(y1, o.rows[1]), math.min(y2, o.rows[2])
    util.check(y1 <= y2, where, "rows %d..%d are outside the valid region y %d..%d", o.rows[1], o.rows[2], region.y[1],
      region.y[2])
  end
  local out, streamed = {}, nil
  for i, v in ipairs(stacks) do
    if on_disk then -- the valid region and the rows in one pass: the same values as crop, then the rows' view
      local a, ainfo = M.shift(v, shifts, { interpolation = o.interpolation, region = { x = region.x, y = { y1, y2 } },
                                            out = o.out[i], memory = o.memory, max_slab = o.max_slab })
      out[i] = a
      streamed = streamed or { register = rinfo.streamed, shift = {} }
      streamed.shift[i] = ainfo.streamed
    else
      local a = M.shift(v, shifts, { interpolation = o.interpolation, crop = true })
      if y1 ~= region.y[1] or y2 ~= region.y[2] then
        a = a:view { y = { y1 - region.y[1] + 1, y2 - region.y[1] + 1 } }:copy()
      end
      out[i] = a
    end
  end
  rinfo.streamed = nil
  return out, shifts, { region = { x = { region.x[1], region.x[2] }, y = { y1, y2 } }, register = rinfo,
                        streamed = streamed }
end

function M.valid_region(v, shifts, opts)
  check_volume(v, "tg.filter.valid_region")
  check_shifts(v, shifts, "tg.filter.valid_region")
  local o = util.options(opts, { invert = false }, "tg.filter.valid_region")
  return C.valid_region(v, shifts, o.invert)
end

return M
