--- tortuga.analysis.samples — the sample set: samples with descriptors (result tables flattened to dotted names),
-- measured cell data (converted to canonical units) and derived values, looked up by variable name, merged by
-- sample name, written as JSON and CSV. Part of tg.analysis (the manual is lua/tortuga/analysis.lua).
--
--   samples.samples(spec [, {derive = {...}}]) --> a sample set (tortuga.Samples);  samples.is_samples(x)
--   S:get(name), S:names(), S:value(sample, var), S:has(var), S:unit(var), S:variables(), S:add(spec),
--   S:merge(other), S:derive(opts), S:table(), S:write_json(path), S:csv([columns]), S:write_csv(path [, columns])
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local json = require "tortuga.json"
local units = require "tortuga.analysis.units"
local files = require "tortuga.analysis.files"
local derive = require "tortuga.analysis.derive"

local M = {}
local NIL = util.NIL
local is_finite = units.is_finite
local csv_field, write_text = files.csv_field, files.write_text

local Samples = {}
Samples.__index = Samples
Samples.__name = "tortuga.Samples"

local function is_samples(x) return getmetatable(x) == Samples end
M.is_samples = is_samples

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

-- Store the measured entry `key` = raw into sample s.
local function set_measured(s, key, raw, where)
  local name, key_unit = units.strip_suffix(key)
  if type(raw) == "table" and raw ~= json.null and (raw.size or raw.cumulative or raw.fraction) then
    s.psd[name] = raw
    return
  end
  local ok, v, unit, range = pcall(units.read_value, raw, key_unit, string.format("%s: measured '%s'", where, key))
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

--- Recompute the derived values of every sample (see the header for the options).
function Samples:derive(opts)
  local o = util.options(opts, derive.OPTIONS, "tg.analysis.samples derive")
  self.derive_opts = o
  for _, s in ipairs(self.list) do derive.one(self, s, o) end
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
  if self.derive_opts then derive.one(self, self.by_name[new.name], self.derive_opts) end
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
    local ok, list, meta = pcall(files.load_path, spec, where, sample_from_spec)
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
          add_list(files.load_path(m, where, sample_from_spec))
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

return M
