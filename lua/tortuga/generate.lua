--- tg.generate — built-in microstructures and synthetic FIB-SEM images of them.
--
-- The embedded default sample of tortuga: a composite cathode label volume with known phase fractions and
-- particle sizes, and the BSE/SE image stacks a FIB-SEM would record of it, with known artefacts. Examples,
-- tests and benchmarks run on it; a user can run a virtual particle-size study with it.
--
--   local labels, info = tg.generate.cathode{size = {200, 200, 200}, spacing = 1e-7, cam_fraction = 0.5,
--                                            cam_d50 = 4e-6, ise_d50 = 5e-6, porosity = 0.08, seed = 1}
--   local bse, se, sinfo = tg.generate.sem(labels, {noise = 6, drift = 0.5, curtaining = 8, seed = 1})
--
-- Lengths are metres; they may also be strings with a unit ("100nm", "4um").
local core = require "tortuga.core"
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library

local M = {}

local function length(v, where, name)
  if type(v) == "string" then
    local ok, m = pcall(util.parse_length, v)
    if ok and type(m) == "number" then return m end
    error(string.format("%s: %s: cannot read '%s' as a length (e.g. 4e-6 or \"4um\")", where, name, v), 3)
  end
  if type(v) ~= "number" then
    error(string.format("%s: %s must be a length in metres, got %s", where, name, type(v)), 3)
  end
  return v
end

local function number_in(o, name, lo, hi, where, open_hi)
  local v = o[name]
  if v == false then v = 0 end
  if type(v) ~= "number" or v ~= v then -- NaN is a number to type(): say which value it was
    error(string.format("%s: %s must be a number, got %s", where, name, type(v) == "number" and "nan" or type(v)), 3)
  end
  if v < lo or v > hi or (open_hi and v >= hi) then
    error(string.format("%s: %s must be in [%g, %g%s, got %g", where, name, lo, hi, open_hi and ")" or "]", v), 3)
  end
  o[name] = v
  return v
end

local CATHODE_DEFAULTS = {
  size = { 200, 200, 200 }, -- voxels {nx, ny, nz}; a single integer means a cube
  spacing = 1e-7,           -- metres: a number (cubic voxels) or {sx, sy, sz}
  cam_fraction = 0.5,       -- target CAM volume fraction (hit within a few voxels)
  cam_d50 = 4e-6,           -- median CAM particle diameter, metres
  cam_sigma = 0.3,          -- log-normal sigma of the CAM diameters (geometric std = exp(cam_sigma))
  cam_overlap = 0.15,       -- allowed interpenetration of two CAM particles, fraction of the smaller radius
  cam_clustering = 0.3,     -- probability that a CAM particle is placed touching an earlier one (clusters)
  ise_d50 = 5e-6,           -- median ISE grain diameter, metres (the Laguerre grain size)
  ise_sigma = 0.3,          -- log-normal sigma of the ISE grain diameters
  porosity = 0.08,          -- target pore fraction (exact to the voxel)
  pore_cam_share = 0.7,     -- share of pores in CAM-CAM gaps; the rest sit at ISE grain junctions
  pore_roughness = 1.0,     -- noise amplitude that shapes pores into irregular blobs (0 = smooth)
  ise_cores = 0,            -- 0..0.9: share of the box packed with ISE particle cores BEFORE the CAM (0 = off); the
                            -- CAM then fills the spaces between them, so coarse ISE makes CAM clusters (see below)
  seed = 1,                 -- integer; same seed, same volume, whatever the thread count
  grains = false,           -- true: also return info.grains, an i32 volume of ISE grain ids (0 elsewhere)
}

