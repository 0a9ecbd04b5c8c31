--- tortuga.json — JSON for result tables: stable key order, readable, written atomically.
--
--   local json = require "tortuga.json"
--   local text, notes = json.encode(value [, {indent = 2}])   -- indent = 0: one line
--   local ok, err_or_notes = json.write(path, value [, opts])  -- true, notes | nil, "path: reason"
--   local value = json.decode(text)                            -- lua-cjson's decoder
--   local value, err = json.read(path)
--
-- Rules (so that a result table prints the same on every run and machine):
--   * objects have their keys sorted: numeric keys first in numeric order, then strings in byte order;
--     numeric keys become strings ({[0] = 0.07, [1] = 0.55} -> {"0": 0.07, "1": 0.55});
--   * a table whose keys are exactly 1..n (n >= 1) is an array; an empty table is {} (or [] when it is
--     json.empty_array);
--   * numbers: integers as integers, floats with the fewest digits that read back to the same double
--     (up to 17 significant digits); NaN and ±inf are not JSON: they are written as null and each one
--     adds a note ("fractions.x: nan written as null") to the second result;
--   * strings are escaped by lua-cjson; functions, userdata, threads and cycles raise an error naming
--     the path of the offending value (e.g. "result.provenance.volume").
-- json.write writes to a temporary name in the same folder and renames it over `path` when complete.
local cjson = require "cjson"

local M = {}

M.empty_array = setmetatable({}, { __name = "tortuga.json.empty_array" })
M.null = cjson.null

-- lua-cjson escapes "/" as "\/"; valid, but paths read better without it. A "\/" preceded by an even
-- number of backslashes is such an escape (an odd number means an escaped backslash before it).
local function encode_string(s)
  return (cjson.encode(s):gsub("(\\*)\\/", function(bs)
    if #bs % 2 == 0 then return bs .. "/" end
  end))
end

local function number_repr(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  if x ~= x or x == math.huge or x == -math.huge then return nil end
  if x == math.floor(x) and math.abs(x) < 2^53 then return string.format("%d", math.tointeger(x)) end
  for digits = 15, 17 do
    local s = string.format("%." .. digits .. "g", x)
    if tonumber(s) == x then return s end
  end
  return string.format("%.17g", x)
end

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta == "number" end
  return a < b
end

local function is_array(t)
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  if n == 0 then return false end
  for i = 1, n do
    if t[i] == nil then return false end
  end
  return true, n
end

local function path_of(path, k)
  if type(k) == "number" then return path .. "[" .. number_repr(k) .. "]" end
  if k:match("^[%a_][%w_]*$") then return path .. "." .. k end
  return path .. "[" .. encode_string(k) .. "]"
end

local encode_value

local function encode_table(t, path, st, depth)
  if st.seen[t] then error(string.format("tortuga.json: %s: a table contains itself (cycle)", path), 0) end
  if depth > 100 then error(string.format("tortuga.json: %s: nested deeper than 100 levels", path), 0) end
  st.seen[t] = true
  local ind = st.indent
  local nl = ind > 0 and "\n" or ""
  local pad = ind > 0 and string.rep(" ", ind * (depth + 1)) or ""
  local close_pad = ind > 0 and string.rep(" ", ind * depth) or ""
  local colon = ind > 0 and ": " or ":"
  local parts = {}
  local out
  local arr, n = is_array(t)
  if t == M.empty_array then
    out = "[]"
  elseif arr then
    for i = 1, n do parts[i] = pad .. encode_value(t[i], path_of(path, i), st, depth + 1) end
    out = "[" .. nl .. table.concat(parts, "," .. nl) .. nl .. close_pad .. "]"
  else
    local keys, names = {}, {}
    for k in pairs(t) do
      local tk = type(k)
      if tk ~= "string" and tk ~= "number" then
        error(string.format("tortuga.json: %s: keys must be strings or numbers, got a %s key", path, tk), 0)
      end
      if tk == "number" and (k ~= k or k == math.huge or k == -math.huge) then
        error(string.format("tortuga.json: %s: a key is %s", path, tostring(k)), 0)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys, key_less)
    for _, k in ipairs(keys) do
      local name = type(k) == "number" and number_repr(k) or k
      if names[name] then
        error(string.format("tortuga.json: %s: keys %s and '%s' both become \"%s\"", path,
          tostring(names[name]), tostring(k), name), 0)
      end
      names[name] = k
      parts[#parts + 1] = pad .. encode_string(name) .. colon .. encode_value(t[k], path_of(path, k), st, depth + 1)
    end
    out = #parts == 0 and "{}" or "{" .. nl .. table.concat(parts, "," .. nl) .. nl .. close_pad .. "}"
  end
  st.seen[t] = nil
  return out
end

encode_value = function(v, path, st, depth)
  local tv = type(v)
  if v == nil or v == cjson.null then return "null" end
  if tv == "boolean" then return v and "true" or "false" end
  if tv == "number" then
    local s = number_repr(v)
    if s then return s end
    st.notes[#st.notes + 1] = string.format("%s: %s written as null", path, v ~= v and "nan" or tostring(v))
    return "null"
  end
  if tv == "string" then return encode_string(v) end
  if tv == "table" then return encode_table(v, path, st, depth) end
  error(string.format("tortuga.json: %s: cannot encode a %s", path, tv), 0)
end

--- Encode `value`; returns the text and a list of notes (non-finite numbers written as null).
function M.encode(value, opts)
  local indent = opts and opts.indent
  if indent == nil then indent = 2 end
  if math.type(indent) ~= "integer" or indent < 0 then error("tortuga.json.encode: indent must be an integer >= 0", 2) end
  local st = { indent = indent, notes = {}, seen = {} }
  local ok, text = pcall(encode_value, value, "value", st, 0)
  if not ok then error(text, 2) end
  return text, st.notes
end

--- Write `value` as JSON to `path` (temporary file + rename). Returns true, notes or nil, "path: reason".
-- Values that cannot be encoded raise (they are a programming error, not the outside world's).
function M.write(path, value, opts)
  if type(path) ~= "string" or path == "" then error("tortuga.json.write: expected a file path", 2) end
  local ok, text, notes = pcall(M.encode, value, opts)
  if not ok then error(text, 2) end
  local tmp = string.format("%s.%d.tmp", path, math.random(0, 0x7fffffff))
  local f, err = io.open(tmp, "wb")
  if not f then
    local reason = err and err:match("^.-: (.*)$") or err or "cannot open"
    return nil, path .. ": " .. reason
  end
  local wok, werr = f:write(text, "\n")
  local cok, cerr = f:close()
  if not wok or not cok then
    os.remove(tmp)
    return nil, path .. ": " .. tostring(werr or cerr)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    local reason = rerr and rerr:match("^.-: (.*)$") or rerr
    return nil, path .. ": " .. tostring(reason)
  end
  return true, notes
end

M.decode = cjson.decode

--- Read and decode a JSON file: value | nil, "path: reason".
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local ok, v = pcall(cjson.decode, text)
  if not ok then return nil, path .. ": " .. tostring(v) end
  return v
end

return M
