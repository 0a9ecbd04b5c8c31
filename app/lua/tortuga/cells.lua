--- tortuga.cells — running code as notebook cells: what the Jupyter kernel and `tortuga notebook run` share.
--
--   cells.compile(code, chunkname [, env]) --> f | nil, err; quiet
--       the REPL's `return <code>` first, then the code with its last line returned when that line is an
--       expression on its own, then the code as it is; quiet is true when a trailing ';' hides the value
--   cells.error_handler(cell_frame) --> a message handler for xpcall returning {msg =, frames = {...}}: the
--       traceback down to the last frame whose line matches the Lua pattern cell_frame (the runner's own
--       frames are left out)
--   cells.error_content(msg, frames [, ename]) --> {ename =, evalue =, traceback = {lines}} as Jupyter shows it
--   cells.redirect_io(sink) --> restore(): print, io.write, io.read, io.lines (of stdin), io.stdout, io.stderr
--       and io.stdin talk to sink = {write = function(stream_name, text), flush = function(),
--       input = function(prompt) -> line} until restore() is called
local display = require "tortuga.display"

local M = {}

local utf8_clean = display.utf8_clean

local function write_values(sink, name, level, ...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if math.type(v) == "integer" then v = string.format("%d", v)
    elseif type(v) == "number" then v = string.format("%.14g", v)
    elseif type(v) ~= "string" then
      error(string.format("bad argument #%d to 'write' (string expected, got %s)", i, type(v)), level)
    end
    sink.write(name, v)
  end
end

local function read_formats(sink, ...)
  local n = select("#", ...)
  local fmts = n == 0 and { "l" } or { ... }
  local out = {}
  for i, f in ipairs(fmts) do
    local line = sink.input("")
    if type(f) == "string" then f = f:gsub("^%*", "") end
    if f == "n" then out[i] = tonumber(line)
    elseif f == "L" then out[i] = line .. "\n"
    elseif f == "l" or f == "a" then out[i] = line
    elseif math.type(f) == "integer" then out[i] = line:sub(1, f)
    else error("bad argument #" .. i .. " to 'read' (invalid format)", 2) end
  end
  return table.unpack(out, 1, #fmts)
end

local function stream_proxy(sink, name, real)
  local p = {}
  function p.write(self, ...)
    write_values(sink, name, 3, ...)
    return self
  end
  function p.flush(self)
    sink.flush()
    return self
  end
  function p.setvbuf() return true end
  function p.close() return nil, "cannot close the kernel's " .. name end
  function p.read(_, ...) return read_formats(sink, ...) end
  function p.lines(_, ...)
    local fmts = table.pack(...)
    return function() return read_formats(sink, table.unpack(fmts, 1, fmts.n)) end
  end
  return setmetatable(p, {
    __index = function(_, k)
      local f = real[k]
      if type(f) == "function" then return function(_, ...) return f(real, ...) end end
      return f
    end,
    __name = "FILE*",
    __tostring = function() return "file (kernel " .. name .. ")" end,
  })
end

--- Swap print, io.write, io.read, io.lines (of stdin), io.stdout, io.stderr and io.stdin for ones that
-- talk to `sink` = {write = function(stream_name, text), flush = function(), input = function(prompt) -> line}
-- (the kernel's sink sends stream messages; `tortuga notebook run` collects the text per cell). Returns the
-- function that undoes it.
function M.redirect_io(sink)
  local saved = { print = print, write = io.write, read = io.read, stdout = io.stdout, stderr = io.stderr,
                  stdin = io.stdin, lines = io.lines }
  local stdout, stderr = stream_proxy(sink, "stdout", io.stdout), stream_proxy(sink, "stderr", io.stderr)
  local stdin = stream_proxy(sink, "stdin", io.stdin)
  _G.print = function(...)
    local n, parts = select("#", ...), {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    sink.write("stdout", table.concat(parts, "\t") .. "\n")
  end
  io.write = function(...)
    write_values(sink, "stdout", 3, ...)
    return stdout
  end
  io.read = function(...) return read_formats(sink, ...) end
  io.lines = function(path, ...)
    if path ~= nil then return saved.lines(path, ...) end
    return stdin:lines(...)
  end
  io.stdout, io.stderr, io.stdin = stdout, stderr, stdin
  return function()
    _G.print, io.write, io.read, io.lines = saved.print, saved.write, saved.read, saved.lines
    io.stdout, io.stderr, io.stdin = saved.stdout, saved.stderr, saved.stdin
  end
end


-- The code to run: the REPL's `return <code>` first, then the code with its last line returned when
-- that line is an expression on its own (and the lines before it are complete), then the code as it is.
-- Returns the function (or nil, the error) and whether a trailing ';' asks not to show the value.
-- env (optional): the table of globals of the code (default _G).
function M.compile(code, name, env)
  local body = code:match("^(.-);%s*$")
  local quiet = body ~= nil
  body = body or code
  local function compile(text) -- (load's env argument, even nil, replaces _G when given)
    if env then return load(text, name, "t", env) end
    return load(text, name, "t")
  end
  local f = compile("return " .. body)
  if f then return f, nil, quiet end
  local lines = {}
  for line in (body .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = line end
  local last = #lines
  while last > 0 and (lines[last]:match("^%s*$") or lines[last]:match("^%s*%-%-")) do last = last - 1 end
  if last >= 2 then
    local head = table.concat(lines, "\n", 1, last - 1)
    local g = compile(head .. "\nreturn " .. lines[last])
    if g and load(head, name, "t") and load("return " .. lines[last], name, "t") then return g, nil, quiet end
  end
  local h, err = compile(code)
  return h, err, quiet
end

local function error_message(e)
  if type(e) == "string" then return e end
  local mt = getmetatable(e)
  if type(mt) == "table" and rawget(mt, "__tostring") then
    local ok, s = pcall(tostring, e)
    if ok and type(s) == "string" then return s end
  end
  return string.format("(error object is a %s value)", type(e))
end

--- The message handler (for xpcall) of code run as cells: it returns {msg = message, frames = {...}}, the
-- traceback's frames down to the last one whose line matches `cell_frame` (a Lua pattern matching the
-- cells' chunk names), so the runner's own frames are left out.
function M.error_handler(cell_frame)
  return function(e)
    local msg = error_message(e)
    local tb = debug.traceback("", 2):gsub("^\n", "")
    local lines, keep = {}, 0
    for line in tb:gmatch("[^\n]+") do
      lines[#lines + 1] = line
      if line:match(cell_frame) then keep = #lines end
    end
    local frames = {}
    for i = 2, keep do frames[#frames + 1] = lines[i] end -- lines[1] is "stack traceback:"
    return { msg = msg, frames = frames }
  end
end

--- An error as Jupyter shows it: {ename = "Error" | "Interrupted" | ename, evalue = msg, traceback = {lines}}.
function M.error_content(msg, frames, ename)
  local tb = {}
  for line in (msg .. "\n"):gmatch("(.-)\n") do tb[#tb + 1] = utf8_clean(line) end
  if frames and #frames > 0 then
    tb[#tb + 1] = "stack traceback:"
    for _, f in ipairs(frames) do tb[#tb + 1] = utf8_clean(f) end
  end
  if not ename then ename = msg:find("interrupted", 1, true) and "Interrupted" or "Error" end
  return { ename = ename, evalue = utf8_clean(msg), traceback = tb }
end

return M