--- tg.generate.cathode(opts) -> labels, info
-- A cold-pressed composite cathode (CAM + ISE + pores) as a u8 label volume: pore = 0, CAM = 1, ISE = 2,
-- spacing set. CAM particles are polydisperse spheres (log-normal diameters, median cam_d50) placed by
-- random sequential addition with limited overlap and optional clustering; positions are NON-periodic: the
-- volume is a crop of an infinite sample (particles are cut by the faces, no depleted layer). ISE fills the
-- rest as a Laguerre grain structure of median size ise_d50. Pores take exactly round(porosity * N) voxels,
-- preferentially in the narrow gaps between CAM particles (CAM clusters, as in Minnmann et al. 2024) and at
-- ISE grain junctions. The CAM fraction is hit by shrinking the last particle. With ise_cores > 0 spheres of the
-- ISE size are packed first (without overlap, covering that share of the box), the CAM avoids them and they seed
-- the ISE grains: coarse electrolyte then pushes the CAM into clusters between its particles, the mechanism the
-- paper gives for its coarse electrolyte's smaller CAM-ISE interface. See engine/generate/tg_cathode.h.
-- info = { fractions = {pore=, cam=, ise=}, voxels = {...}, targets = {cam=, pore=}, particles = {cam=, ise=},
--          cam_particles = { {x=, y=, z=, d=}, ... } (metres; centres may lie outside the box), seed = ...,
--          params = {the options used}, grains = <i32 volume> if requested }
function M.cathode(opts)
  local where = "tg.generate.cathode"
  local o = util.options(opts, CATHODE_DEFAULTS, where)
  local size = o.size
  if math.type(size) == "integer" then size = { size, size, size } end
  if type(size) ~= "table" or #size ~= 3 then
    error(where .. ": size must be {nx, ny, nz} (integers >= 1) or one integer", 2)
  end
  for i, n in ipairs(size) do
    if math.type(n) ~= "integer" and not (type(n) == "number" and n == math.floor(n)) then
      error(string.format("%s: size[%d] must be an integer >= 1, got %s", where, i, tostring(n)), 2)
    end
    if n < 1 then error(string.format("%s: size[%d] must be >= 1, got %d", where, i, n), 2) end
    size[i] = math.tointeger(n)
  end
  o.size = size
  local sp = o.spacing
  if type(sp) == "table" then
    if #sp ~= 3 then error(where .. ": spacing must be a number or {sx, sy, sz} in metres", 2) end
    local s = {}
    for i = 1, 3 do s[i] = length(sp[i], where, "spacing[" .. i .. "]") end
    sp = s
  else
    sp = length(sp, where, "spacing")
  end
  for _, v in ipairs(type(sp) == "table" and sp or { sp }) do
    if not (v > 0) then error(where .. ": spacing must be > 0 metres, got " .. tostring(v), 2) end
  end
  o.spacing = sp
  for _, name in ipairs { "cam_d50", "ise_d50" } do
    o[name] = length(o[name], where, name)
    if not (o[name] > 0) or o[name] == math.huge then
      error(string.format("%s: %s must be > 0 metres, got %g", where, name, o[name]), 2)
    end
  end
  number_in(o, "cam_fraction", 0, 1, where, true)
  number_in(o, "porosity", 0, 1, where, true)
  if o.cam_fraction + o.porosity >= 1 then
    error(string.format("%s: cam_fraction + porosity must be < 1 (ISE is the rest), got %g + %g", where,
      o.cam_fraction, o.porosity), 2)
  end
  number_in(o, "cam_sigma", 0, 10, where)
  number_in(o, "ise_sigma", 0, 10, where)
  number_in(o, "cam_overlap", 0, 1, where)
  number_in(o, "cam_clustering", 0, 1, where)
  number_in(o, "pore_cam_share", 0, 1, where)
  number_in(o, "pore_roughness", 0, 10, where)
  number_in(o, "ise_cores", 0, 0.9, where)
  if math.type(o.seed) ~= "integer" then
    error(where .. ": seed must be an integer, got " .. tostring(o.seed), 2)
  end
  if type(o.grains) ~= "boolean" then error(where .. ": grains must be true or false", 2) end

  local labels, info = core.generate.cathode(o)
  info.targets = { cam = o.cam_fraction, pore = o.porosity, ise = 1 - o.cam_fraction - o.porosity }
  info.params = o
  return labels, info
end

local SEM_DEFAULTS = {
  phases = { pore = 0, cam = 1, ise = 2 },          -- label value of each phase in `labels`
  bse_levels = { pore = 30, cam = 200, ise = 120 }, -- BSE grey level per phase (u8 scale)
  se_levels = { pore = 20, cam = 95, ise = 115 },   -- SE grey level per phase (u8 scale)
  edge = 60,          -- SE brightening at phase boundaries, twice that on the solid side of pore edges
  noise = 6,          -- additive Gaussian noise, standard deviation in grey levels (0/false = off)
  drift = 0.5,        -- std of the per-slice random-walk step of the content, pixels (0/false = off)
  curtaining = 8,     -- vertical curtain streaks: std of each streak's peak amplitude, grey levels (0/false = off)
  curtain_width = 2.5,-- mean streak width (FWHM across x, pixels; widths 0.4-1.6x this, one streak per 4 widths)
  curtain_depth = 20, -- correlation of the streak strengths along z, slices (positions persist through the stack)
  illumination = 0.15,-- multiplicative illumination spot: 1 +- illumination (0/false = off)
  blur = 0.8,         -- in-plane Gaussian sigma, pixels (0/false = off)
  seed = 1,           -- integer; same seed, same images, whatever the thread count
  dtype = "u8",       -- "u8" or "u16" (u16 = the u8 grey scale times 257)
  cap = 0,            -- rows of protective cap (with a fiducial cross) above the specimen in every image (0 = none)
}

