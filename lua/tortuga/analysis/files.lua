--- tortuga.analysis.files — sample tables from files and CSV out: the reference JSON ({"samples": {name: {...}} or
-- a list, optional "materials" shared by every sample), RFC 4180 CSV with a name column and "key [unit]" headers,
-- and writing text through a temporary name. Part of tg.analysis (the manual is lua/tortuga/analysis.lua).
--
--   files.load_path(path, where, make) --> list of samples, {source =, description =, materials =}
--       make(spec, where, materials) builds one sample (tortuga.analysis.samples passes its constructor)
--   files.csv_field(v) --> one CSV field;  files.write_text(path, text, where) --> path (raises at the caller's
--       caller, level 3, naming `where`)
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local json = require "tortuga.json"
local units = require "tortuga.analysis.units"

local M = {}

local function read_file(path, where)
  local f, err = io.open(path, "rb")
  if not f then error(string.format("%s: %s", where, err), 0) end
  local text = f:read("a")
  f:close()
  return text
end

local function load_json(path, where, make)
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
    list[#list + 1] = make(spec, where .. ": " .. path, type(materials) == "table" and materials or nil)
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

-- Long because the header's columns (category, key, unit) and every row's cells are read with one context for
-- the messages (path, line, column), which a user needs to find the bad cell.
local function load_csv(path, where, make)
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
      if unit and not units.UNITS[unit] then
        error(string.format("%s: %s: column '%s': unknown unit '%s' (known: %s)", where, path, head, unit, units.known_units()), 0)
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
    local ok, s = pcall(make, spec, string.format("%s: %s: line %d", where, path, i))
    if not ok then error(s, 0) end
    list[#list + 1] = s
  end
  return list, { source = path }
end

function M.load_path(path, where, make)
  if path:lower():match("%.json$") then return load_json(path, where, make) end
  if path:lower():match("%.csv$") then return load_csv(path, where, make) end
  error(string.format("%s: %s: expected a .json or .csv file", where, path), 0)
end

function M.csv_field(v)
  if v == nil then return "" end
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.10g", v)
  end
  v = tostring(v)
  if v:find('[,"\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

function M.write_text(path, text, where)
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

return M
