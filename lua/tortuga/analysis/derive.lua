--- tortuga.analysis.derive — the values a sample derives from its measured data and descriptors: Eq. 2 (sigma from
-- a resistance), Eq. 3 (kappa = sigma_bulk / sigma_eff * phi), the coverage of the CAM by ISE, and lambda = d_CAM /
-- d_ISE (from d50s, size distributions or the local thickness). Part of tg.analysis (the manual, with every
-- derived name and option, is lua/tortuga/analysis.lua).
--
--   derive.one(S, sample, opts)   fills sample.derived and sample.derived_units (opts: derive.OPTIONS, checked)
--   derive.d50(psd [, where]), derive.sigma_from_resistance{...}, derive.kappa{...}
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local units = require "tortuga.analysis.units"

local M = {}
local NIL = util.NIL
local is_finite = units.is_finite

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

function M.one(S, s, o)
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

--- The derivation options and their defaults (see the manual).
M.OPTIONS = { phi_ise = NIL, phi_cam = NIL, d_cam = NIL, d_ise = NIL, phases = NIL, layers_ion = 2, layers_el = 1 }

return M
