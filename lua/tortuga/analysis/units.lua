--- tortuga.analysis.units — measured values with units: parsing "0.05 mS/cm", {value, "unit"}, ranges and missing
-- values, and converting them to the canonical units S/m, m, m2, m2/g, mAh/g, ohm, ohm*m2, Pa, kg/m2, kg/m3, 1.
-- Part of tg.analysis (the manual is lua/tortuga/analysis.lua).
--
--   units.convert(value, unit) --> value, canonical | nil, message
--   units.parse_quantity("0.05 mS/cm") --> 0.005, "S/m" | nil, message
--   units.strip_suffix("sigma_ion_bulk_mS_cm") --> "sigma_ion_bulk", "mS/cm" (the reference JSON's key suffixes)
--   units.read_value(v, key_unit, where) --> value, unit, range | nil (missing); raises on a malformed value
--   units.UNITS (unit as written -> {canonical, factor}), units.known_units(), units.is_finite(v)
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local json = require "tortuga.json"

local M = {}

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

function M.known_units()
  local ks = util.sorted_keys(UNITS)
  return table.concat(ks, ", ")
end

--- Convert `value` in `unit` to the canonical unit: value, canonical | nil, message.
function M.convert(value, unit)
  local u = UNITS[unit]
  if not u then return nil, string.format("unknown unit '%s' (known: %s)", tostring(unit), M.known_units()) end
  local f = u[2]
  if f < 1 then
    local inv = math.floor(1 / f + 0.5)
    if math.abs(inv * f - 1) < 1e-12 then return value / inv, u[1] end -- 5.93 um -> 5.93e-6 exactly rounded
  end
  return value * f, u[1]
end

-- "0.05 mS/cm" -> 0.005, "S/m" | nil, msg
function M.parse_quantity(s)
  local num, unit = s:match("^%s*([%+%-]?[%d%.]+[eE]?[%+%-]?%d*)%s*(.-)%s*$")
  local v = tonumber(num)
  if not v then return nil, string.format("'%s' is not a number with a unit (e.g. \"0.05 mS/cm\")", s) end
  if unit == "" then return v, "1" end
  return M.convert(v, unit)
end

function M.strip_suffix(key)
  for _, s in ipairs(SUFFIXES) do
    if #key > #s[1] and key:sub(-#s[1]) == s[1] then return key:sub(1, -#s[1] - 1), s[2] end
  end
  return key, nil
end
M.UNITS = UNITS

function M.is_finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end
local is_finite = M.is_finite

-- Read one measured value: number, "2.0 mS/cm", {value, "unit"}, {lo, hi}, nil/null/"NA".
-- Returns value (canonical units), unit, range | nil (missing); raises on bad input.
function M.read_value(v, key_unit, where)
  if v == nil or v == json.null then return nil end
  if type(v) == "string" then
    local lv = v:lower():match("^%s*(.-)%s*$")
    if lv == "" or lv == "na" or lv == "nan" or lv == "null" or lv == "-" then return nil end
    local x, unit = M.parse_quantity(v)
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
      local lo, hi = M.read_value(v[1], key_unit, where), M.read_value(v[2], key_unit, where)
      local mid, unit = M.read_value(0.5 * (v[1] + v[2]), key_unit, where)
      return mid, unit, { lo, hi }
    end
  end
  error(string.format("%s: expected a number, \"number unit\", {value, \"unit\"} or a range {lo, hi}, got %s", where,
    type(v) == "table" and "a table" or tostring(v)), 0)
end

return M
