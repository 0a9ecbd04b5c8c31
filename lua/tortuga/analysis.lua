--- tg.analysis — samples with descriptors and measured cell data, the paper's experimental arithmetic
-- (Eqs. 2 and 3, coverage, lambda), and correlations between them.
--
--   local S = tg.analysis.samples("../shared/reference/minnmann2024-measured.json")   -- or a .csv
--   local S = tg.analysis.samples{
--     { name = "BM10", descriptors = { fractions = f, surfaces = s, flux_ise = r }, measured = { sigma_ion_eff = "0.05 mS/cm" } },
--     { name = "BM03", ... },
--     measured = "minnmann2024-measured.json",     -- merged by sample name (samples only there are kept too)
--     derive = { phi_ise = "fractions.by_name.ise" },
--   }
--   local c = tg.analysis.correlate(S, { x = "surfaces.interfaces.1-2", y = "discharge_capacity_0p1C" })
--   c.pearson.r, c.pearson.p, c.spearman.rho, c.spearman.p, c.fit.slope, c.fit.se, c.n
--   tg.analysis.write_csv("samples.csv", S);  tg.analysis.write_csv("correlations.csv", c)
--
-- Samples. Each sample has a name and four maps from variable names to numbers:
--   descriptors  the result tables of tg.measure / tg.transport / tg.describe (or plain numbers), flattened to
--                dotted names: {fractions = {by_name = {cam = 0.5}}} -> "fractions.by_name.cam"; label keys stay
--                numbers ("surfaces.interfaces.1-2", "fractions.1"). Arrays (chord lists, MSD curves) and volumes
--                are not variables; the raw tables stay in sample.results for tg.report.
--   measured     cell data. A value is a number (taken as is), a string with a unit ("0.05 mS/cm"), {value, "unit"},
--                a range {lo, hi} (its midpoint; the range is kept in sample.ranges), or missing (nil, JSON null,
--                an empty CSV cell, "NA"). Units are converted to: S/m, m, m2 (areas), m2/g (specific areas, as
--                tg.measure.surfaces), mAh/g, ohm, Pa, 1. Key suffixes of the JSON reference file name the unit:
--                sigma_ion_bulk_mS_cm = 2.0 -> sigma_ion_bulk = 0.2 (S/m); the original key still finds the
--                value as given. CSV headers may carry a unit in brackets: "sigma_ion_eff [mS/cm]".
--                A unit that does not parse raises, naming the sample, the key and the known units.
--   derived      computed from the other two (recomputed by S:derive(opts)):
--                sigma_el_eq2, sigma_ion_eq2  Eq. 2, sigma = l / (R A / layers): R_el / R_ion (ohm), thickness (m;
--                                             thickness_el / thickness_ion override), area (m2); layers_ion = 2 (the
--                                             full-blocking cell measures two electrode layers: R is halved),
--                                             layers_el = 1.
--                kappa_ion_eq3, kappa_el_eq3  Eq. 3, kappa = sigma_bulk / sigma_eff * phi: sigma_ion_bulk and
--                                             sigma_ion_eff (measured, else sigma_ion_eq2), phi = the ISE volume
--                                             fraction (derive.phi_ise: a variable name or a number; default
--                                             ise_vol_frac or segmented_ise_vol_frac if measured, else the
--                                             descriptor fractions.by_name.ise);
--                                             the electronic one likewise with sigma_el_bulk and phi_cam.
--                coverage, coverage_pore      S_cam_ise / cam_specific_surface and S_cam_pore / cam_specific_surface
--                                             (both m2/g: the paper's 0.11 / 0.5 = 22 %).
--                coverage_microstructure      the same with S_CAM-ISE per gram of CAM from the descriptors
--                                             (surfaces.specific.per_gram.interfaces.<cam>-<ise>).
--                coverage_geometric           S_CAM-ISE / S_CAM from the descriptors' areas (share of the CAM
--                                             surface touching ISE).
--                lambda                       d_CAM / d_ISE from cam_d50 and ise_d50 (measured; or from size
--                                             distributions cam_psd / ise_psd = {size = {...}, cumulative = {...}}
--                                             or {size = {...}, fraction = {...}}, interpolated at 50 %).
--                lambda_thickness             the same from the local-thickness d50 of the descriptors
--                                             (derive.d_cam / derive.d_ise, default thickness.cam.d50 / thickness.ise.d50).
--   Phase labels for the descriptor names: sample.phases or derive.phases (default {pore = 0, cam = 1, ise = 2}).
--   A variable name may be qualified ("measured.ise_d50", "derived.lambda", "descriptors.fractions.1"); a plain
--   name is looked up in all three and raises if two categories hold different values under it.
--
-- Correlation. tg.analysis.correlate(S, {x = name | function(sample) | {names...}, y = ..., permutation = "auto"})
--   --> { x = ..., y = ..., n = ..., samples = {names}, excluded = {names with a missing value},
--         pearson = {r, p, p_t, p_exact, method}, spearman = {rho, p, p_t, p_exact, method},
--         fit = {slope, intercept, se, se_intercept, r2, rss, sigma2, df, cov}, data = {x = {...}, y = {...}},
--         notes = {...} }
--   p_t: the t-distribution (scipy.stats.pearsonr / spearmanr); p_exact: the exact two-sided permutation test
--   over all N! pairings (scipy.stats.permutation_test(..., permutation_type="pairings"), computed when N <= 8);
--   p is p_exact when computed (permutation = "auto" and N <= 8, or true), else p_t. Spearman ranks ties by their
--   average. The fit is y = intercept + slope x by least squares (core.analysis.lstsq, LAPACKE), se = the standard
--   error of the slope (numpy.polyfit(x, y, 1, cov=True)'s sqrt of the diagonal).
--   Fewer than 3 complete samples: n is given, the coefficient tables are empty and notes say why (no fake
--   p-values). Constant x or y: no coefficient for it (notes say so); the fit still runs when only y is constant.
--   x or y a list of names: a matrix { x = {...}, y = {...}, pairs = {[x][y] = result},
--   pearson = {r = {{...}}, p = {{...}}}, spearman = {rho = ..., p = ...}, n = {{...}} } (undefined entries are
--   tg.json.null); tg.analysis.matrix(S, names) is correlate with x = y = names.
--   Lower level: tg.analysis.pearson(xs, ys), spearman(xs, ys), lstsq(X, y, {intercept = true}), ranks(xs),
--   t_sf(t, df), sigma_from_resistance{...}, kappa{...}, d50(psd), clock() (monotonic wall seconds).
--
-- Workflow helpers: tg.analysis.paper_reference([script]) --> the path of the paper's measured-values JSON when
-- found, else a table of the values its text gives; tg.analysis.stopwatch([log]) --> sw with sw:time(stage, f, ...),
-- sw.timings (for tg.report.html) and sw:total().
local core = require "tortuga.core"
local util = require "tortuga.util"
local json = require "tortuga.json"

local M = {}
local NIL = util.NIL
local C = core.analysis

-- ---------------------------------------------------------------- units

-- unit as written -> canonical unit, factor to it
local UNITS = {
  ["S/m"] = { "S/m", 1 }, ["mS/cm"] = { "S/m", 0.1 }, ["S/cm"] = { "S/m", 100 }, ["mS/m"] = { "S/m", 1e-3 },
  ["uS/cm"] = { "S/m", 1e-4 }, ["µS/cm"] = { "S/m", 1e-4 },
  m = { "m", 1 }, cm = { "m", 1e-2 }, mm = { "m", 1e-3 }, um = { "m", 1e-6 }, ["µm"] = { "m", 1e-6 }, nm = { "m", 1e-9 },
  m2 = { "m2", 1 }, cm2 = { "m2", 1e-4 }, mm2 = { "m2", 1e-6 }, um2 = { "m2", 1e-12 },
  ["m2/g"] = { "m2/g", 1 }, ["m2/kg"] = { "m2/g", 1e-3 }, ["cm2/g"] = { "m2/g", 1e-4 },
  ["mAh/g"] = { "mAh/g", 1 }, ["Ah/kg"] = { "mAh/g", 1 },
  ohm = { "ohm", 1 }, Ohm = { "ohm", 1 }, kohm = { "ohm", 1e3 }, Mohm = { "ohm", 1e6 },
  ["ohm*cm2"] = { "ohm*m2", 1e-4 }, ["ohm*m2"] = { "ohm*m2", 1 },
  Pa = { "Pa", 1 }, kPa = { "Pa", 1e3 }, MPa = { "Pa", 1e6 }, GPa = { "Pa", 1e9 },
  ["mg/cm2"] = { "kg/m2", 1e-2 }, ["kg/m2"] = { "kg/m2", 1 }, ["g/cm3"] = { "kg/m3", 1e3 }, ["kg/m3"] = { "kg/m3", 1 },
  ["1"] = { "1", 1 }, frac = { "1", 1 }, ["%"] = { "1", 0.01 },
}
-- key suffixes of the reference JSON ("_mS_cm") and the unit they name, longest first
local SUFFIXES = {
  { "_m2_per_g", "m2/g" }, { "_mg_per_cm2", "mg/cm2" }, { "_mS_cm", "mS/cm" }, { "_mAh_g", "mAh/g" },
  { "_S_cm", "S/cm" }, { "_S_m", "S/m" }, { "_ohm", "ohm" }, { "_MPa", "MPa" },
  { "_cm2", "cm2" }, { "_um", "um" }, { "_nm", "nm" }, { "_mm", "mm" },
}

local function known_units()
  local ks = util.sorted_keys(UNITS)
  return table.concat(ks, ", ")
end

--- Convert `value` in `unit` to the canonical unit: value, canonical | nil, message.
function M.convert(value, unit)
  local u = UNITS[unit]
  if not u then return nil, string.format("unknown unit '%s' (known: %s)", tostring(unit), known_units()) end
  local f = u[2]
  if f < 1 then
    local inv = math.floor(1 / f + 0.5)
    if math.abs(inv * f - 1) < 1e-12 then return value / inv, u[1] end -- 5.93 um -> 5.93e-6 exactly rounded
  end
  return value * f, u[1]
end

-- "0.05 mS/cm" -> 0.005, "S/m" | nil, msg
local function parse_quantity(s)
  local num, unit = s:match("^%s*([%+%-]?[%d%.]+[eE]?[%+%-]?%d*)%s*(.-)%s*$")
  local v = tonumber(num)
  if not v then return nil, string.format("'%s' is not a number with a unit (e.g. \"0.05 mS/cm\")", s) end
  if unit == "" then return v, "1" end
  return M.convert(v, unit)
end

local function strip_suffix(key)
  for _, s in ipairs(SUFFIXES) do
    if #key > #s[1] and key:sub(-#s[1]) == s[1] then return key:sub(1, -#s[1] - 1), s[2] end
  end
  return key, nil
end

-- ---------------------------------------------------------------- samples

local Samples = {}
Samples.__index = Samples
Samples.__name = "tortuga.Samples"

local function is_samples(x) return getmetatable(x) == Samples end
M.is_samples = is_samples

local function is_finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

-- a plain list (keys exactly 1..n): chord lengths, MSD curves, bin edges — not variables
local function is_list(t)
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n > 0 and n == #t
end

-- Flatten result tables into dotted names -> numbers; lists, strings, volumes are skipped.
local function flatten(t, prefix, out, depth, seen)
  if depth > 8 or seen[t] then return end
  seen[t] = true
  for k, v in pairs(t) do
    local name = prefix and (prefix .. "." .. tostring(k)) or tostring(k)
    if type(v) == "number" then
      if is_finite(v) then out[name] = v end
    elseif type(v) == "table" and v ~= json.null and not is_list(v) then
      flatten(v, name, out, depth + 1, seen)
    end
  end
  seen[t] = nil
end

-- Read one measured value: number, "2.0 mS/cm", {value, "unit"}, {lo, hi}, nil/null/"NA".
-- Returns value (canonical units), unit, range | nil (missing); raises on bad input.
local function read_value(v, key_unit, where)
  if v == nil or v == json.null then return nil end
  if type(v) == "string" then
    local lv = v:lower():match("^%s*(.-)%s*$")
    if lv == "" or lv == "na" or lv == "nan" or lv == "null" or lv == "-" then return nil end
    local x, unit = parse_quantity(v)
    if not x then error(where .. ": " .. unit, 0) end
    if key_unit and unit == "1" then x, unit = M.convert(x, key_unit) end
    return x, unit
  end
  if type(v) == "number" then
    if v ~= v then return nil end
    if not is_finite(v) then error(where .. ": " .. tostring(v) .. " is not a finite number", 0) end
    if key_unit then return M.convert(v, key_unit) end
    return v, nil
  end
  if type(v) == "table" then
    if type(v[1]) == "number" and type(v[2]) == "string" and v[3] == nil then
      local x, unit = M.convert(v[1], v[2])
      if not x then error(where .. ": " .. unit, 0) end
      return x, unit
    end
    if type(v[1]) == "number" and type(v[2]) == "number" and v[3] == nil then
      local lo, hi = read_value(v[1], key_unit, where), read_value(v[2], key_unit, where)
      local mid, unit = read_value(0.5 * (v[1] + v[2]), key_unit, where)
      return mid, unit, { lo, hi }
    end
  end
  error(string.format("%s: expected a number, \"number unit\", {value, \"unit\"} or a range {lo, hi}, got %s", where,
    type(v) == "table" and "a table" or tostring(v)), 0)
end

-- Store the measured entry `key` = raw into sample s.
local function set_measured(s, key, raw, where)
  local name, key_unit = strip_suffix(key)
  if type(raw) == "table" and raw ~= json.null and (raw.size or raw.cumulative or raw.fraction) then
    s.psd[name] = raw
    return
  end
  local ok, v, unit, range = pcall(read_value, raw, key_unit, string.format("%s: measured '%s'", where, key))
  if not ok then error(v, 0) end
  if v == nil then
    s.measured[name] = nil
    s.missing[name] = true
    return
  end
  s.measured[name], s.missing[name] = v, nil
  s.units[name] = unit or s.units[name]
  s.ranges[name] = range
  if name ~= key or key_unit then
    local given = raw
    if type(raw) == "table" then given = range and 0.5 * (raw[1] + raw[2]) or raw[1] end
    if type(given) == "number" then s.given[key] = { value = given, unit = key_unit, name = name } end
  end
end

local function new_sample(name)
  return { name = name, descriptors = {}, measured = {}, derived = {}, units = {}, given = {}, ranges = {}, missing = {},
           psd = {}, results = {}, images = {}, phases = nil, notes = {} }
end

local function add_descriptors(s, d, where)
  if type(d) ~= "table" then error(where .. ": descriptors must be a table of result tables or numbers", 0) end
  for k, v in pairs(d) do
    if type(v) == "table" then s.results[k] = v end
  end
  flatten(d, nil, s.descriptors, 0, {})
end

local SAMPLE_KEYS = { name = true, descriptors = true, measured = true, results = true, images = true, phases = true,
                      label = true, notes = true, units = true }

local function sample_from_spec(spec, where, materials)
  if type(spec) ~= "table" then error(where .. ": a sample must be a table with a name", 0) end
  local name = spec.name
  if type(name) ~= "string" and type(name) ~= "number" then error(where .. ": every sample needs a name", 0) end
  local s = new_sample(tostring(name))
  where = string.format("%s: sample '%s'", where, s.name)
  for k in pairs(spec) do
    if not SAMPLE_KEYS[k] then
      local hint = type(k) == "string" and util.suggest(k, util.sorted_keys(SAMPLE_KEYS))
      error(string.format("%s: unknown field '%s'%s", where, tostring(k), hint and (" (did you mean '" .. hint .. "'?)") or
        " (fields: descriptors, measured, results, images, phases, label)"), 0)
    end
  end
  for k, v in pairs(materials or {}) do set_measured(s, k, v, where) end
  if spec.descriptors then add_descriptors(s, spec.descriptors, where) end
  if spec.results then
    for k, v in pairs(spec.results) do s.results[k] = v end
  end
  if spec.measured then
    if type(spec.measured) ~= "table" then error(where .. ": measured must be a table", 0) end
    for k, v in pairs(spec.measured) do set_measured(s, tostring(k), v, where) end
  end
  if spec.units then
    for k, u in pairs(spec.units) do s.units[k] = u end
  end
  s.images = spec.images or {}
  s.phases = spec.phases
  s.label = spec.label
  return s
end

-- ---------------------------------------------------------------- files

local function read_file(path, where)
  local f, err = io.open(path, "rb")
  if not f then error(string.format("%s: %s", where, err), 0) end
  local text = f:read("a")
  f:close()
  return text
end

local function load_json(path, where)
  local ok, t = pcall(json.decode, read_file(path, where))
  if not ok then error(string.format("%s: %s: not valid JSON (%s)", where, path, tostring(t)), 0) end
  if type(t) ~= "table" then error(string.format("%s: %s: expected a JSON object", where, path), 0) end
  local list, materials = {}, t.materials
  local samples = t.samples
  if type(samples) ~= "table" then
    error(string.format("%s: %s: expected a \"samples\" object (name -> values) or array", where, path), 0)
  end
  local names = {}
  if #samples > 0 then
    for i, e in ipairs(samples) do
      if type(e) ~= "table" or e.name == nil then error(string.format("%s: %s: samples[%d] has no name", where, path, i), 0) end
      names[i] = e.name
    end
  else
    names = util.sorted_keys(samples)
  end
  for i, name in ipairs(names) do
    local e = #samples > 0 and samples[i] or samples[name]
    if type(e) ~= "table" then error(string.format("%s: %s: sample '%s' is not an object", where, path, name), 0) end
    local spec = { name = name }
    if e.measured or e.descriptors then
      spec.measured = e.measured ~= json.null and e.measured or nil
      spec.descriptors = e.descriptors ~= json.null and e.descriptors or nil
      if e.units and e.units ~= json.null then spec.units = e.units end
    else
      spec.measured = {}
      for k, v in pairs(e) do
        if k ~= "name" then spec.measured[k] = v end
      end
    end
    list[#list + 1] = sample_from_spec(spec, where .. ": " .. path, type(materials) == "table" and materials or nil)
  end
  return list, { source = path, description = type(t.source) == "string" and t.source or nil,
                 materials = type(materials) == "table" and materials or nil }
end

-- RFC 4180 CSV: quoted fields with "" escapes, commas, CRLF or LF.
local function parse_csv(text, where)
  local rows, row, field, i, n = {}, {}, {}, 1, #text
  local quoted = false
  while i <= n do
    local c = text:sub(i, i)
    if quoted then
      if c == '"' then
        if text:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 1 else quoted = false end
      else
        field[#field + 1] = c
      end
    elseif c == '"' then
      quoted = true
    elseif c == "," then
      row[#row + 1] = table.concat(field); field = {}
    elseif c == "\n" or c == "\r" then
      if c == "\r" and text:sub(i + 1, i + 1) == "\n" then i = i + 1 end
      row[#row + 1] = table.concat(field); field = {}
      rows[#rows + 1] = row; row = {}
    else
      field[#field + 1] = c
    end
    i = i + 1
  end
  if quoted then error(where .. ": unterminated quoted field", 0) end
  if #field > 0 or #row > 0 then
    row[#row + 1] = table.concat(field)
    rows[#rows + 1] = row
  end
  local out = {}
  for _, r in ipairs(rows) do
    if not (#r == 1 and r[1]:match("^%s*$")) and not (r[1] or ""):match("^#") then out[#out + 1] = r end
  end
  return out
end

local function load_csv(path, where)
  local rows = parse_csv(read_file(path, where), where .. ": " .. path)
  if #rows < 1 then error(string.format("%s: %s: empty CSV (expected a header row)", where, path), 0) end
  local header = rows[1]
  local name_col = 1
  for j, h in ipairs(header) do
    local l = h:lower():match("^%s*(.-)%s*$")
    if l == "name" or l == "sample" then name_col = j break end
  end
  local cols = {}
  for j, h in ipairs(header) do
    if j ~= name_col then
      local head = h:match("^%s*(.-)%s*$")
      local key, unit = head:match("^(.-)%s*%[(.*)%]$")
      key = key or head
      if unit and not UNITS[unit] then
        error(string.format("%s: %s: column '%s': unknown unit '%s' (known: %s)", where, path, head, unit, known_units()), 0)
      end
      local cat, rest = key:match("^(%a+)%.(.+)$")
      if cat ~= "measured" and cat ~= "descriptors" and cat ~= "derived" then cat, rest = "measured", key end
      if rest == "" then error(string.format("%s: %s: column %d has no name", where, path, j), 0) end
      cols[j] = { cat = cat, key = rest, unit = unit, head = head }
    end
  end
  local list = {}
  for i = 2, #rows do
    local r = rows[i]
    if #r ~= #header then
      error(string.format("%s: %s: line %d has %d fields, the header has %d", where, path, i, #r, #header), 0)
    end
    local name = r[name_col]:match("^%s*(.-)%s*$")
    if name == "" then error(string.format("%s: %s: line %d has no sample name", where, path, i), 0) end
    local spec = { name = name, measured = {}, descriptors = {} }
    for j, col in pairs(cols) do
      local cell = r[j]:match("^%s*(.-)%s*$")
      local lc = cell:lower()
      if not (cell == "" or lc == "na" or lc == "nan" or lc == "null" or cell == "-") then
        local v = tonumber(cell)
        if col.unit then
          if not v then
            error(string.format("%s: %s: line %d, column '%s': '%s' is not a number", where, path, i, col.head, cell), 0)
          end
          v = { v, col.unit }
        elseif not v then
          v = cell -- may be "0.05 mS/cm"; read_value checks it
        end
        if col.cat == "descriptors" then
          if type(v) ~= "number" then
            error(string.format("%s: %s: line %d, column '%s': '%s' is not a number", where, path, i, col.head, cell), 0)
          end
          spec.descriptors[col.key] = v
        elseif col.cat == "measured" then
          spec.measured[col.key] = v
        end
      elseif col.cat == "measured" then
        spec.measured[col.key] = json.null
      end
    end
    local ok, s = pcall(sample_from_spec, spec, string.format("%s: %s: line %d", where, path, i))
    if not ok then error(s, 0) end
    list[#list + 1] = s
  end
  return list, { source = path }
end

local function load_path(path, where)
  if path:lower():match("%.json$") then return load_json(path, where) end
  if path:lower():match("%.csv$") then return load_csv(path, where) end
  error(string.format("%s: %s: expected a .json or .csv file", where, path), 0)
end

-- ---------------------------------------------------------------- derived values

-- Eq. 2 and Eq. 3 live with the transport module (tg.transport.sigma_from_resistance, tg.transport.kappa);
-- they are offered here too because sample tables derive them.
local transport = require "tortuga.transport"
M.sigma_from_resistance = transport.sigma_from_resistance
M.kappa = transport.kappa

--- d50 of a size distribution {size = {...}, cumulative = {...}} (cumulative fraction, 0..1 or 0..100) or
-- {size = {...}, fraction = {...}} (fraction per size class; classes end at the given sizes), linear interpolation.
function M.d50(psd, where)
  where = where or "tg.analysis.d50"
  util.check(type(psd) == "table" and type(psd.size) == "table", where, "expected {size = {...}, cumulative|fraction = {...}}")
  local size, cum = psd.size, psd.cumulative
  if not cum then
    util.check(type(psd.fraction) == "table", where, "expected cumulative = {...} or fraction = {...}")
    cum = {}
    local acc = 0
    for i, f in ipairs(psd.fraction) do acc = acc + f; cum[i] = acc end
  end
  util.check(#size == #cum and #size >= 2, where, "size and the distribution need the same length >= 2 (%d, %d)", #size, #cum)
  local top = cum[#cum]
  util.check(is_finite(top) and top > 0, where, "the distribution sums to %s", tostring(top))
  local half = 0.5 * top
  for i = 1, #size do
    util.check(is_finite(size[i]) and (i == 1 or (size[i] > size[i - 1] and cum[i] >= cum[i - 1])), where,
      "sizes must increase and the cumulative distribution must not decrease (entry %d)", i)
  end
  if cum[1] >= half then return size[1] end
  for i = 2, #size do
    if cum[i] >= half then
      local t = (half - cum[i - 1]) / (cum[i] - cum[i - 1])
      return size[i - 1] + t * (size[i] - size[i - 1])
    end
  end
  return size[#size]
end

local DEFAULT_PHASES = { pore = 0, cam = 1, ise = 2 }

local function pair_key(a, b)
  if a > b then a, b = b, a end
  return a .. "-" .. b
end

-- the value of a derivation input: a number, or a variable name looked up in the sample
local function input(S, s, spec)
  if type(spec) == "number" then return spec end
  if type(spec) == "string" then
    local ok, v = pcall(S.value, S, s, spec)
    if ok then return v end
  end
  return nil
end

local function first(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if is_finite(v) then return v end
  end
  return nil
end

local function derive_one(S, s, o)
  local d, m, desc = {}, s.measured, s.descriptors
  local units, notes = {}, {}
  s.derived, s.derived_units = d, units
  local phases = s.phases or o.phases or DEFAULT_PHASES
  local cam, ise, pore = phases.cam, phases.ise, phases.pore
  -- Eq. 2
  local area = m.area
  for _, cc in ipairs { "el", "ion" } do
    local R, l = m["R_" .. cc], m["thickness_" .. cc] or m.thickness
    local layers = m["layers_" .. cc] or (cc == "ion" and o.layers_ion or o.layers_el)
    if R and l and area then
      d["sigma_" .. cc .. "_eq2"] = M.sigma_from_resistance { R = R, thickness = l, area = area, layers = layers }
      units["sigma_" .. cc .. "_eq2"] = "S/m"
    end
  end
  -- Eq. 3
  local phi_ise = first(input(S, s, o.phi_ise), m.ise_vol_frac, m.segmented_ise_vol_frac, ise and desc["fractions.by_name.ise"],
    ise and desc["fractions." .. ise])
  local phi_cam = first(input(S, s, o.phi_cam), m.cam_vol_frac, m.segmented_cam_vol_frac, cam and desc["fractions.by_name.cam"],
    cam and desc["fractions." .. cam])
  for _, t in ipairs { { "ion", phi_ise }, { "el", phi_cam } } do
    local cc, phi = t[1], t[2]
    local bulk, eff = m["sigma_" .. cc .. "_bulk"], first(m["sigma_" .. cc .. "_eff"], d["sigma_" .. cc .. "_eq2"])
    if bulk and eff and phi and bulk > 0 and eff > 0 and phi > 0 and phi <= 1 then
      d["kappa_" .. cc .. "_eq3"] = bulk / eff * phi
      units["kappa_" .. cc .. "_eq3"] = "1"
    end
  end
  d.phi_ise, d.phi_cam = phi_ise, phi_cam
  -- coverage of CAM by ISE
  local css = m.cam_specific_surface
  if css and css > 0 then
    if m.S_cam_ise then d.coverage = m.S_cam_ise / css end
    if m.S_cam_pore then d.coverage_pore = m.S_cam_pore / css end
    if cam and ise then
      local pg = desc["surfaces.specific.per_gram.interfaces." .. pair_key(cam, ise)]
      if pg then d.coverage_microstructure = pg / css end
    end
  end
  if cam and ise then
    local sci, sc = desc["surfaces.interfaces." .. pair_key(cam, ise)], desc["surfaces.phases." .. cam]
    if sci and sc and sc > 0 then d.coverage_geometric = sci / sc end
  end
  for _, k in ipairs { "coverage", "coverage_pore", "coverage_microstructure", "coverage_geometric" } do
    if d[k] then units[k] = "1" end
  end
  -- lambda
  local dc, di = m.cam_d50, m.ise_d50
  if not dc and s.psd.cam_psd then dc = M.d50(s.psd.cam_psd, "sample '" .. s.name .. "': cam_psd") end
  if not di and s.psd.ise_psd then di = M.d50(s.psd.ise_psd, "sample '" .. s.name .. "': ise_psd") end
  if dc and di and di > 0 then d.lambda, units.lambda = dc / di, "1" end
  local tc = first(input(S, s, o.d_cam), desc["thickness.cam.d50"], desc["thickness_cam.d50"])
  local ti = first(input(S, s, o.d_ise), desc["thickness.ise.d50"], desc["thickness_ise.d50"])
  if tc and ti and ti > 0 then d.lambda_thickness, units.lambda_thickness = tc / ti, "1" end
  if d.phi_ise then units.phi_ise = "1" end
  if d.phi_cam then units.phi_cam = "1" end
  s.derive_notes = notes
end

local DERIVE_DEFAULTS = { phi_ise = NIL, phi_cam = NIL, d_cam = NIL, d_ise = NIL, phases = NIL, layers_ion = 2, layers_el = 1 }

--- Recompute the derived values of every sample (see the header for the options).
function Samples:derive(opts)
  local o = util.options(opts, DERIVE_DEFAULTS, "tg.analysis.samples derive")
  self.derive_opts = o
  for _, s in ipairs(self.list) do derive_one(self, s, o) end
  return self
end

-- ---------------------------------------------------------------- the sample set

local CATEGORIES = { "derived", "measured", "descriptors" }

function Samples:get(name)
  if type(name) == "table" then return name end
  return self.by_name[tostring(name)]
end

function Samples:names()
  local t = {}
  for i, s in ipairs(self.list) do t[i] = s.name end
  return t
end

Samples.__len = function(self) return #self.list end

--- The value of variable `var` for sample `s` (name or sample table), or nil when missing.
function Samples:value(s, var)
  local where = "tg.analysis"
  local sample = self:get(s)
  if not sample then error(string.format("%s: no sample named '%s'", where, tostring(s)), 2) end
  if type(var) == "function" then return var(sample) end
  if type(var) ~= "string" then error(where .. ": a variable is a name or a function(sample), got " .. type(var), 2) end
  local cat, rest = var:match("^(%a+)%.(.+)$")
  if cat == "derived" or cat == "measured" or cat == "descriptors" then return sample[cat][rest] end
  local found, where_found = nil, {}
  for _, c in ipairs(CATEGORIES) do
    local v = sample[c][var]
    if v ~= nil then
      if found ~= nil and v ~= found then
        error(string.format("%s: '%s' is ambiguous for sample '%s': %s.%s = %s and %s.%s = %s (qualify the name)", where,
          var, sample.name, where_found[1], var, tostring(found), c, var, tostring(v)), 2)
      end
      found = found == nil and v or found
      where_found[#where_found + 1] = c
    end
  end
  if found == nil and sample.given[var] then return sample.given[var].value end
  return found
end

--- Whether any sample knows `var` (even as missing).
function Samples:has(var)
  if type(var) == "function" then return true end
  for _, s in ipairs(self.list) do
    if self:value(s, var) ~= nil or s.missing[var] or s.missing[(var:gsub("^measured%.", ""))] then return true end
  end
  return false
end

--- The unit of a variable (from the first sample that has one), or nil.
function Samples:unit(var)
  if type(var) ~= "string" then return nil end
  local rest = var:match("^%a+%.(.+)$")
  for _, s in ipairs(self.list) do
    local u = s.units[var] or (s.derived_units or {})[var] or (rest and (s.units[rest] or (s.derived_units or {})[rest]))
    if u then return u end
  end
  return nil
end

--- All variable names, qualified ("measured.x", ...), sorted.
function Samples:variables()
  local seen = {}
  for _, s in ipairs(self.list) do
    for _, c in ipairs(CATEGORIES) do
      for k in pairs(s[c]) do seen[c .. "." .. k] = true end
    end
    for k in pairs(s.missing) do seen["measured." .. k] = true end
  end
  return util.sorted_keys(seen)
end

--- Add one sample ({name = ..., descriptors = ..., measured = ...}) or merge it into the sample of that name.
function Samples:add(spec)
  if type(spec) ~= "table" or is_samples(spec) then
    error("tg.analysis: add expects one sample {name = ..., descriptors = ..., measured = ...} (use merge for a set)", 2)
  end
  local ok, new = pcall(sample_from_spec, spec, "tg.analysis.samples")
  if not ok then error(new, 2) end
  self:_merge_sample(new)
  if self.derive_opts then derive_one(self, self.by_name[new.name], self.derive_opts) end
  return self
end

function Samples:_merge_sample(new)
  local old = self.by_name[new.name]
  if not old then
    self.list[#self.list + 1] = new
    self.by_name[new.name] = new
    return
  end
  for _, field in ipairs { "descriptors", "results", "units", "given", "ranges", "psd" } do
    for k, v in pairs(new[field]) do old[field][k] = v end
  end
  for k, v in pairs(new.measured) do old.measured[k], old.missing[k] = v, nil end
  for k in pairs(new.missing) do
    if old.measured[k] == nil then old.missing[k] = true end
  end
  if #new.images > 0 then old.images = new.images end
  old.phases = new.phases or old.phases
  old.label = new.label or old.label
end

--- Merge another sample set (or a path / list) by sample name; returns self.
function Samples:merge(other)
  if not is_samples(other) then other = M.samples(other) end
  for _, s in ipairs(other.list) do self:_merge_sample(s) end
  return self:derive(self.derive_opts)
end

--- A plain table for JSON: {samples = {name = {descriptors, measured, derived, units, missing, ranges}}, source}.
function Samples:table()
  local out = {}
  for _, s in ipairs(self.list) do
    local missing = util.sorted_keys(s.missing)
    out[s.name] = { descriptors = s.descriptors, measured = s.measured, derived = s.derived,
                    units = s.units, derived_units = s.derived_units, ranges = s.ranges,
                    missing = #missing > 0 and missing or nil }
  end
  return { samples = out, order = self:names(), source = self.source, units_convention =
    "measured values in S/m, m, m2, m2/g, mAh/g, ohm, Pa (converted from the units given); descriptors as tortuga returns them (SI)" }
end

function Samples:write_json(path)
  local ok, err = json.write(path, self:table())
  if not ok then error("tg.analysis.write_json: " .. err, 2) end
  return path
end

local function csv_field(v)
  if v == nil then return "" end
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.10g", v)
  end
  v = tostring(v)
  if v:find('[,"\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

local function write_text(path, text, where)
  local tmp = string.format("%s.%d.tmp", path, math.random(0, 0x7fffffff))
  local f, err = io.open(tmp, "wb")
  if not f then error(string.format("%s: %s", where, err), 3) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    error(string.format("%s: %s: %s", where, path, tostring(werr or cerr)), 3)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    error(string.format("%s: %s", where, tostring(rerr)), 3)
  end
  return path
end
M._write_text = write_text

function Samples:csv(columns)
  columns = columns or self:variables()
  local head = { "name" }
  for _, c in ipairs(columns) do
    local u = self:unit(c)
    head[#head + 1] = csv_field(u and u ~= "1" and string.format("%s [%s]", c, u) or c)
  end
  local lines = { table.concat(head, ",") }
  for _, s in ipairs(self.list) do
    local row = { csv_field(s.name) }
    for _, c in ipairs(columns) do row[#row + 1] = csv_field(self:value(s, c)) end
    lines[#lines + 1] = table.concat(row, ",")
  end
  return table.concat(lines, "\n") .. "\n"
end

function Samples:write_csv(path, columns)
  return write_text(path, self:csv(columns), "tg.analysis.write_csv")
end

function Samples:__tostring()
  local lines = { string.format("tortuga.Samples(%d: %s)", #self.list, table.concat(self:names(), ", ")) }
  for _, s in ipairs(self.list) do
    local nd, nm, nv = 0, 0, 0
    for _ in pairs(s.descriptors) do nd = nd + 1 end
    for _ in pairs(s.measured) do nm = nm + 1 end
    for _ in pairs(s.derived) do nv = nv + 1 end
    local miss = util.sorted_keys(s.missing)
    lines[#lines + 1] = string.format("  %-12s %3d descriptors, %3d measured, %2d derived%s", s.name, nd, nm, nv,
      #miss > 0 and (", missing: " .. table.concat(miss, ", ")) or "")
  end
  return table.concat(lines, "\n")
end

--- tg.analysis.samples(spec [, {derive = {...}}]): a sample set (see the header).
function M.samples(spec, opts)
  local where = "tg.analysis.samples"
  local o = util.options(opts, { derive = NIL }, where)
  local S = setmetatable({ list = {}, by_name = {}, sources = {} }, Samples)
  local derive = o.derive
  local function add_list(list, meta)
    for _, s in ipairs(list) do S:_merge_sample(s) end
    if meta then S.sources[#S.sources + 1] = meta.source; S.source = S.source or meta.description or meta.source end
  end
  if type(spec) == "string" then
    local ok, list, meta = pcall(load_path, spec, where)
    if not ok then error(list, 2) end
    add_list(list, meta)
  elseif is_samples(spec) then
    for _, s in ipairs(spec.list) do S:_merge_sample(s) end
  elseif type(spec) == "table" then
    for k in pairs(spec) do
      if not (math.type(k) == "integer" or k == "measured" or k == "derive" or k == "materials") then
        error(string.format("%s: unknown key '%s' (a list of samples, measured = path|table, derive = {...}, materials = {...})",
          where, tostring(k)), 2)
      end
    end
    local ok, err = pcall(function()
      for i, e in ipairs(spec) do
        if is_samples(e) then
          for _, s in ipairs(e.list) do S:_merge_sample(s) end
        else
          S:_merge_sample(sample_from_spec(e, string.format("%s: [%d]", where, i), spec.materials))
        end
      end
      if spec.measured ~= nil then
        local m = spec.measured
        if type(m) == "string" then
          add_list(load_path(m, where))
        elseif is_samples(m) then
          for _, s in ipairs(m.list) do S:_merge_sample(s) end
        elseif type(m) == "table" then
          for name, vals in pairs(m) do
            S:_merge_sample(sample_from_spec({ name = name, measured = vals }, where .. ": measured", spec.materials))
          end
        else
          error(where .. ": measured must be a path, a sample set or a table {name = {key = value}}", 0)
        end
      end
    end)
    if not ok then error(err, 2) end
    derive = derive or spec.derive
  else
    error(string.format("%s: expected a list of samples, a .json/.csv path or a sample set, got %s", where, type(spec)), 2)
  end
  local ok, err = pcall(S.derive, S, derive)
  if not ok then error(tostring(err):gsub("^.-:%d+: ", ""), 2) end
  return S
end

-- ---------------------------------------------------------------- statistics

local function mean(xs)
  local s = 0
  for i = 1, #xs do s = s + xs[i] end
  return s / #xs
end

local function centred(xs)
  local m, c, ss = mean(xs), {}, 0
  for i = 1, #xs do c[i] = xs[i] - m; ss = ss + c[i] * c[i] end
  return c, ss
end

--- Ranks with ties averaged (scipy.stats.rankdata, method "average").
function M.ranks(xs)
  local idx = {}
  for i = 1, #xs do idx[i] = i end
  table.sort(idx, function(a, b) if xs[a] ~= xs[b] then return xs[a] < xs[b] end return a < b end)
  local r, i = {}, 1
  while i <= #idx do
    local j = i
    while j < #idx and xs[idx[j + 1]] == xs[idx[i]] do j = j + 1 end
    local avg = 0.5 * (i + j)
    for k = i, j do r[idx[k]] = avg end
    i = j + 1
  end
  return r
end

M.t_sf = C.t_sf
M.betainc = C.betainc
--- Seconds of a monotonic wall clock (for stage timings).
M.clock = C.clock

-- r from centred values and their sums of squares
local function r_of(xc, xss, yc, yss)
  local s = 0
  for i = 1, #xc do s = s + xc[i] * yc[i] end
  return math.max(-1.0, math.min(1.0, s / math.sqrt(xss * yss)))
end

-- p of the t-distribution for a correlation coefficient r with n samples (scipy's pearsonr / spearmanr)
local function p_t(r, n)
  local df = n - 2
  if math.abs(r) >= 1 then return 0.0 end
  return C.betainc(0.5 * df, 0.5, 1 - r * r)
end

-- Exact two-sided permutation p (scipy.stats.permutation_test, permutation_type = "pairings"): all n!
-- orderings of y (Heap's algorithm), p = min(1, 2 min(P(null <= obs), P(null >= obs))) with scipy's tolerance.
local function p_exact(xc, xss, yc, yss, obs)
  local n = #yc
  local y, c = {}, {}
  for i = 1, n do y[i] = yc[i]; c[i] = 1 end
  local x, den = xc, math.sqrt(xss * yss)
  local gamma = math.max(1e-14, math.abs(1e-14 * obs))
  local less, greater, total = 0, 0, 0
  local function visit()
    local s = 0
    for i = 1, n do s = s + x[i] * y[i] end
    s = s / den
    if s <= obs + gamma then less = less + 1 end
    if s >= obs - gamma then greater = greater + 1 end
    total = total + 1
  end
  visit()
  local i = 1
  while i <= n do
    if c[i] < i then
      if i % 2 == 1 then y[1], y[i] = y[i], y[1] else y[c[i]], y[i] = y[i], y[c[i]] end
      visit()
      c[i] = c[i] + 1
      i = 1
    else
      c[i] = 1
      i = i + 1
    end
  end
  return math.min(1.0, 2 * math.min(less / total, greater / total))
end

local function check_pair(xs, ys, where)
  util.check(type(xs) == "table" and type(ys) == "table", where, "expected two lists of numbers")
  util.check(#xs == #ys, where, "the lists differ in length (%d and %d)", #xs, #ys)
  for i = 1, #xs do
    util.check(is_finite(xs[i]), where, "x[%d] is not a finite number (%s)", i, tostring(xs[i]))
    util.check(is_finite(ys[i]), where, "y[%d] is not a finite number (%s)", i, tostring(ys[i]))
  end
end

local function correlation(xs, ys, permutation, what)
  local n = #xs
  local out, notes = {}, {}
  if n < 3 then
    notes[#notes + 1] = string.format("%s: %d samples; at least 3 are needed for a coefficient with a p-value", what, n)
    return out, notes
  end
  local xc, xn = centred(xs)
  local yc, yn = centred(ys)
  if xn == 0 or yn == 0 then
    notes[#notes + 1] = string.format("%s: %s constant: the coefficient is undefined", what,
      xn == 0 and (yn == 0 and "x and y are" or "x is") or "y is")
    return out, notes
  end
  local r = r_of(xc, xn, yc, yn)
  out.r, out.p_t = r, p_t(r, n)
  local exact = permutation == true or (permutation == "auto" and n <= 8)
  if exact then
    util.check(n <= 10, "tg.analysis", "an exact permutation test over %d! orderings is too long (N <= 10)", n)
    out.p_exact = p_exact(xc, xn, yc, yn, r)
    local orderings = 1
    for k = 2, n do orderings = orderings * k end
    out.p, out.method = out.p_exact, string.format("exact permutation test (%d orderings)", orderings)
  else
    out.p, out.method = out.p_t, "t-distribution, df = " .. (n - 2)
  end
  out.n = n
  return out, notes
end

--- Pearson's r with p-values: {r, p, p_t, p_exact, method, n} (empty with notes when undefined).
function M.pearson(xs, ys, opts)
  check_pair(xs, ys, "tg.analysis.pearson")
  local o = util.options(opts, { permutation = "auto" }, "tg.analysis.pearson")
  return correlation(xs, ys, o.permutation, "pearson")
end

--- Spearman's rho (Pearson on average ranks) with p-values: {rho, p, p_t, p_exact, method, n}.
function M.spearman(xs, ys, opts)
  check_pair(xs, ys, "tg.analysis.spearman")
  local o = util.options(opts, { permutation = "auto" }, "tg.analysis.spearman")
  local r, notes = correlation(M.ranks(xs), M.ranks(ys), o.permutation, "spearman")
  r.rho, r.r = r.r, nil
  return r, notes
end

--- Linear least squares with standard errors (core.analysis.lstsq: LAPACKE QR). X: rows or one list.
function M.lstsq(X, y, opts)
  local o = util.options(opts, { intercept = true }, "tg.analysis.lstsq")
  local r = C.lstsq(X, y, o.intercept) -- misuse raises with the C message ("lstsq: ...") as it is
  return r
end

local function fit_line(xs, ys)
  local notes = {}
  if #xs < 3 then
    notes[1] = string.format("fit: %d samples; a line with standard errors needs at least 3", #xs)
    return {}, notes
  end
  local ok, r = pcall(C.lstsq, xs, ys, true)
  if not ok then
    notes[1] = "fit: " .. tostring(r)
    return {}, notes
  end
  return { slope = r.coef[2], intercept = r.coef[1], se = r.se[2], se_intercept = r.se[1], r2 = r.r2, rss = r.rss,
           sigma2 = r.sigma2, df = r.df, cov = r.cov }, notes
end

local function var_name(v, i)
  if type(v) == "string" then return v end
  return "f" .. i
end

local function correlate_pair(S, xv, yv, o, where)
  local xs, ys, used, excluded = {}, {}, {}, {}
  for _, s in ipairs(S.list) do
    local okx, x = pcall(S.value, S, s, xv)
    if not okx then error(where .. ": " .. tostring(x):gsub("^.-: ", ""), 0) end
    local oky, y = pcall(S.value, S, s, yv)
    if not oky then error(where .. ": " .. tostring(y):gsub("^.-: ", ""), 0) end
    if is_finite(x) and is_finite(y) then
      xs[#xs + 1], ys[#ys + 1], used[#used + 1] = x, y, s.name
    else
      excluded[#excluded + 1] = s.name
    end
  end
  local res = { x = var_name(xv, 1), y = var_name(yv, 2), n = #xs, samples = used, excluded = excluded,
                data = { x = xs, y = ys, samples = used }, notes = {},
                units = { x = S:unit(xv), y = S:unit(yv) } }
  if #excluded > 0 then
    res.notes[#res.notes + 1] = string.format("excluded (missing %s or %s): %s", res.x, res.y, table.concat(excluded, ", "))
  end
  local function add(notes) for _, n in ipairs(notes) do res.notes[#res.notes + 1] = n end end
  local pn
  res.pearson, pn = correlation(xs, ys, o.permutation, "pearson"); add(pn)
  local sp, sn = correlation(M.ranks(xs), M.ranks(ys), o.permutation, "spearman"); add(sn)
  sp.rho, sp.r = sp.r, nil
  res.spearman = sp
  if o.fit then
    local f, fn = fit_line(xs, ys); add(fn)
    res.fit = f
  end
  return res
end

local function as_samples(samples, where)
  if is_samples(samples) then return samples end
  if type(samples) == "table" then
    local ok, S = pcall(M.samples, samples)
    if ok then return S end
    error(where .. ": " .. tostring(S):gsub("^.-:%d+: ", ""), 3)
  end
  error(where .. ": expected a sample set (tg.analysis.samples) or a list of samples", 3)
end

--- Correlations between variables of a sample set (see the header).
function M.correlate(samples, opts)
  local where = "tg.analysis.correlate"
  local o = util.options(opts, { x = NIL, y = NIL, permutation = "auto", fit = true }, where)
  util.check(o.x ~= nil and o.y ~= nil, where, "give x = variable and y = variable (names, functions or lists of names)")
  util.check(o.permutation == "auto" or o.permutation == true or o.permutation == false, where,
    "permutation must be \"auto\", true or false, got %s", tostring(o.permutation))
  local S = as_samples(samples, where)
  util.check(#S.list > 0, where, "the sample set is empty")
  local function check_var(v, axis)
    util.check(type(v) == "string" or type(v) == "function", where, "%s must be a variable name or a function, got %s", axis, type(v))
    if type(v) == "string" and not S:has(v) then
      local names = {}
      for _, q in ipairs(S:variables()) do names[#names + 1] = q; names[#names + 1] = q:match("^%a+%.(.+)$") end
      local hint = util.suggest(v, names)
      error(string.format("%s: %s = '%s' is not a variable of any sample%s", where, axis, v,
        hint and (" (did you mean '" .. hint .. "'?)") or ""), 3)
    end
  end
  local xl = type(o.x) == "table" and o.x or nil
  local yl = type(o.y) == "table" and o.y or nil
  if not xl and not yl then
    check_var(o.x, "x"); check_var(o.y, "y")
    local ok, r = pcall(correlate_pair, S, o.x, o.y, o, where)
    if not ok then error(r, 2) end
    return r
  end
  xl, yl = xl or { o.x }, yl or { o.y }
  for i, v in ipairs(xl) do check_var(v, "x[" .. i .. "]") end
  for i, v in ipairs(yl) do check_var(v, "y[" .. i .. "]") end
  local m = { x = {}, y = {}, pairs = {}, pearson = { r = {}, p = {} }, spearman = { rho = {}, p = {} }, n = {},
              fit = { slope = {}, se = {} }, kind = "matrix" }
  for i, xv in ipairs(xl) do m.x[i] = var_name(xv, i) end
  for j, yv in ipairs(yl) do m.y[j] = var_name(yv, j) end
  local null = json.null
  for i, xv in ipairs(xl) do
    local xn = m.x[i]
    m.pairs[xn] = m.pairs[xn] or {}
    m.pearson.r[i], m.pearson.p[i], m.spearman.rho[i], m.spearman.p[i], m.n[i] = {}, {}, {}, {}, {}
    m.fit.slope[i], m.fit.se[i] = {}, {}
    for j, yv in ipairs(yl) do
      local ok, r = pcall(correlate_pair, S, xv, yv, o, where)
      if not ok then error(r, 2) end
      m.pairs[xn][m.y[j]] = r
      m.pearson.r[i][j], m.pearson.p[i][j] = r.pearson.r or null, r.pearson.p or null
      m.spearman.rho[i][j], m.spearman.p[i][j] = r.spearman.rho or null, r.spearman.p or null
      m.n[i][j] = r.n
      m.fit.slope[i][j], m.fit.se[i][j] = (r.fit or {}).slope or null, (r.fit or {}).se or null
    end
  end
  return m
end

--- The correlation matrix of `names` against themselves.
function M.matrix(samples, names, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.x, o.y = names, names
  return M.correlate(samples, o)
end

-- ---------------------------------------------------------------- CSV export

local CORR_HEAD = { "x", "y", "n", "pearson_r", "pearson_p", "pearson_p_t", "pearson_p_exact", "spearman_rho", "spearman_p",
                    "spearman_p_t", "spearman_p_exact", "slope", "slope_se", "intercept", "intercept_se", "r2", "excluded", "notes" }

local function corr_row(r)
  local p, s, f = r.pearson or {}, r.spearman or {}, r.fit or {}
  return { r.x, r.y, r.n, p.r, p.p, p.p_t, p.p_exact, s.rho, s.p, s.p_t, s.p_exact, f.slope, f.se, f.intercept,
           f.se_intercept, f.r2, table.concat(r.excluded or {}, ";"), table.concat(r.notes or {}, "; ") }
end

--- CSV text of a correlation result (one pair, a matrix, or a list of results).
function M.correlations_csv(res)
  local rows = {}
  local function add(r) rows[#rows + 1] = corr_row(r) end
  if res.kind == "matrix" then
    for _, xn in ipairs(res.x) do
      for _, yn in ipairs(res.y) do add(res.pairs[xn][yn]) end
    end
  elseif res.pearson then
    add(res)
  else
    for _, r in ipairs(res) do add(r) end
  end
  local lines = { table.concat(CORR_HEAD, ",") }
  for _, r in ipairs(rows) do
    local f = {}
    for i = 1, #CORR_HEAD do f[i] = csv_field(r[i]) end
    lines[#lines + 1] = table.concat(f, ",")
  end
  return table.concat(lines, "\n") .. "\n"
end

--- Write a sample set or correlation results as CSV (temporary name, then renamed).
function M.write_csv(path, what, columns)
  local where = "tg.analysis.write_csv"
  util.check(type(path) == "string" and path ~= "", where, "expected a file path")
  if is_samples(what) then return write_text(path, what:csv(columns), where) end
  util.check(type(what) == "table", where, "expected a sample set or correlation results")
  return write_text(path, M.correlations_csv(what), where)
end

-- ---------------------------------------------------------------- the paper's measured values, stage timings

-- The values Minnmann et al. (2024) state in their text, for when the reference file is not beside the checkout
-- (the file ../shared/reference/minnmann2024-measured.json holds these and more, with their sources).
local PAPER_VALUES = {
  BM10 = { ise_d50 = "7.41 um", S_cam_ise = "0.11 m2/g", kappa_ion_exp = 15, discharge_capacity_0p1C = "92 mAh/g",
           cam_utilization_initial = 0.62, sigma_ion_eff = "0.05 mS/cm", sigma_ion_bulk = "2.0 mS/cm",
           cam_specific_surface = "0.5 m2/g" },
  BM03 = { ise_d50 = "4.93 um", S_cam_ise = "0.24 m2/g", kappa_ion_exp = 6, discharge_capacity_0p1C = "156 mAh/g",
           cam_utilization_initial = 0.77, sigma_ion_eff = "0.11 mS/cm", sigma_ion_bulk = "1.7 mS/cm",
           cam_specific_surface = "0.5 m2/g" },
  BM01 = { ise_d50 = "5.93 um", S_cam_ise = "0.24 m2/g", kappa_ion_exp = 6, discharge_capacity_0p1C = "152 mAh/g",
           cam_utilization_initial = 0.77, sigma_ion_bulk = "1.6 mS/cm", cam_specific_surface = "0.5 m2/g" },
}

--- The paper's measured values: the path of minnmann2024-measured.json when it is found (the environment's
-- TG_SHARED_DATA/../reference, ../shared/reference beside the working directory or beside `script`), else a
-- table of the values the paper's text gives. Returns value, description. search = false: the table, always.
function M.paper_reference(script, search)
  local candidates = {}
  if search == false then script = nil end
  local data = os.getenv("TG_SHARED_DATA")
  if data then candidates[#candidates + 1] = data .. "/../reference/minnmann2024-measured.json" end
  local here = script and script:match("^(.*)/[^/]*$")
  if here then candidates[#candidates + 1] = here .. "/../../shared/reference/minnmann2024-measured.json" end
  candidates[#candidates + 1] = "../shared/reference/minnmann2024-measured.json"
  if search == false then candidates = {} end
  for _, c in ipairs(candidates) do
    local f = io.open(c, "rb")
    if f then f:close() return c, c end
  end
  local copy = {}
  for name, v in pairs(PAPER_VALUES) do
    copy[name] = {}
    for k, x in pairs(v) do copy[name][k] = x end
  end
  return copy, "the paper's numbers built into tg.analysis"
end

--- A stopwatch for the stages of a workflow: sw:time(stage, f, ...) runs f and adds its wall time to the stage;
-- sw.timings = { {stage = ..., seconds = ...}, ... } in first-use order (what tg.report.html takes);
-- sw:total() is the sum; sw.log = function(stage, seconds) is called after each run when set.
function M.stopwatch(log)
  local sw = { timings = {}, log = log }
  function sw:time(stage, f, ...)
    local t0 = C.clock()
    local r = table.pack(f(...))
    local dt = C.clock() - t0
    local found
    for _, t in ipairs(self.timings) do
      if t.stage == stage then t.seconds = t.seconds + dt; found = true end
    end
    if not found then self.timings[#self.timings + 1] = { stage = stage, seconds = dt } end
    if self.log then self.log(stage, dt) end
    return table.unpack(r, 1, r.n)
  end
  function sw:total()
    local s = 0
    for _, t in ipairs(self.timings) do s = s + t.seconds end
    return s
  end
  return sw
end

return M
