--- tg.repl — how the tortuga REPL shows values and completes names.
--
--   local repl = require "tortuga.repl"
--   repl.show(...)        --> one string for any values: volumes by their __tostring
--                             ("tortuga.Volume(400x400x300 u8, 100 nm)"), tables pretty-printed with
--                             sorted keys and indentation, floats as %.6g, long arrays elided
--                             ("... 990 more"), cycles shown as <cycle>. Top-level strings are shown
--                             as they are (as print does); strings inside tables are quoted.
--   repl.format(v [, opts]) --> the string for one value (strings quoted)
--   repl.print(...)       prints repl.show(...)
--   repl.complete(text)   --> sorted list of completions of a Lua name path: "tg.vo" -> {"tg.volume"},
--                             "v:co" -> {"v:copy", "v:counts"} (methods of a volume), "str" -> globals and
--                             keywords. It walks globals, tables and metatables (__index tables, and the
--                             tables a C __index closure holds as upvalues) without calling metamethods.
--   repl.options          the defaults: max_items (array items shown, 10), max_keys (other fields, 50),
--                             width (80), depth (nesting shown, 6), max_string (bytes shown, 200).
-- Used by the tortuga host (app/main.c); usable from any Lua program.
local M = {}

M.options = { max_items = 10, max_keys = 50, width = 80, depth = 6, max_string = 200, indent = "  " }

--- Fields a userdata type exposes through an __index function (not enumerable), by metatable __name.
M.fields = { ["tortuga.Volume"] = { "dtype" } }

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or repeat return then
            true until while]]):gmatch("%a+") do
  keywords[w] = true
end

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not keywords[s]
end

---------------------------------------------------------------------------------------------- printing

local escapes = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ['"'] = '\\"', ["\\"] = "\\\\" }

local function quote(s, max)
  local extra = ""
  if #s > max then
    extra = string.format("... (%d bytes)", #s)
    s = s:sub(1, max)
  end
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\%03d", c:byte())
  end) .. '"' .. extra
end

