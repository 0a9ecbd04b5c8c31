--- tortuga.mesh — marching-cubes meshes, surface and interface areas (re-exported as tg.measure.mesh and
-- tg.measure.surfaces).
--
--   tg.measure.mesh(labels, phase [, {smooth=false, closed=false, method="lewiner"}])  --> tortuga.Mesh
--     The iso-surface at level 0.5 of the indicator of `phase` (a label value). Lewiner et al. 2003 case
--     resolution (method="lorensen": the classic table); a watertight, outward-oriented mesh with shared
--     vertices in metres (x = columns, y = rows, z = slices, spacing honoured). closed=true closes the
--     surface at the volume faces; smooth=true meshes the mean over the 7-voxel cross instead.
--     mesh:counts() -> vertices, triangles; mesh:area() (m2); mesh:volume() (m3, signed, > 0 when closed);
--     mesh:vertex(i), mesh:triangle(i); mesh:release().
--
--   tg.measure.surfaces(labels [, opts]) -->
--     { phases = {[label] = m2}, interfaces = {["a-b"] = m2}, voxels = {[label] = n}, absent = {labels...},
--       tpb = {["a-b-c"] = m}, tpb_length = m, tpb_correction = 1,
--       specific = { per_volume = {phases = {[label] = m-1}, interfaces = {...}},
--                    per_gram = {phases = {...}, interfaces = {...}, of = "cam"} },      (per_gram if asked)
--       names = {[label] = name}, units = "m2", convention = "open", smooth = false, method = "lewiner" }
--     opts: phases = {pore=0, cam=1, ise=2} or {0, 1, 2} (default: every label present);
--           convention = "open" (no padding: scikit-image's marching_cubes + mesh_surface_area on the raw
--           indicator) | "closed" (PoreSpy's region_surface_areas: zero padding and the 7-voxel smoothing);
--           smooth = nil (per convention: off when open, on when closed) | true | false;
--           method = "lewiner" | "lorensen"; density = {cam = 4.7e3, ...} in kg/m3 (names or labels);
--           per_gram_of = "cam" (name or label): specific areas per gram of that phase.
--     Interfaces: S_ab = (S_a + S_b - S_{a u b}) / 2 for every pair (interfaces_union); when three phases fill
--     the volume, `interfaces` is the paper's Eq. 1, (S_a + S_b - S_c) / 2, as the peers compute it
--     (interface_formula = "eq1"; else "union" and interfaces = interfaces_union).
--     Specific per volume: area / volume of the whole label volume. A phase absent from the volume has area 0
--     and is listed in `absent`.
--     Triple-phase boundary (TPB), by voxel-edge counting (Wilson et al., Nature Materials 5 (2006) 541; Iwai
--     et al., J. Power Sources 195 (2010) 955): a voxel edge (the segment shared by four voxels) is a TPB edge
--     of phases a, b, c when its four voxels hold all three; its length is the spacing along it.
--       tpb = {["a-b-c"] = m} for every triple of the phases (labels ascending);
--       tpb_length = the TPB length in m: of the one triple when three phases are listed, else of the edges
--         where three or more of the listed phases meet (0 with fewer than three phases);
--       specific.per_volume.tpb_length (m-2, per volume of the whole label volume), per_gram.tpb_length (m/g).
--     Exact for lines along an axis (a straight line along x through the volume: nx * spacing_x); a line along
--     a unit direction u is counted as its staircase, (|ux| + |uy| + |uz|) times longer, 3/2 on average over
--     random directions: tpb_correction = 2/3 estimates an isotropic network's length (default 1: the raw
--     edge length; the factor used is returned as tpb_correction). The convention and smoothing do not change it.
--
--   tg.io.write_mesh (lua/tortuga/io.lua) writes a mesh as PLY or STL.
local core = require "tortuga.core"
local util = require "tortuga.util"
local volume = require "tortuga.volume"

local C = core.mesh
local M = {}