--- tg.generate.sem(labels, opts) -> bse, se, info
-- Synthetic BSE and SE FIB-SEM stacks of a label volume (one image per z slice), same dims and spacing.
-- Effects (each switched off by 0 or false), in the order applied: phase contrast (BSE levels; SE levels +
-- bright edges and a bright rim around dark pores), drift, blur, curtaining, illumination, noise.
-- Drift convention: info.drift[z] = {x = dx, y = dy} (pixels, info.drift[1] = {x = 0, y = 0}) means the
-- content at (x, y) of the undrifted slice appears at (x + dx, y + dy) of the returned slice; bilinear
-- interpolation, edge pixels replicated. A registration undoes it by shifting slice z by -info.drift[z],
-- i.e. sampling the returned slice at (x + dx, y + dy). BSE and SE drift identically.
-- Curtaining: narrow vertical streaks as FIB milling leaves them (constant along y, 1-4 px wide at the default
-- width, signed strengths that drift slowly from slice to slice, positions fixed through the stack), added after
-- the blur; most of their power is at fine scales along x, where tg.filter.destripe acts.
-- cap = N adds N rows above the specimen (images of ny + N rows; the specimen's row y is image row N + y): the
-- protective layer an operator deposits before milling, a grainy deposit with a milled fiducial cross, the same
-- in every slice before drift. Registering on it (tg.filter.register(v, {roi = {y = {1, N}}})) recovers the
-- drift exactly, which the specimen cannot: its structure changes from slice to slice (info.cap = N).
-- With every artefact off (noise, drift, curtaining, illumination, blur = 0 and edge = 0 for SE) the images
-- are exactly the phase grey levels. See engine/generate/tg_sem.h for the model.
-- info = { drift = { {x=0, y=0}, {x=..., y=...}, ... }, drift_convention = "...", units = "px", params = {...} }
function M.sem(labels, opts)
  local where = "tg.generate.sem"
  if type(labels) ~= "userdata" then
    error(where .. ": expected a label volume, got " .. type(labels), 2)
  end
  local o = util.options(opts, SEM_DEFAULTS, where)
  for _, key in ipairs { "phases", "bse_levels", "se_levels" } do
    local t = o[key]
    if type(t) ~= "table" then error(string.format("%s: %s must be a table {pore=, cam=, ise=}", where, key), 2) end
    local full = util.options(t, SEM_DEFAULTS[key], where .. ": " .. key)
    for name, v in pairs(full) do
      if type(v) ~= "number" then
        error(string.format("%s: %s.%s must be a number, got %s", where, key, name, type(v)), 2)
      end
      if key == "phases" and math.type(v) ~= "integer" then
        error(string.format("%s: phases.%s must be an integer label, got %s", where, name, tostring(v)), 2)
      end
    end
    o[key] = full
  end
  number_in(o, "noise", 0, 1e4, where)
  number_in(o, "drift", 0, 1e4, where)
  number_in(o, "curtaining", 0, 1e4, where)
  number_in(o, "illumination", 0, 1, where, true)
  number_in(o, "blur", 0, 100, where)
  if o.edge == false then o.edge = 0 end
  number_in(o, "edge", -1e4, 1e4, where)
  number_in(o, "curtain_width", 1e-3, 1e6, where)
  number_in(o, "curtain_depth", 1e-3, 1e6, where)
  if math.type(o.seed) ~= "integer" then
    error(where .. ": seed must be an integer, got " .. tostring(o.seed), 2)
  end
  if o.dtype ~= "u8" and o.dtype ~= "u16" then
    error(where .. ": dtype must be \"u8\" or \"u16\", got " .. tostring(o.dtype), 2)
  end
  if math.type(o.cap) ~= "integer" or o.cap < 0 or o.cap > 100000 then
    error(where .. ": cap must be an integer number of rows in 0..100000, got " .. tostring(o.cap), 2)
  end
  local bse, se, info = core.generate.sem(labels, o)
  info.units = "px"
  info.cap = o.cap
  info.drift_convention = "content at (x, y) of the undrifted slice appears at (x + drift.x, y + drift.y); " ..
    "undo by shifting by -drift"
  info.params = o
  return bse, se, info
end

return M
