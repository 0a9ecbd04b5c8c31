--- tortuga.util — option checking and small helpers shared by the Lua modules.
-- util.options(opts, defaults, where) checks an options table: an unknown key raises
-- "where: unknown option 'stpes' (did you mean 'steps'?)"; the result is a new table with the defaults
-- filled in. A default of util.NIL means "optional, no default".
local M = {}

M.NIL = setmetatable({}, { __tostring = function() return "util.NIL" end })

-- The folder of the library's Lua files (this file's), to tell the library's own frames from its callers'.
local LIB_DIR = debug.getinfo(1, "S").source:match("^@(.*[/\\])util%.lua$")

local function in_library(info)
  return LIB_DIR ~= nil and info.source:sub(1, 1) == "@" and info.source:sub(2, #LIB_DIR + 1) == LIB_DIR
end

--- error() for the library's modules (`local error = util.error`): a message blames the first caller outside
-- the library, however deep inside the library the check sits (a fixed level named a library file when a
-- public function checked its options in a helper, or called another public function). Level 0 and error
-- objects that are not strings pass through unchanged.
function M.error(msg, level)
  if level == 0 or type(msg) ~= "string" then error(msg, level == 0 and 0 or nil) end
  local l = 2
  while true do
    local info = debug.getinfo(l, "S")
    if not info or not in_library(info) then break end
    l = l + 1
  end
  error(msg, l)
end
local error = M.error

local function distance(a, b)
  local la, lb = #a, #b
  local prev, cur = {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    for j = 1, lb do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end

--- The closest of the candidate names to `name`, if it is close enough to be a likely typo.
function M.suggest(name, candidates)
  local best, bestd
  for _, c in ipairs(candidates) do
    local d = distance(name, c)
    if not bestd or d < bestd then best, bestd = c, d end
  end
  if best and bestd <= math.max(2, #name // 3) then return best end
  return nil
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end
M.sorted_keys = sorted_keys

--- Check `opts` against the keys of `defaults` and return a new table with defaults filled in.
-- Positional (integer) keys are allowed only if `defaults` has them.
function M.options(opts, defaults, where)
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("%s: options must be a table, got %s", where, type(opts)), 3)
  end
  local out = {}
  for k, v in pairs(opts or {}) do
    if defaults[k] == nil then
      local names = {}
      for dk in pairs(defaults) do
        if type(dk) == "string" then names[#names + 1] = dk end
      end
      table.sort(names)
      local hint = type(k) == "string" and M.suggest(k, names)
      error(string.format("%s: unknown option '%s'%s", where, tostring(k),
        hint and string.format(" (did you mean '%s'?)", hint)
        or (#names > 0 and " (options: " .. table.concat(names, ", ") .. ")" or "")), 3)
    end
    out[k] = v
  end
  for k, v in pairs(defaults) do
    if out[k] == nil and v ~= M.NIL then out[k] = v end
  end
  return out
end

--- Raise unless `cond`; the message names the function (level 3 = the caller of the public function).
function M.check(cond, where, fmt, ...)
  if not cond then error(where .. ": " .. string.format(fmt, ...), 3) end
  return cond
end

--- Parse a length with a unit ("100nm", "0.1um", "0.1 µm", "1e-7", "1e-7 m") into metres.
-- metres per unit, as divisors (exact powers of ten), so "100nm" is the double nearest 1e-7, as 1e-7 is
local units = { m = 1, mm = 1e3, cm = 1e2, um = 1e6, ["µm"] = 1e6, micron = 1e6, microns = 1e6, nm = 1e9, pm = 1e12 }
function M.parse_length(s)
  if type(s) == "number" then return s end
  local num, unit = tostring(s):match("^%s*([%d%.eE%+%-]+)%s*(%S*)%s*$")
  local v = tonumber(num)
  if not v then return nil, string.format("'%s' is not a length (examples: 100nm, 0.1um, 1e-7)", s) end
  if unit == "" then return v end
  local f = units[unit]
  if not f then return nil, string.format("'%s': unknown unit '%s' (use m, mm, um, µm, nm)", s, unit) end
  return v / f
end

--- A length in metres as a readable string with a sensible unit.
function M.format_length(m)
  local a = math.abs(m)
  if a == 0 then return "0 m" end
  if a < 1e-6 then return string.format("%.4g nm", m * 1e9) end
  if a < 1e-3 then return string.format("%.4g µm", m * 1e6) end
  if a < 1 then return string.format("%.4g mm", m * 1e3) end
  return string.format("%.4g m", m)
end

--- Parse a script's command line: `--name value`, `--flag` (for boolean defaults) and positional arguments.
-- util.script_args(arg, {small = false, out = "out", size = 200}) --> options, positionals
-- Numbers are converted when the default is a number; unknown flags raise with a hint.
function M.script_args(argv, defaults, where)
  where = where or (argv and argv[0]) or "script"
  local opts, pos = {}, {}
  for k, v in pairs(defaults) do opts[k] = v end
  local i = 1
  while argv and argv[i] do
    local a = argv[i]
    local name = a:match("^%-%-([%w_%-]+)$")
    if name then
      local key = name:gsub("%-", "_")
      local def = defaults[key]
      if def == nil then
        local names = {}
        for k in pairs(defaults) do names[#names + 1] = k end
        local hint = M.suggest(key, names)
        error(string.format("%s: unknown flag --%s%s", where, name, hint and (" (did you mean --" .. hint .. "?)") or ""), 0)
      end
      if type(def) == "boolean" then
        opts[key] = true
      else
        local val = argv[i + 1]
        if val == nil then error(string.format("%s: --%s needs a value", where, name), 0) end
        if type(def) == "number" then
          val = tonumber(val) or error(string.format("%s: --%s expects a number, got '%s'", where, name, argv[i + 1]), 0)
        end
        opts[key] = val
        i = i + 1
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

return M