local function check_labels(labels, where)
  if not volume.is_volume(labels) then
    error(string.format("%s: expected a label volume, got %s", where, type(labels)), 3)
  end
  local t = labels.dtype
  if t ~= "u8" and t ~= "u16" and t ~= "i32" then
    error(string.format("%s: labels must be an integer volume (u8, u16, i32), got %s", where, t), 3)
  end
end

local function rethrow(where, ok, ...)
  if ok then return ... end
  local msg = tostring((...)):gsub("^.-:%d+: ", "")
  error(where .. ": " .. msg, 3)
end

function M.mesh(labels, phase, opts)
  local where = "tg.measure.mesh"
  check_labels(labels, where)
  if math.type(phase) ~= "integer" then
    error(string.format("%s: phase must be an integer label value, got %s", where, tostring(phase)), 2)
  end
  local o = util.options(opts, { smooth = false, closed = false, method = "lewiner" }, where)
  if o.method ~= "lewiner" and o.method ~= "lorensen" then
    error(string.format("%s: method must be \"lewiner\" or \"lorensen\", got %s", where, tostring(o.method)), 2)
  end
  return rethrow(where, pcall(C.mcubes, labels, phase, o.method, o.closed and true or false, o.smooth and true or false))
end

-- phases option -> ordered list of labels and a label -> name map
local function phase_list(labels, phases, where)
  local list, names = {}, {}
  if phases == nil then
    for label in pairs(labels:counts()) do list[#list + 1] = label end
    table.sort(list)
  elseif type(phases) == "table" then
    for k, v in pairs(phases) do
      if type(k) == "string" then
        if math.type(v) ~= "integer" then error(string.format("%s: phase '%s' must be an integer label, got %s", where, k, tostring(v)), 4) end
        list[#list + 1] = v
        names[v] = k
      elseif math.type(v) == "integer" then
        list[#list + 1] = v
      else
        error(string.format("%s: phases must map names to integer labels, got %s", where, tostring(v)), 4)
      end
    end
    table.sort(list)
  else
    error(string.format("%s: phases must be a table, got %s", where, type(phases)), 4)
  end
  if #list == 0 then error(where .. ": no phases to measure", 4) end
  if #list > 8 then error(string.format("%s: at most 8 phases at once, got %d", where, #list), 4) end
  for i = 2, #list do
    if list[i] == list[i - 1] then error(string.format("%s: label %d is listed twice", where, list[i]), 4) end
  end
  return list, names
end

-- a name or label -> label
local function resolve(key, names, list, where, what)
  if math.type(key) == "integer" then
    for _, l in ipairs(list) do if l == key then return l end end
  else
    for label, name in pairs(names) do if name == key then return label end end
  end
  error(string.format("%s: %s '%s' is not one of the phases", where, what, tostring(key)), 4)
end

function M.surfaces(labels, opts)
  local where = "tg.measure.surfaces"
  check_labels(labels, where)
  local o = util.options(opts, { phases = util.NIL, convention = "open", smooth = util.NIL, method = "lewiner",
                                 density = util.NIL, per_gram_of = util.NIL, tpb_correction = 1.0 }, where)
  if type(o.tpb_correction) ~= "number" or not (o.tpb_correction > 0) or o.tpb_correction == math.huge then
    error(string.format("%s: tpb_correction must be a positive number, got %s", where, tostring(o.tpb_correction)), 2)
  end
  if o.convention ~= "open" and o.convention ~= "closed" then
    error(string.format("%s: convention must be \"open\" or \"closed\", got %s", where, tostring(o.convention)), 2)
  end
  if o.method ~= "lewiner" and o.method ~= "lorensen" then
    error(string.format("%s: method must be \"lewiner\" or \"lorensen\", got %s", where, tostring(o.method)), 2)
  end
  local closed = o.convention == "closed"
  local smooth = o.smooth
  if smooth == nil then smooth = closed end
  local list, names = phase_list(labels, o.phases, where)
  local per_gram_label, density_kg
  if o.per_gram_of ~= nil then
    per_gram_label = resolve(o.per_gram_of, names, list, where, "per_gram_of")
    if type(o.density) ~= "table" then
      error(string.format("%s: per_gram_of = '%s' needs density = {%s = kg/m3}", where, tostring(o.per_gram_of),
        tostring(names[per_gram_label] or per_gram_label)), 2)
    end
    density_kg = o.density[names[per_gram_label] or false] or o.density[per_gram_label]
    if type(density_kg) ~= "number" or density_kg <= 0 then
      error(string.format("%s: density of '%s' is missing or not positive (kg/m3)", where,
        tostring(names[per_gram_label] or per_gram_label)), 2)
    end
  end
  local r = rethrow(where, pcall(C.surfaces, labels, list, closed, smooth, o.method))
  local out = { phases = {}, interfaces = {}, voxels = {}, absent = {}, names = names, units = "m2",
                convention = o.convention, smooth = smooth, method = o.method }
  for i, label in ipairs(list) do
    out.phases[label] = r.area[i]
    out.voxels[label] = r.voxels[i]
    if r.voxels[i] == 0 then out.absent[#out.absent + 1] = label end
  end
  -- Three phases filling the volume: the paper's Eq. 1, S_ab = (S_a + S_b - S_c) / 2, as the peers compute it.
  -- Otherwise (and always in interfaces_union) the general form with the union's own surface. The two differ
  -- where ambiguous cubes are resolved: a tie joins the corners inside the meshed set, and the union and the
  -- third phase are complements of each other.
  local filled = 0
  for _, n in pairs(out.voxels) do filled = filled + n end
  local eq1 = #list == 3 and filled == r.total_voxels
  out.interfaces_union = {}
  for i = 1, #list do
    for j = i + 1, #list do
      local key = list[i] .. "-" .. list[j]
      out.interfaces_union[key] = r.interface[i][j]
      if eq1 then
        local k = 6 - i - j
        out.interfaces[key] = math.max(0.0, 0.5 * (r.area[i] + r.area[j] - r.area[k]))
      else
        out.interfaces[key] = r.interface[i][j]
      end
    end
  end
  out.interface_formula = eq1 and "eq1" or "union"
  -- triples in the engine's order: indices i < j < k of the sorted label list
  out.tpb = {}
  local t = 0
  for i = 1, #list do
    for j = i + 1, #list do
      for k = j + 1, #list do
        t = t + 1
        out.tpb[list[i] .. "-" .. list[j] .. "-" .. list[k]] = r.tpb[t] * o.tpb_correction
      end
    end
  end
  out.tpb_length = (#list == 3 and r.tpb[1] or #list > 3 and r.tpb_any or 0.0) * o.tpb_correction
  out.tpb_correction = o.tpb_correction
  out.tpb_units = "m"
  local pv = { phases = {}, interfaces = {}, units = "m-1", tpb_length = out.tpb_length / r.volume, tpb_units = "m-2" }
  for k, a in pairs(out.phases) do pv.phases[k] = a / r.volume end
  for k, a in pairs(out.interfaces) do pv.interfaces[k] = a / r.volume end
  out.specific = { per_volume = pv }
  if per_gram_label then
    local grams = out.voxels[per_gram_label] * (r.volume / r.total_voxels) * density_kg * 1e3
    local pg = { phases = {}, interfaces = {}, units = "m2/g", of = names[per_gram_label] or per_gram_label, grams = grams,
                 tpb_length = grams > 0 and out.tpb_length / grams or 0.0, tpb_units = "m/g" }
    for k, a in pairs(out.phases) do pg.phases[k] = grams > 0 and a / grams or 0.0 end
    for k, a in pairs(out.interfaces) do pg.interfaces[k] = grams > 0 and a / grams or 0.0 end
    out.specific.per_gram = pg
  end
  return out
end

return M