local function number(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  return string.format("%.6g", x)
end

local function short_source(src)
  -- keep the last two path components: "tortuga/volume.lua"
  local a, b = src:match("([^/]+)/([^/]+)$")
  return a and (a .. "/" .. b) or src
end

local function func(f)
  local info = debug.getinfo(f, "S")
  if info.what == "C" then return "function: builtin" end
  return string.format("function: %s:%d", short_source(info.short_src), info.linedefined)
end

-- tostring through __tostring / __name, never raising
local function meta_tostring(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  return "<" .. type(v) .. ": __tostring failed: " .. tostring(s) .. ">"
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

local type_rank = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  local ra, rb = type_rank[ta] or 4, type_rank[tb] or 4
  if ra ~= rb then return ra < rb end
  if ta == "number" or ta == "string" then return a < b end
  if ta == "boolean" then return (not a) and b end
  return tostring(a) < tostring(b)
end

local function key_text(k, o)
  if is_identifier(k) then return k end
  if type(k) == "string" then return "[" .. quote(k, o.max_string) .. "]" end
  if type(k) == "number" then return "[" .. number(k) .. "]" end
  return "[" .. meta_tostring(k) .. "]"
end

local render

local function scalar(v, o)
  local t = type(v)
  if t == "number" then return number(v) end
  if t == "string" then return quote(v, o.max_string) end
  if t == "function" then return has_tostring(v) and meta_tostring(v) or func(v) end
  return meta_tostring(v)
end

-- Columns a string takes (UTF-8 aware, so "µm" counts 2).
local function cols(s) return utf8.len(s) or #s end

-- Items of table t: the strings "value" (a sequence) or "key = value" (anything else).
local function items(t, indent, seen, depth, o)
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local keys, count = {}, 0
  for k in next, t do
    count = count + 1
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  local out, inner = {}, indent .. o.indent
  if #keys == 0 then -- a sequence: values only
    for i = 1, math.min(n, o.max_items) do
      out[#out + 1] = render(rawget(t, i), inner, o.width - #inner - 1, seen, depth + 1, o)
    end
    if n > o.max_items then out[#out + 1] = string.format("... %d more", n - o.max_items) end
    return out, true
  end
  keys = {}
  for k in next, t do keys[#keys + 1] = k end
  table.sort(keys, key_less)
  for i = 1, math.min(#keys, o.max_keys) do
    local k = keys[i]
    local kt = key_text(k, o) .. " = "
    out[#out + 1] = kt .. render(rawget(t, k), inner, o.width - #inner - cols(kt) - 1, seen, depth + 1, o)
  end
  if count > o.max_keys then out[#out + 1] = string.format("... %d more", count - o.max_keys) end
  return out, false
end

-- Render v. `indent` is the indentation of the line v starts on (for its closing brace), `avail` the
-- columns left on that line for a one-line form.
function render(v, indent, avail, seen, depth, o)
  if type(v) ~= "table" or has_tostring(v) then return scalar(v, o) end
  if seen[v] then return "<cycle>" end
  if next(v) == nil then return "{}" end
  if depth >= o.depth then return "{...}" end
  seen[v] = true
  local list, is_seq = items(v, indent, seen, depth, o)
  seen[v] = nil
  local multi = false
  for _, s in ipairs(list) do
    if s:find("\n", 1, true) then multi = true break end
  end
  local one = "{ " .. table.concat(list, ", ") .. " }"
  if not multi and cols(one) <= avail then return one end
  local inner = indent .. o.indent
  if is_seq and not multi then -- pack short values into lines of the available width
    local lines, line = {}, nil
    local width = math.max(o.width - #inner, 20)
    for i, s in ipairs(list) do
      local piece = s .. (i < #list and "," or "")
      if line and cols(line) + 1 + cols(piece) <= width then line = line .. " " .. piece
      else
        if line then lines[#lines + 1] = line end
        line = piece
      end
    end
    lines[#lines + 1] = line
    return "{\n" .. inner .. table.concat(lines, "\n" .. inner) .. "\n" .. indent .. "}"
  end
  return "{\n" .. inner .. table.concat(list, ",\n" .. inner) .. "\n" .. indent .. "}"
end

local function opts_with(opts)
  if opts == nil then return M.options end
  local o = {}
  for k, v in pairs(M.options) do o[k] = v end
  for k, v in pairs(opts) do
    if M.options[k] == nil then error("repl.format: unknown option '" .. tostring(k) .. "'", 3) end
    o[k] = v
  end
  return o
end

--- The readable form of one value (strings quoted).
function M.format(v, opts)
  local o = opts_with(opts)
  return render(v, "", o.width, {}, 0, o)
end

--- The readable form of any number of values: one per line when any is multi-line, else tab-separated
--  (as print). Top-level strings are shown as they are.
function M.show(...)
  local n = select("#", ...)
  local parts, multi = {}, false
  for i = 1, n do
    local v = select(i, ...)
    local s = type(v) == "string" and v or M.format(v)
    parts[i] = s
    if s:find("\n", 1, true) then multi = true end
  end
  return table.concat(parts, multi and "\n" or "\t")
end

--- Print values as the REPL does.
function M.print(...)
  io.write(M.show(...), "\n")
end

---------------------------------------------------------------------------------------------- completion

-- Add to `acc` the string keys of t, of its metatable's __index tables, and of the tables held by an
-- __index function's upvalues (a C closure such as tortuga.Volume's). Metamethods are never called.
local function collect(x, acc, visited)
  if x == nil or visited[x] then return end
  visited[x] = true
  if type(x) == "table" then
    for k, v in next, x do
      if type(k) == "string" then acc[k] = v end
    end
  end
  local mt = getmetatable(x)
  if type(mt) ~= "table" then return end
  local name = rawget(mt, "__name")
  if type(name) == "string" and M.fields[name] then
    for _, f in ipairs(M.fields[name]) do acc[f] = acc[f] or true end
  end
  local index = rawget(mt, "__index")
  if type(index) == "table" then
    collect(index, acc, visited)
  elseif type(index) == "function" then
    for i = 1, 16 do
      local up, val = debug.getupvalue(index, i)
      if up == nil then break end
      if type(val) == "table" and val ~= x then collect(val, acc, visited) end
    end
  end
end

-- Look up a dotted path of names from the globals, raw where possible.
local function lookup(path)
  local x = _G
  for name in path:gmatch("[^.]+") do
    if not is_identifier(name) and not keywords[name] then return nil end
    if type(x) == "table" then
      local v = rawget(x, name)
      if v == nil then
        local ok, r = pcall(function() return x[name] end)
        v = ok and r or nil
      end
      x = v
    elseif type(x) == "userdata" or type(x) == "string" then
      local ok, r = pcall(function() return x[name] end)
      x = ok and r or nil
    else
      return nil
    end
    if x == nil then return nil end
  end
  return x
end

--- Completions of text, a name path ("tg.volume.n", "v:co", "pri"), as a sorted list of full strings.
function M.complete(text)
  if type(text) ~= "string" then error("repl.complete: expected a string, got " .. type(text), 2) end
  local out = {}
  local head, sep, partial = text:match("^([%w_.]-)([.:])([%w_]*)$")
  local acc = {}
  if head == nil then
    if not text:match("^[%a_]?[%w_]*$") then return out end
    head, sep, partial = "", "", text
    collect(_G, acc, {})
    for w in pairs(keywords) do acc[w] = acc[w] or true end
  else
    if head == "" or head:find("..", 1, true) or head:sub(-1) == "." then return out end
    local x = lookup(head)
    if x == nil then return out end
    if type(x) == "string" then x = string end
    collect(x, acc, {})
  end
  for k, v in pairs(acc) do
    if k:sub(1, #partial) == partial and (is_identifier(k) or (sep == "" and keywords[k]))
        and (sep ~= ":" or type(v) == "function") then
      out[#out + 1] = head .. sep .. k
    end
  end
  table.sort(out)
  return out
end

return M
