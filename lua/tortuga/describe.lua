--- tg.describe — every descriptor of a segmented electrode in one call, with units and provenance.
--
--   local d = tg.describe(labels, {phases = {pore = 0, cam = 1, ise = 2}, density = {cam = 4.7e3, ise = 1.9e3}})
--   print(d)                           -- a readable summary
--   d:write_json("describe.json")      -- everything, with provenance (temporary name, then rename)
--   d.surfaces.specific.per_gram.interfaces["1-2"], d.tau.ise.walk.tau.mean, d.tau.ise.flux.tau.z, d.active_cam.active
--   tg.analysis.samples{ {name = "BM10", descriptors = d, measured = {...}} }   -- a sample for correlations
--
-- The defaults reproduce the analysis of Minnmann et al. (2024): volume fractions; surface areas by marching cubes
-- (scikit-image's convention, "open") and the interfaces of Eq. 1 per volume and per gram of CAM; chord lengths
-- along x, y and z for CAM and ISE (PoreSpy's conventions: a line every third voxel, chords touching a face
-- dropped); percolation of CAM and ISE along each axis; local thickness; random-walk tortuosity (pytrax's method,
-- 2000 walkers) and flux tortuosity (TauFactor's convention) of CAM and ISE along x, y and z; the flux tortuosity
-- of the ISE with the pores filled by ISE (the paper's Fig. S7: what full densification would give); and the
-- active-CAM estimate (tg.measure.active_cam: CAM connected to the collector face and within reach of ISE that
-- percolates to the separator), beside the plain connectivity numbers.
--
-- Options (every one optional):
--   phases = {pore = 0, cam = 1, ise = 2}   names of the labels; "cam" and "ise" switch on the CAM/ISE parts
--   spacing = "100nm" | {sx, sy, sz} | m     overrides the volume's spacing (the volume itself is not changed)
--   density = {cam = 4.7e3, ise = 1.9e3}     kg/m3, for the per-gram areas (default: NCM and Li3PS4-0.5LiI, the
--                                            paper's materials, when phases has cam / ise; false: none)
--   per_gram_of = "cam"
--   surfaces = "open" | "closed" | false     the boundary convention (tg.measure.surfaces); a list such as
--                                            {"open", "closed"} measures each: the first gives d.surfaces (and
--                                            interfaces, tpb, coverage), the others d.surfaces_other
--   probabilities = prob                     the class probabilities of the segmentation (rf:predict's second
--                                            result, same dims): d.surfaces and d.interfaces are then measured on
--                                            them at sub-voxel precision (tg.measure.surfaces source =
--                                            "probabilities"), d.surfaces_labels keeps the label-based numbers
--   surface_source = "labels" | "smoothed" | "probabilities"   default "probabilities" with probabilities, else
--                                            "labels" (the paper's: marching cubes on the raw indicator); "smoothed":
--                                            each phase's indicator smoothed by surface_sigma before meshing
--   surface_sigma = 1                        voxels, the Gaussian of the sub-voxel sources (stated in conventions)
--   chords = {spacing = 2, trim = "faces", bins = 20} | false
--   thickness = true, percolation = true
--   transport = true                         false skips the random walks, the flux solves and the filled-pore tau
--   axes = {"x", "y", "z"}                   axes of chords, percolation, flux
--   transport_phases = {"cam", "ise"}
--   walk = {walkers = 2000, steps = 5000, seed = 1, start = "phase"}   (tg.transport.random_walk options)
--   flux = {tol = 1e-6, boundary = "taufactor", fraction = "total"}    (tg.transport.flux options)
--   filled = true                            the ISE flux with the pores conducting like ISE
--   active = {axis = "z", collector = "first", reach = "2um"} | false  (tg.measure.active_cam options)
--   input = "path or name"                   recorded in the provenance (a path to an existing file is hashed too)
--   log = function(stage, seconds) | true    called after each stage (true: a line on stderr)
--   fields = false                           true keeps the current-density and potential maps of the flux solves
--                                            in d.fields = {cam = {current = {x = vol, ...}, potential = ...}, ...}
--   memory = "2GB"                           a stack only: the budget (default tg.memory())
--   crop = {x = {a, b}, y = {a, b}, z = {a, b}}   a stack only: where the whole-volume parts run (1-based, inclusive;
--                                            an axis left out is whole)
--
-- A label stack on disk (tg.io.open) is described without holding it: fractions, voxel counts, the SHA-256,
-- surfaces (every convention asked), interfaces, TPB, chords, CLDs and percolation come from ONE streamed pass
-- (tg.measure.stream, slab by slab within the budget; the same numbers as on the volume in memory). The parts that
-- need the whole volume (thickness, random walk and flux tortuosity, active CAM: about 34 bytes per voxel beside
-- the labels, 16 more with fields) run on the stack read whole when that fits the budget, else on `crop` when given,
-- else not at all: d.whole_volume = {on = "stack" | "crop" | "none", parts = {...}, crop, dims, sha256 (of the
-- crop), needed, memory, units = "bytes"} says which, and a note says so in the summary.
--
-- The result (a table; fields may be added, never renamed):
--   fractions      tg.measure.fractions with by_name
--   voxels         {[label] = count of every label present, by_name = {name = count (0 when absent)}, total = n}
--   surfaces       tg.measure.surfaces (label-keyed: phases, interfaces ["1-2"], specific.per_volume / per_gram)
--   surfaces_other {closed = <tg.measure.surfaces>, ...}: the other conventions when `surfaces` is a list
--   surfaces_labels tg.measure.surfaces on the labels when surface_source is not "labels" (the TPB comes from it)
--   interfaces     by name: {["cam-ise"] = {area = m2, per_volume = m-1, per_gram = m2/g}, ...}; tpb = {length,
--                  per_volume, per_gram}; coverage = {cam_ise = S_CAM-ISE / S_CAM, cam_pore = S_CAM-pore / S_CAM}
--   chords         {cam = {x = {n, mean, median, total}, y = ..., z = ...}, ise = ...} (m)
--   cld            {cam = {x = <tg.measure.cld>, ...}, ...}: the chord length distributions (count-weighted)
--   percolation    {cam = {x = {spanning, inlet, outlet, isolated}, ...}, ise = ...} (fractions of the phase)
--   thickness      {cam = {d10, d50, d90, mean}, ...} (m, volume-weighted local thickness)
--   tau            {cam = {walk = <random_walk result>, flux = <flux result, every axis>},
--                   ise = {walk = ..., flux = ..., filled = <flux with the pores as ISE>}}
--                  (the shape tg.report reads: results.tau)
--   active_cam     tg.measure.active_cam (without the distance map)
--   provenance     {input, sha256 (of the voxels), file_sha256 and file_bytes (when input is a file), dims, dtype, spacing,
--                   spacing_source, parameters (every option as used), tortuga_version, lua_version, time, host}
--   timings        { {stage = "surfaces", seconds = 0.2}, ... }
--   streamed       a stack: what the streamed pass used (slab, slabs, memory, peak, ...; tg.measure.stream)
--   whole_volume   a stack: where the whole-volume parts ran (above)
--   transport_notes {[phase name] = text}: where the flux and random-walk tau of a phase differ by more than
--                  1.5x along an axis, why, from the data (percolating share, the share of the current in the top
--                  1 % / 5 % of the conducting voxels from one more solve along that axis with the current map, the
--                  walkers' RMS displacement); also in notes
--   units, conventions, notes (one per tau that is not a result: a flux tau that did not converge, a random-walk
--                  tau flagged unreliable; tostring(d), the CLI and reports mark that number on its line)
-- d:flat() gives the dotted names -> numbers that tg.analysis uses; tostring(d) the summary.
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local json = require "tortuga.json"
local volume = require "tortuga.volume"
local transport = require "tortuga.transport"
local tio = require "tortuga.io"

local M = {}
local NIL = util.NIL
local AXES = { "x", "y", "z" }

local Describe = {}
Describe.__index = Describe

local function tg_lib() return require "tortuga" end

local DEFAULT_DENSITY = { cam = 4.7e3, ise = 1.9e3 } -- NCM; Li3PS4-0.5LiI (kg/m3)

local function hostname()
  local f = io.open("/proc/sys/kernel/hostname", "r")
  if f then
    local h = f:read("l")
    f:close()
    if h and h ~= "" then return h end
  end
  return os.getenv("HOSTNAME") or "unknown"
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local out = {}
  for k, v in pairs(t) do out[k] = copy(v) end
  return out
end

local function check_list(t, allowed, where, what)
  if type(t) ~= "table" or #t == 0 then error(string.format("%s: %s must be a non-empty list", where, what), 3) end
  for i, v in ipairs(t) do
    if not allowed[v] then
      error(string.format("%s: %s[%d] = %s is not one of %s", where, what, i, tostring(v),
        table.concat(util.sorted_keys(allowed), ", ")), 3)
    end
  end
end

-- Bytes per voxel the whole-volume parts (transport, thickness, active CAM) hold beside the labels: the flux solve
-- is the largest, ~29 B/voxel + 4 transiently (engine/transport/tg_flux.h), its field maps 16 more; the local
-- thickness 8 + 4 (tg_thickness.h), the active CAM 8 (tg_active.h), each released before the next part.
local WHOLE_PER_VOXEL, FIELDS_PER_VOXEL = 34, 16

-- crop = {x = {a, b}, y = {a, b}, z = {a, b}} (1-based inclusive; an axis left out is whole) checked against dims:
-- the ranges, every axis filled in.
local function check_crop(crop, dims, where)
  if type(crop) ~= "table" then error(where .. ": crop must be {x = {first, last}, y = ..., z = ...}, got " .. type(crop), 3) end
  local out = {}
  for k in pairs(crop) do
    if k ~= "x" and k ~= "y" and k ~= "z" then error(string.format("%s: crop: unknown axis '%s' (x, y or z)", where, tostring(k)), 3) end
  end
  for i, ax in ipairs(AXES) do
    local r = crop[ax] or { 1, dims[i] }
    local a, b = type(r) == "table" and math.tointeger(r[1]), type(r) == "table" and math.tointeger(r[2])
    if not a or not b or a < 1 or b < a or b > dims[i] then
      error(string.format("%s: crop.%s must be {first, last} with 1 <= first <= last <= %d, got %s", where, ax, dims[i],
        type(r) == "table" and ("{" .. tostring(r[1]) .. ", " .. tostring(r[2]) .. "}") or tostring(r)), 3)
    end
    out[ax] = { a, b }
  end
  return out
end

--- Describe a label volume or a label stack on disk (see the module doc).
function M.describe(labels, opts)
  local where = "tg.describe"
  local tg = tg_lib()
  local stack = tio.is_stack(labels) and labels or nil
  if not stack and not volume.is_volume(labels) then
    error(where .. ": expected a label volume or a stack (tg.io.open), got " .. type(labels), 2)
  end
  local dt = labels.dtype
  if dt ~= "u8" and dt ~= "u16" and dt ~= "i32" then
    error(where .. ": labels must be an integer volume (u8, u16, i32), got " .. tostring(dt), 2)
  end
  local o = util.options(opts, {
    phases = NIL, spacing = NIL, density = NIL, per_gram_of = NIL, surfaces = "open", chords = NIL, thickness = true,
    percolation = true, transport = true, axes = NIL, transport_phases = NIL, walk = NIL, flux = NIL, filled = true,
    active = NIL, input = NIL, log = NIL, fields = false, probabilities = NIL, surface_source = NIL, surface_sigma = 1,
    memory = NIL, crop = NIL,
  }, where)
  if not stack and (o.memory ~= nil or o.crop ~= nil) then
    error(string.format("%s: %s applies to a stack (tg.io.open); for a volume in memory use labels:view{...}", where,
      o.memory ~= nil and "memory" or "crop"), 2)
  end
  local phases = o.phases or { pore = 0, cam = 1, ise = 2 }
  if type(phases) ~= "table" or next(phases) == nil then error(where .. ": phases must be a table {name = label}", 2) end
  local name_of = {}
  for name, label in pairs(phases) do
    if type(name) ~= "string" then error(where .. ": phases keys must be names, got " .. tostring(name), 2) end
    if math.type(label) ~= "integer" then
      error(string.format("%s: phases.%s must be an integer label, got %s", where, name, tostring(label)), 2)
    end
    if name_of[label] then error(string.format("%s: phases %s and %s share label %d", where, name_of[label], name, label), 2) end
    name_of[label] = name
  end
  if stack and o.crop ~= nil then check_crop(o.crop, { stack:dims() }, where) end
  local axes = o.axes or AXES
  check_list(axes, { x = true, y = true, z = true }, where, "axes")
  local conventions = type(o.surfaces) == "table" and o.surfaces or (o.surfaces and { o.surfaces }) or {}
  if type(o.surfaces) == "table" then check_list(o.surfaces, { open = true, closed = true }, where, "surfaces") end
  if o.surfaces ~= false and not (conventions[1] == "open" or conventions[1] == "closed") then
    error(where .. ": surfaces must be \"open\", \"closed\", a list of them or false, got " .. tostring(o.surfaces), 2)
  end

  local source = o.surface_source or (o.probabilities and "probabilities" or "labels")
  if source ~= "labels" and source ~= "smoothed" and source ~= "probabilities" then
    error(where .. ": surface_source must be \"labels\", \"smoothed\" or \"probabilities\", got " .. tostring(source), 2)
  end
  if o.probabilities ~= nil and (type(o.probabilities) ~= "table" or volume.is_volume(o.probabilities)) then
    error(where .. ": probabilities must be the table of class volumes rf:predict returns, got " ..
      (volume.is_volume(o.probabilities) and "a volume" or type(o.probabilities)), 2)
  end
  if source == "probabilities" and type(o.probabilities) ~= "table" then
    error(where .. ": surface_source = \"probabilities\" needs probabilities = <the table rf:predict returns>", 2)
  end
  if type(o.surface_sigma) ~= "number" or not (o.surface_sigma >= 0) or o.surface_sigma == math.huge then
    error(where .. ": surface_sigma must be a finite number >= 0 (voxels), got " .. tostring(o.surface_sigma), 2)
  end

  if stack and source ~= "labels" then
    error(string.format("%s: surface_source = \"%s\" needs the volume in memory (it is not streamed): describe the " ..
      "stack's labels, or a volume read from it", where, source), 2)
  end

  -- the spacing override reaches every measurement through a view (a stack: through the streamed call and the
  -- volume read from it); the caller's volume or stack is not touched
  local lv, spacing_source = labels, stack and ("stack: " .. stack:info().spacing_source) or "volume"
  local override
  if o.spacing ~= nil then
    local sp = o.spacing
    if type(sp) ~= "table" then
      local m, err = util.parse_length(sp)
      if not m or not (m > 0) then error(where .. ": spacing: " .. (err or ("must be > 0, got " .. tostring(sp))), 2) end
      sp = { m, m, m }
    else
      for i = 1, 3 do
        local m, err = util.parse_length(sp[i])
        if not m or not (m > 0) then error(string.format("%s: spacing[%d]: %s", where, i, err or "must be > 0"), 2) end
        sp[i] = m
      end
    end
    override = sp
    if not stack then
      lv = labels:view {}
      lv:spacing(sp)
    end
    spacing_source = "option"
  end
  local sp = override or lv:spacing()
  -- the probabilities as measured: the labels' dims, the labels' spacing (through views)
  local prob
  if source == "probabilities" then
    prob = {}
    local lx, ly, lz = lv:dims()
    for k, f in pairs(o.probabilities) do
      if volume.is_volume(f) then
        local fx, fy, fz = f:dims()
        if fx ~= lx or fy ~= ly or fz ~= lz then
          error(string.format("%s: probabilities.%s is %dx%dx%d, the labels are %dx%dx%d", where, tostring(k), fx, fy, fz,
            lx, ly, lz), 2)
        end
        local w = f:view {}
        w:spacing(sp)
        prob[k] = w
      end
    end
  end
  local calibrated = not (sp[1] == 1 and sp[2] == 1 and sp[3] == 1)

  local density = o.density
  if density ~= nil and density ~= false and type(density) ~= "table" then
    error(where .. ": density must be a table {phase = kg/m3} or false, got " .. type(density), 2)
  end
  if density == nil then
    density = {}
    for name, rho in pairs(DEFAULT_DENSITY) do if phases[name] then density[name] = rho end end
    if next(density) == nil then density = nil end
  elseif density == false then
    density = nil
  end
  local per_gram_of = o.per_gram_of
  if per_gram_of == nil and density and density.cam and phases.cam then per_gram_of = "cam" end
  if per_gram_of and not (density and density[per_gram_of]) then
    error(string.format("%s: per_gram_of = %s needs density.%s (kg/m3)", where, per_gram_of, per_gram_of), 2)
  end

  local tphases = o.transport_phases or {}
  if not o.transport_phases then
    for _, n in ipairs { "cam", "ise" } do if phases[n] then tphases[#tphases + 1] = n end end
  else
    check_list(tphases, phases, where, "transport_phases")
  end
  local chords_o = o.chords
  if chords_o ~= false then
    chords_o = util.options(chords_o, { spacing = 2, trim = "faces", bins = 20 }, where .. " chords")
  end

  local d = setmetatable({ notes = {}, timings = {}, conventions = {} }, Describe)
  local log = o.log
  if log ~= nil and type(log) ~= "boolean" and type(log) ~= "function" then
    error(where .. ": log must be true, false or a function(stage, seconds), got " .. type(log), 2)
  end
  if log == true then log = function(stage, s) io.stderr:write(string.format("describe: %-22s %7.2f s\n", stage, s)) end end
  local function stage(name, f, ...)
    local t0 = tg.analysis.clock()
    local r = table.pack(f(...))
    local dt_s = tg.analysis.clock() - t0
    local found
    for _, t in ipairs(d.timings) do if t.stage == name then t.seconds = t.seconds + dt_s; found = true end end
    if not found then d.timings[#d.timings + 1] = { stage = name, seconds = dt_s } end
    if log then log(name, dt_s) end
    return table.unpack(r, 1, r.n)
  end

  -- a stack: every descriptor that can stream, in one pass over it (tg.measure.stream); the stages below take their
  -- results from it instead of measuring a volume
  local S, sidx
  if stack then
    local spec = { sha256 = true, memory = o.memory, what = "describe", spacing = override,
                   fractions = { phases = phases }, surfaces = {}, chords = {}, percolation = {} }
    for i, c in ipairs(conventions) do
      spec.surfaces[i] = { phases = phases, convention = c, density = density, per_gram_of = per_gram_of }
    end
    sidx = { chords = {}, percolation = {} }
    for _, name in ipairs(tphases) do
      sidx.chords[name], sidx.percolation[name] = {}, {}
      for _, ax in ipairs(axes) do
        if chords_o then
          spec.chords[#spec.chords + 1] = { phase = phases[name], axis = ax, spacing = chords_o.spacing, trim = chords_o.trim }
          sidx.chords[name][ax] = #spec.chords
        end
        if o.percolation then
          spec.percolation[#spec.percolation + 1] = { phase = phases[name], axis = ax }
          sidx.percolation[name][ax] = #spec.percolation
        end
      end
    end
    for _, k in ipairs { "surfaces", "chords", "percolation" } do if #spec[k] == 0 then spec[k] = nil end end
    S = stage("streamed geometry", tg.measure.stream, stack, spec)
  end
  local counts = S and S.counts or lv:counts()
  local present = {}
  for name, label in pairs(phases) do present[name] = (counts[label] or 0) > 0 end

  -- provenance first: the hash is of what was measured
  local nx, ny, nz = lv:dims()
  local prov = {
    input = o.input, dims = { nx, ny, nz }, dtype = dt, spacing = { sp[1], sp[2], sp[3] }, spacing_source = spacing_source,
    tortuga_version = tg.version, lua_version = _VERSION, time = os.date("!%Y-%m-%dT%H:%M:%SZ"), host = hostname(),
  }
  prov.sha256 = S and S.sha256 or stage("hash", function() return lv:sha256() end)
  if stack then
    prov.stack = { path = stack:info().path, format = stack:info().format, pages = stack:info().pages }
    prov.input = prov.input or prov.stack.path
    d.streamed = S.streamed
  end
  if type(o.input) == "string" then
    local f = io.open(o.input, "rb")
    if f then
      f:close()
      local hex, bytes = tg._core.sha256_file(o.input)
      prov.file_sha256, prov.file_bytes = hex, hex and bytes or nil
    end
  end
  d.provenance = prov
  d.voxels = { total = nx * ny * nz, by_name = {} }
  for label, n in pairs(counts) do d.voxels[label] = n end
  for name, label in pairs(phases) do d.voxels.by_name[name] = counts[label] or 0 end
  if not calibrated then
    d.notes[#d.notes + 1] = "the volume has no spacing (1 m voxels): lengths, areas and reaches are in voxel units"
  end

  d.fractions = S and S.fractions or stage("fractions", tg.measure.fractions, lv, { phases = phases })

  if o.surfaces then
    local so = { phases = phases, convention = conventions[1], density = density, per_gram_of = per_gram_of }
    local s = S and S.surfaces[1] or stage("surfaces", tg.measure.surfaces, lv, so)
    s.streamed = nil
    if source ~= "labels" then
      d.surfaces_labels = s
      so.source, so.sigma = source, o.surface_sigma
      s = stage("surfaces (sub-voxel)", tg.measure.surfaces, prob or lv, so)
    end
    d.surfaces = s
    local inter = {}
    for key, area in pairs(s.interfaces) do
      local a, b = key:match("^(%-?%d+)%-(%-?%d+)$")
      local na, nb = name_of[tonumber(a)], name_of[tonumber(b)]
      if na and nb then
        local pg = s.specific.per_gram
        inter[na .. "-" .. nb] = { area = area, per_volume = s.specific.per_volume.interfaces[key],
                                   per_gram = pg and pg.interfaces[key] or nil }
      end
    end
    d.interfaces = inter
    local st = d.surfaces_labels or s
    if st.tpb_length then
      d.tpb = { length = st.tpb_length, per_volume = st.specific.per_volume.tpb_length,
                per_gram = st.specific.per_gram and st.specific.per_gram.tpb_length or nil }
    end
    if phases.cam and (s.phases[phases.cam] or 0) > 0 then
      local scam = s.phases[phases.cam]
      d.coverage = {}
      for _, other in ipairs { "ise", "pore" } do
        local e = inter["cam-" .. other] or inter[other .. "-cam"]
        if e then d.coverage["cam_" .. other] = e.area / scam end
      end
    end
  end

  for i = 2, #conventions do
    d.surfaces_other = d.surfaces_other or {}
    d.surfaces_other[conventions[i]] = S and S.surfaces[i] or stage("surfaces", tg.measure.surfaces, lv, {
      phases = phases, convention = conventions[i], density = density, per_gram_of = per_gram_of })
  end

  if chords_o ~= false then
    d.chords, d.cld = {}, {}
    for _, name in ipairs(tphases) do
      if present[name] then
        local c, cld = {}, {}
        for _, ax in ipairs(axes) do
          local ch = S and S.chords[sidx.chords[name][ax]] or stage("chords", tg.measure.chords, lv, {
            phase = phases[name], axis = ax, spacing = chords_o.spacing, trim = chords_o.trim })
          local st = tg.measure.cld(ch, { bins = chords_o.bins })
          local voxels = 0 -- the total length: an exact integer count of voxels times the voxel length
          for l, c in ipairs(ch.histogram) do voxels = voxels + l * c end
          local total = voxels * ch.voxel_length
          c[ax] = { n = st.n, mean = st.mean, median = st.median, total = total }
          cld[ax] = st
        end
        d.chords[name] = c
        d.cld[name] = cld
      end
    end
    d.conventions.chords = string.format("PoreSpy: a chord line every %d voxels, trim = %s", chords_o.spacing + 1,
                                         tostring(chords_o.trim))
  end

  if o.percolation then
    d.percolation = {}
    for _, name in ipairs(tphases) do
      if present[name] then
        local p = {}
        for _, ax in ipairs(axes) do
          local r = S and S.percolation[sidx.percolation[name][ax]] or stage("percolation", tg.measure.percolation, lv,
            { phase = phases[name], axis = ax })
          p[ax] = r.fractions
        end
        d.percolation[name] = p
      end
    end
  end

  local walk_o = util.options(o.walk, { walkers = 2000, steps = 5000, seed = 1, start = "phase" }, where .. " walk")
  local flux_o = util.options(o.flux, { tol = 1e-6, boundary = "taufactor", fraction = "total", max_iter = 2000 },
                              where .. " flux")
  local active_o
  if o.active ~= false and phases.cam and phases.ise then
    active_o = util.options(o.active, { axis = "z", collector = "first", reach = calibrated and "2um" or 20,
                                        connectivity = 6 }, where .. " active")
  end
  -- the parts that need the whole volume in memory (thickness, transport, active CAM): on a stack they run on the
  -- stack read whole when it fits the budget, else on the crop the caller gives, else not at all; d.whole_volume
  -- says which, and a note says when they did not run
  local wv, wcounts, wpresent, wtotal = lv, counts, present, nx * ny * nz
  local whole_parts = o.thickness or o.transport or active_o
  if stack and whole_parts then
    local core = require "tortuga.core"
    local budget = S.streamed.memory
    local dims = { nx, ny, nz }
    local crop = o.crop and check_crop(o.crop, dims, where)
    local cd = crop and { crop.x[2] - crop.x[1] + 1, crop.y[2] - crop.y[1] + 1, crop.z[2] - crop.z[1] + 1 } or dims
    local size = { u8 = 1, u16 = 2, i32 = 4 }
    local needed = cd[1] * cd[2] * cd[3] * (size[dt] + WHOLE_PER_VOXEL + (o.fields and FIELDS_PER_VOXEL or 0))
    local w = { needed = needed, memory = budget, units = "bytes", parts = {} }
    if o.thickness then w.parts[#w.parts + 1] = "thickness" end
    if o.transport then w.parts[#w.parts + 1] = "tau" end
    if active_o then w.parts[#w.parts + 1] = "active_cam" end
    if crop or needed <= budget then
      if crop then
        wv = stage("read (crop)", function() return stack:read { z = crop.z }:view { x = crop.x, y = crop.y } end)
        w.on, w.crop, w.dims = "crop", crop, cd
      else
        wv = stage("read", function() return stack:read() end)
        w.on, w.dims = "stack", dims
      end
      if override then wv:spacing(override) end
      wcounts, wtotal, wpresent = wv:counts(), cd[1] * cd[2] * cd[3], {}
      for name, label in pairs(phases) do wpresent[name] = (wcounts[label] or 0) > 0 end
      if crop then
        w.sha256 = wv:sha256()
        d.notes[#d.notes + 1] = string.format("%s measured on the crop x %d-%d, y %d-%d, z %d-%d (%d x %d x %d voxels)",
          table.concat(w.parts, ", "), crop.x[1], crop.x[2], crop.y[1], crop.y[2], crop.z[1], crop.z[2], cd[1], cd[2], cd[3])
      end
    else
      w.on = "none"
      d.notes[#d.notes + 1] = string.format("%s not measured: they need the volume in memory, about %s, beyond the " ..
        "budget of %s; give crop = {x = {a, b}, y = ..., z = ...} (or --crop) to measure them on a part, or a larger " ..
        "memory budget", table.concat(w.parts, ", "), core.format_memory(needed), core.format_memory(budget))
      wv = nil
    end
    d.whole_volume = w
  end

  if o.thickness and wv then
    d.thickness = {}
    for _, name in ipairs(tphases) do
      if wpresent[name] and wcounts[phases[name]] < wtotal then
        local t = stage("thickness", tg.measure.thickness, wv, { phase = phases[name] })
        d.thickness[name] = { d10 = t.d10, d50 = t.d50, d90 = t.d90, mean = t.mean }
        t.map:release()
        collectgarbage()
      end
    end
  end

  if o.transport and wv then
    d.tau = {}
    local flux_axis = #axes == 3 and "all" or nil
    local function flux(cond, field)
      local fo = { conductivity = cond, tol = flux_o.tol, boundary = flux_o.boundary, fraction = flux_o.fraction,
                   max_iter = flux_o.max_iter, field = field or false }
      if flux_axis then
        fo.axis = "all"
        return tg.transport.flux(wv, fo)
      end
      local merged
      for _, ax in ipairs(axes) do
        fo.axis = ax
        local r = tg.transport.flux(wv, fo)
        if not merged then merged = r
        else
          for k, v in pairs(r) do
            if type(v) == "table" and type(merged[k]) == "table" and v[ax] ~= nil then merged[k][ax] = v[ax] end
          end
          merged.converged = merged.converged and r.converged
        end
      end
      return merged
    end
    for _, name in ipairs(tphases) do
      if wpresent[name] then
        local e = {}
        e.walk = stage("random walk", tg.transport.random_walk, wv, { phase = phases[name], walkers = walk_o.walkers,
                                                                       steps = walk_o.steps, seed = walk_o.seed,
                                                                       start = walk_o.start })
        local cond = {}
        for l in pairs(wcounts) do cond[l] = 0 end
        cond[phases[name]] = 1
        e.flux = stage("flux", flux, cond, o.fields)
        if o.fields then
          -- the maps are volumes: kept in d.fields (not in the JSON), out of the result tables
          d.fields = d.fields or {}
          d.fields[name] = { current = e.flux.current, potential = e.flux.potential }
          e.flux.current, e.flux.potential = nil, nil
        end
        if name == "ise" and o.filled and phases.pore and wpresent.pore then
          cond[phases.pore] = 1
          e.filled = stage("flux (filled pores)", flux, cond)
        end
        d.tau[name] = e
        -- a number that is not a result is noted, whatever prints it
        for _, k in ipairs { "walk", "flux", "filled" } do
          for _, a in ipairs(axes) do
            local why = e[k] and transport.doubt(e[k], a)
            if why then
              local r = e[k]
              local detail = k == "walk" and (r.warnings and r.warnings[1] and (": " .. r.warnings[1]) or "")
                or string.format(" (relative residual %.3g after %s iterations)", r.residual and r.residual[a] or 0 / 0,
                  tostring(r.iterations and r.iterations[a]))
              d.notes[#d.notes + 1] = string.format("tau %s %s along %s = %s is %s%s: not a result", name,
                k == "filled" and "flux (pores filled)" or k, a, string.format("%.4g", r.tau and r.tau[a] or 0 / 0), why, detail)
            end
          end
        end
      end
    end
    -- where the two tortuosities of a phase disagree by more than 1.5x, say what the data show
    for _, name in ipairs(tphases) do
      local e = d.tau[name]
      if e and e.walk and e.flux then
        local worst, wr
        for _, ax in ipairs(axes) do
          local tw, tf = e.walk.tau[ax], e.flux.tau[ax]
          -- an unconverged flux tau is no result to explain (its own note says so)
          if type(tw) == "number" and type(tf) == "number" and tw > 0 and tf > 0 and tw < math.huge and
              transport.doubt(e.flux, ax) ~= "not converged" then
            local r = math.max(tf / tw, tw / tf)
            if r > 1.5 and (not wr or r > wr) then worst, wr = ax, r end
          end
        end
        if worst then
          local note = stage("transport note", M.transport_note, wv, name, phases[name], e, worst, wcounts, flux_o)
          d.notes[#d.notes + 1] = note
          d.transport_notes = d.transport_notes or {}
          d.transport_notes[name] = note
        end
      end
    end
    d.conventions.walk = "pytrax: lattice walk, refused moves count, mirrored domain, tau = 1 / slope of MSD"
    d.conventions.flux = string.format("boundary %s, tau = D_mean / sigma_eff with the %s phase fraction", flux_o.boundary,
                                       flux_o.fraction)
    d.conventions.filled = "ISE flux with the pores conducting like ISE (full densification, the paper's Fig. S7)"
  end

  if active_o and wv then
    local a_o = active_o
    local a = stage("active CAM", tg.measure.active_cam, wv, { cam = phases.cam, ise = phases.ise, axis = a_o.axis,
                                                                collector = a_o.collector, reach = a_o.reach,
                                                                connectivity = a_o.connectivity })
    a.distance = nil
    d.active_cam = a
  end

  local SURFACE_CONVENTIONS = { open = "open: marching cubes on the unpadded indicator (scikit-image)",
                                closed = "closed: zero padding and 7-voxel smoothing (PoreSpy)" }
  local said = {}
  for i, c in ipairs(conventions) do said[i] = SURFACE_CONVENTIONS[c] .. (i > 1 and " (surfaces_other." .. c .. ")" or "") end
  d.conventions.surfaces = #said > 0 and table.concat(said, "; ") or nil
  if o.surfaces and source ~= "labels" then
    d.conventions.surfaces = string.format("%s; d.surfaces and d.interfaces from the %s at sub-voxel precision " ..
      "(Gaussian sigma %g voxels; a sphere of R voxels loses about 2 sigma^2 / R^2 of its area), d.surfaces_labels " ..
      "on the labels", d.conventions.surfaces, source == "probabilities" and "class probabilities" or
      "smoothed phase indicators", o.surface_sigma)
  end
  d.conventions.interfaces = "Eq. 1: S_ab = (S_a + S_b - S_c) / 2"
  local unit = calibrated and "m" or "voxel"
  d.units = { fractions = "1", area = unit == "m" and "m2" or "voxel2", length = unit,
              per_volume = unit == "m" and "m-1" or "1/voxel", per_gram = "m2/g", tau = "1", coverage = "1",
              seconds = "s" }
  prov.parameters = {
    phases = copy(phases), density = copy(density), per_gram_of = per_gram_of, surfaces = copy(o.surfaces),
    surface_source = source, surface_sigma = source ~= "labels" and o.surface_sigma or nil,
    chords = copy(chords_o), thickness = o.thickness, percolation = o.percolation, transport = o.transport,
    axes = copy(axes), transport_phases = copy(tphases), walk = o.transport and copy(walk_o) or nil,
    flux = o.transport and copy(flux_o) or nil, filled = o.transport and o.filled or nil, active = copy(active_o),
  }
  if #d.notes == 0 then d.notes = nil end
  return d
end

-- Why the flux and random-walk tortuosities of a phase differ along `ax` (ratio > 1.5), from the data: the share
-- of the phase that percolates along the axis, how concentrated the current is (one more solve along that axis
-- with the current map: the share of the current carried by the top 1 % and 5 % of the conducting voxels; 1 % and
-- 5 % in a uniform block), and how far the walkers went (RMS displacement along the axis against the box) and
-- whether their fit is reliable.
function M.transport_note(lv, name, label, e, ax, counts, flux_o)
  local tg = tg_lib()
  local tw, tf = e.walk.tau[ax], e.flux.tau[ax]
  local parts = { string.format("tau %s along %s: flux %.2f, random walk %.2f (%.1fx)", name, ax, tf, tw,
    math.max(tf / tw, tw / tf)) }
  local nx, ny, nz = lv:dims()
  local n_ax = ({ x = nx, y = ny, z = nz })[ax]
  local total = e.flux.fraction.total
  local perc = e.flux.fraction.percolating and e.flux.fraction.percolating[ax]
  if perc and total and total > 0 then
    parts[#parts + 1] = string.format("%.1f %% of the phase percolates along %s (the flux counts only that; the walkers " ..
      "start anywhere in the phase)", 100 * perc / total, ax)
  end
  local cond = {}
  for l in pairs(counts) do cond[l] = 0 end
  cond[label] = 1
  local ok, r = pcall(tg.transport.flux, lv, { conductivity = cond, axis = ax, tol = flux_o.tol, boundary = flux_o.boundary,
                                               fraction = flux_o.fraction, max_iter = flux_o.max_iter, field = true })
  if ok and r.hotspots and r.hotspots[ax] and r.hotspots[ax].top1 then
    local h = r.hotspots[ax]
    parts[#parts + 1] = string.format("the top 1 %% of its conducting voxels carry %.0f %% of the current and the top 5 %% " ..
      "carry %.0f %% (1 %% and 5 %% in a uniform block)%s", 100 * h.top1, 100 * h.top5,
      h.top1 > 0.05 and ": the current squeezes through narrow necks, which the flux feels in full and the walkers, " ..
      "diffusing locally, hardly meet" or "")
  end
  if ok and r.current and r.current[ax] then r.current[ax]:release() end
  if ok and r.potential and r.potential[ax] then r.potential[ax]:release() end
  local msd = e.walk.msd and e.walk.msd[ax]
  local sp = lv:spacing()[({ x = 1, y = 2, z = 3 })[ax]]
  if type(msd) == "table" and #msd > 0 then
    local rms = math.sqrt(msd[#msd]) / sp
    parts[#parts + 1] = string.format("the walkers moved %.0f voxels RMS along %s in a box of %d", rms, ax, n_ax)
  end
  if e.walk.reliable and e.walk.reliable[ax] == false then parts[#parts + 1] = "the walk's fit is flagged unreliable" end
  return table.concat(parts, "; ")
end

-- ---------------------------------------------------------------- methods

--- The dotted names -> numbers that tg.analysis correlates ("tau.ise.walk.tau.mean", ...).
function Describe:flat()
  local S = tg_lib().analysis.samples { { name = "d", descriptors = self } }
  return S:get("d").descriptors
end

--- Write everything as JSON (temporary name, then rename). Returns the path and the notes of tortuga.json (NaN or
-- infinities written as null); raises with the reason on failure.
function Describe:write_json(path)
  local out = {}
  for k, v in pairs(self) do if k ~= "fields" then out[k] = v end end
  local ok, err = json.write(path, out)
  if not ok then error("describe:write_json: " .. err, 2) end
  return path, err
end

local function f3(x, scale, fmt)
  if type(x) ~= "number" or x ~= x then return "–" end
  if x == math.huge then return "∞" end
  return string.format(fmt or "%.3f", x * (scale or 1))
end

function Describe:__tostring()
  local out = {}
  local function line(...) out[#out + 1] = string.format(...) end
  local p = self.provenance
  local um = p.spacing[1] ~= 1 and 1e6 or 1
  local lu = um == 1e6 and "µm" or "vox"
  line("tortuga describe — %s, %d x %d x %d %s, voxel %s x %s x %s %s", p.input or "volume", p.dims[1], p.dims[2],
    p.dims[3], p.dtype, f3(p.spacing[1], um, "%.4g"), f3(p.spacing[2], um, "%.4g"), f3(p.spacing[3], um, "%.4g"), lu)
  line("sha256 %s", p.sha256)
  local names = util.sorted_keys(self.fractions.by_name or {})
  line("%-22s %s", "volume fractions", table.concat((function()
    local t = {}
    for _, n in ipairs(names) do t[#t + 1] = string.format("%s %.4f", n, self.fractions.by_name[n]) end
    return t
  end)(), "  "))
  if self.interfaces then
    local s, sl = self.surfaces, self.surfaces_labels
    local from = s and s.source ~= "labels" and s.sigma and string.format("   (%s, sigma %g vox)", s.source, s.sigma[1]) or ""
    for _, k in ipairs(util.sorted_keys(self.interfaces)) do
      local e = self.interfaces[k]
      local key, beside = s and s.names and nil, ""
      if sl and sl.specific.per_gram then -- the label-based figure beside the sub-voxel one
        for lk, _ in pairs(sl.interfaces) do
          local a, b = lk:match("^(%-?%d+)%-(%-?%d+)$")
          local na, nb = s.names[tonumber(a)], s.names[tonumber(b)]
          if na and nb and na .. "-" .. nb == k then key = lk end
        end
        if key then beside = string.format("   labels %s m2/g", f3(sl.specific.per_gram.interfaces[key], 1, "%.4f")) end
      end
      line("%-22s %s m2/g   %s 1/µm%s%s", "interface " .. k, f3(e.per_gram, 1, "%.4f"), f3(e.per_volume, 1e-6, "%.4f"),
        from, beside)
    end
  end
  if self.coverage and self.coverage.cam_ise then line("%-22s %.1f %% of the CAM surface", "CAM covered by ISE", 100 * self.coverage.cam_ise) end
  for _, ph in ipairs { "cam", "ise" } do
    local c = self.chords and self.chords[ph]
    if c then
      local t = {}
      for _, ax in ipairs(AXES) do if c[ax] then t[#t + 1] = ax .. " " .. f3(c[ax].mean, um, "%.3f") end end
      line("%-22s %s %s", "mean chord " .. ph, table.concat(t, "  "), lu)
    end
  end
  for _, ph in ipairs { "cam", "ise" } do
    local pc = self.percolation and self.percolation[ph]
    if pc then
      local t = {}
      for _, ax in ipairs(AXES) do if pc[ax] then t[#t + 1] = ax .. " " .. f3(pc[ax].spanning, 100, "%.1f") .. " %" end end
      line("%-22s %s", "spanning " .. ph, table.concat(t, "  "))
    end
  end
  for _, ph in ipairs { "cam", "ise" } do
    local th = self.thickness and self.thickness[ph]
    if th then line("%-22s d50 %s  d90 %s %s", "thickness " .. ph, f3(th.d50, um), f3(th.d90, um), lu) end
  end
  for _, ph in ipairs { "cam", "ise" } do
    local e = self.tau and self.tau[ph]
    if e then
      -- a tau that did not converge or cannot be trusted says so on its line
      local function v(r, a)
        local s = f3(r and r.tau and r.tau[a], 1, "%.2f")
        local why = transport.doubt(r, a)
        return why and (s .. " (" .. why .. ")") or s
      end
      line("%-22s walk x %s y %s z %s   flux x %s y %s z %s", "tau " .. ph, v(e.walk, "x"), v(e.walk, "y"),
        v(e.walk, "z"), v(e.flux, "x"), v(e.flux, "y"), v(e.flux, "z"))
      if e.filled then
        line("%-22s flux x %s y %s z %s", "tau ise, pores filled", v(e.filled, "x"), v(e.filled, "y"), v(e.filled, "z"))
      end
    end
  end
  local a = self.active_cam
  if a then
    line("%-22s %.1f %% (reach %s; connected to the collector %.1f %%, whole clusters %.1f %%, in contact %.1f %%)",
      "active CAM", 100 * a.active, util.format_length(a.reach), 100 * a.fractions.electronic, 100 * a.fractions.cluster,
      100 * a.fractions.contact)
  end
  local s, w = self.streamed, self.whole_volume
  if s then
    local fm = require("tortuga.core").format_memory
    line("%-22s %d slab%s of %d slices, %d pass%s, budget %s, peak %s, %.1f Mvox/s", "streamed", s.slabs,
      s.slabs == 1 and "" or "s", s.slab, s.passes, s.passes == 1 and "" or "es", fm(s.memory), fm(s.peak),
      s.voxels_per_second / 1e6)
  end
  if w then
    line("%-22s %s", table.concat(w.parts, ", "), w.on == "stack" and "on the whole stack (read: it fits the budget)" or
      w.on == "crop" and string.format("on the crop x %d-%d, y %d-%d, z %d-%d", w.crop.x[1], w.crop.x[2], w.crop.y[1],
        w.crop.y[2], w.crop.z[1], w.crop.z[2]) or "not measured (see the note)")
  end
  local total = 0
  for _, t in ipairs(self.timings) do total = total + t.seconds end
  line("%-22s %.2f s", "time", total)
  for _, n in ipairs(self.notes or {}) do line("note: %s", n) end
  return table.concat(out, "\n")
end

-- tg.describe(labels, opts) and tg.describe.describe(...) are the same
return setmetatable(M, { __call = function(_, ...) return M.describe(...) end })
