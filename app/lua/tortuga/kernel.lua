--- tg.kernel — tortuga as a Jupyter kernel, and its plain-text notebooks.
--
--   tortuga kernel -f CONNECTION_FILE        run the kernel (Jupyter starts it this way, from kernel.json)
--   tortuga kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]
--                                            write the kernelspec (kernel.json, 32x32 and 64x64 logos);
--                                            --user (the default) is ~/.local/share/jupyter/kernels
--   tortuga notebook convert IN.lua OUT.ipynb   and   tortuga notebook convert IN.ipynb OUT.lua
--   tortuga notebook run FILE.lua [--out PAGE.html] [--timeout S]
--                                            run the cells into one self-contained HTML page (tortuga.notebook)
--
-- The kernel speaks the Jupyter messaging protocol 5.3: app/lkernel.c owns the ZeroMQ sockets, the
-- HMAC-SHA256 signatures and the heartbeat and control threads; this file decodes the JSON and answers
-- kernel_info, execute, complete, inspect, is_complete, history, comm_info, interrupt and shutdown
-- requests. Cells run in the globals, with `tg` loaded (as in the REPL): `local` names last one cell, so
-- share values through globals. A cell shows the value of its last line when that line is an expression
-- (the REPL's `return <line>` rule; a trailing `;` hides it). print, io.write, io.stdout and io.stderr
-- become `stream` messages (sent in pieces of at most 64 kB, at least every 0.2 s while a cell runs; past
-- 4 MB per cell the rest is counted, not sent); io.read asks the frontend (input_request). An error shows
-- the message and the Lua traceback of the cell's frames. Interrupting (the frontend's stop button: SIGINT or
-- an interrupt_request on the control channel) cancels a running engine operation the way Ctrl-C does,
-- and stops pure Lua loops at their next instruction.
--
-- Rich output (every one also carries text/plain):
--   a volume   the PNG of its middle z slice (label images with few values in the label colour map,
--              others in grey scaled to the slice's min..max) and its shape, type and spacing as text;
--   a table    an HTML table: a list of records as rows and columns, anything else as key | value rows
--              (nested tables nested, long lists cut);
--   any value whose metatable has __display(x) returning a bundle {["image/svg+xml"] = ..., ...};
--   kernel.image(path) wraps a PNG, JPEG or SVG file (figures written by plotting code).
-- Inside the kernel, tg.display(x, ...) sends each value as display_data (outside it prints them).
--
-- Notebooks as text: Markdown in `--` comment lines, cells separated by `-- %%` lines (a chunk whose lines
-- are all comments is a Markdown cell; `-- %% [markdown]`, `-- %% [code]` and `-- %% [raw]` say it
-- explicitly, as jupytext's percent format does). The text form is a valid Lua script. M.read_notebook,
-- M.write_notebook, M.to_ipynb and M.from_ipynb convert between the forms.
--
-- Pieces shared with `tortuga notebook run` (tortuga.notebook), usable without a ZeroMQ session:
-- M.compile(code, chunkname, env), M.error_handler(frame_pattern), M.error_content(msg, frames),
-- M.value_bundles(values), M.bundle(x), M.redirect_io(sink), M.html_escape(s), M.write_atomic(path, bytes).
local core = require "tortuga.core"
local wire = require "tortuga.app.core" -- app/lkernel.c, linked into the host
local json = require "tortuga.json"
local repl = require "tortuga.repl"

local M = {}

M.PROTOCOL = "5.3"
M.NAME = "tortuga"
M.DISPLAY_NAME = "tortuga (Lua 5.4)"
M.limits = {
  stream_chunk = 64 * 1024, -- bytes per stream message
  stream_total = 4 * 1024 * 1024, -- bytes of stream output sent per cell
  text = 256 * 1024, -- bytes of text/plain per value
  rows = 50, -- rows of an HTML table
  columns = 20, -- columns of an HTML table
  labels = 32, -- a slice with at most this many integer values is shown as labels
}

local cjson = require "cjson"

local function tg_lib() return require "tortuga" end

local real_stderr = io.stderr -- the kernel's own messages; cells' io.stderr goes to the frontend

local function log(fmt, ...)
  real_stderr:write("tortuga kernel: ", string.format(fmt, ...), "\n")
  real_stderr:flush()
end

local function encode(v) return (json.encode(v, { indent = 0 })) end

local function decode(s)
  local ok, v = pcall(cjson.decode, s)
  if ok and type(v) == "table" then return v end
  return nil
end

-- Replace bytes that are not UTF-8 with U+FFFD, so the frontend's JSON decoder accepts the text.
local function utf8_clean(s)
  if utf8.len(s) then return s end
  local out, i = {}, 1
  while i <= #s do
    local n, bad = utf8.len(s, i)
    if n then
      out[#out + 1] = s:sub(i)
      break
    end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = "\u{FFFD}"
    i = bad + 1
    while i <= #s and s:byte(i) >= 0x80 and s:byte(i) < 0xC0 do i = i + 1 end
  end
  return table.concat(out)
end

-- At most `max` bytes of s, cut at a character boundary, with a note of what was left out.
local function clip(s, max)
  if #s <= max then return s end
  local cut = max
  while cut > 0 and s:byte(cut + 1) and s:byte(cut + 1) >= 0x80 and s:byte(cut + 1) < 0xC0 do cut = cut - 1 end
  return s:sub(1, cut) .. string.format("\n... (%d more bytes not shown)", #s - cut)
end

local function is_volume(x)
  local mt = getmetatable(x)
  return type(x) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == "tortuga.Volume"
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

---------------------------------------------------------------------------------------------- rich display

local function html_escape(s)
  return (s:gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end
M.html_escape = html_escape

local function number_text(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  return repl.format(x)
end

local function is_plain_table(x)
  if type(x) ~= "table" then return false end
  local mt = getmetatable(x)
  return not (type(mt) == "table" and (rawget(mt, "__tostring") or rawget(mt, "__display")))
end

local key_rank = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return (key_rank[ta] or 4) < (key_rank[tb] or 4) end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function sorted_keys(t)
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  table.sort(keys, key_less)
  return keys
end

local function seq_length(t)
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  return n
end

local table_html

local function cell_html(v, depth, seen)
  if is_plain_table(v) then
    if seen[v] then return "<i>&lt;cycle&gt;</i>" end
    if depth < 2 and next(v) ~= nil then return table_html(v, depth + 1, seen) end
    return "<code>" .. html_escape(repl.format(v)) .. "</code>"
  end
  if type(v) == "number" then return number_text(v) end
  if type(v) == "string" then return html_escape(v) end
  return html_escape(repl.format(v))
end

-- Columns of a list of records (tables with string keys only), or nil when t is not such a list.
local function record_columns(t, n)
  if n == 0 then return nil end
  local cols, seen = {}, {}
  for i = 1, n do
    local r = rawget(t, i)
    if not is_plain_table(r) or next(r) == nil or seq_length(r) > 0 then return nil end
    for k in next, r do
      if type(k) ~= "string" then return nil end
      if not seen[k] then
        seen[k] = true
        cols[#cols + 1] = k
      end
    end
  end
  local first = {}
  for k in next, rawget(t, 1) do first[k] = true end
  table.sort(cols, function(a, b) -- the first record's keys first, then the others, each sorted
    if first[a] ~= first[b] then return first[a] == true end
    return a < b
  end)
  return cols
end

local function more_row(n, span)
  return string.format('<tr><td colspan="%d"><i>... %d more</i></td></tr>', span, n)
end

table_html = function(t, depth, seen)
  seen[t] = true
  local L = M.limits
  local n, out = seq_length(t), {}
  local count = 0
  for _ in next, t do count = count + 1 end
  local cols = count == n and record_columns(t, n)
  if cols then
    local shown = math.min(#cols, L.columns)
    out[#out + 1] = "<table><thead><tr><th></th>"
    for c = 1, shown do out[#out + 1] = "<th>" .. html_escape(cols[c]) .. "</th>" end
    if #cols > shown then out[#out + 1] = string.format("<th>... %d more</th>", #cols - shown) end
    out[#out + 1] = "</tr></thead><tbody>"
    for i = 1, math.min(n, L.rows) do
      out[#out + 1] = "<tr><th>" .. i .. "</th>"
      for c = 1, shown do
        local v = t[i][cols[c]]
        out[#out + 1] = "<td>" .. (v == nil and "" or cell_html(v, depth, seen)) .. "</td>"
      end
      out[#out + 1] = "</tr>"
    end
    if n > L.rows then out[#out + 1] = more_row(n - L.rows, shown + 1) end
  else
    local keys = sorted_keys(t)
    out[#out + 1] = "<table><tbody>"
    for i = 1, math.min(#keys, L.rows) do
      local k = keys[i]
      local kt = type(k) == "string" and html_escape(k) or html_escape(repl.format(k))
      out[#out + 1] = "<tr><th>" .. kt .. "</th><td>" .. cell_html(t[k], depth, seen) .. "</td></tr>"
    end
    if #keys > L.rows then out[#out + 1] = more_row(#keys - L.rows, 2) end
  end
  out[#out + 1] = "</tbody></table>"
  seen[t] = nil
  return table.concat(out)
end

local function spacing_text(sp)
  local function unit(x)
    if x == 1 then return "1 (unknown unit)" end
    if x >= 1e-3 then return string.format("%.4g mm", x * 1e3) end
    if x >= 1e-6 then return string.format("%.4g µm", x * 1e6) end
    return string.format("%.4g nm", x * 1e9)
  end
  if sp[1] == sp[2] and sp[2] == sp[3] then return unit(sp[1]) end
  return unit(sp[1]) .. " x " .. unit(sp[2]) .. " x " .. unit(sp[3])
end

local INTEGER_TYPES = { u8 = true, u16 = true, i32 = true }

local function volume_bundle(v, opts)
  local tg = tg_lib()
  local nx, ny, nz = v:dims()
  local z = opts and opts.z or nz // 2 + 1
  local slice = v:slice(z)
  local png_opts, what = { z = z }, nil
  if INTEGER_TYPES[v.dtype] then
    local counts, labels = slice:counts(), {}
    for label in pairs(counts) do labels[#labels + 1] = label end
    table.sort(labels)
    if #labels <= M.limits.labels and labels[1] >= 0 and labels[#labels] <= 255 then
      png_opts.colormap = "labels"
      local parts = {}
      for i, label in ipairs(labels) do
        parts[i] = string.format("%d (%.1f %%)", label, 100 * counts[label] / (nx * ny))
      end
      what = "labels in this slice: " .. table.concat(parts, ", ")
    end
  end
  if not png_opts.colormap then
    local s = slice:stats()
    local lo, hi = s.min, s.max
    if not (lo < hi) then hi = lo + 1 end
    png_opts.colormap, png_opts.range = "grey", { lo, hi }
    what = string.format("grey from %s (black) to %s (white)", repl.format(lo), repl.format(hi))
  end
  local text = string.format("%s\n%d x %d x %d voxels (x, y, z), %s, spacing %s\nshown: slice z = %d of %d, %s",
    tostring(v), nx, ny, nz, v.dtype, spacing_text(v:spacing()), z, nz, what)
  local tmp = os.tmpname()
  local path = tmp .. ".png"
  local ok, err = pcall(tg.io.write_png, path, v, png_opts)
  local bytes = ok and read_file(path)
  os.remove(path)
  os.remove(tmp)
  if not bytes then
    return { ["text/plain"] = text .. "\n(no image: " .. tostring(err) .. ")" }
  end
  local meta = {}
  if nx < 256 then meta["image/png"] = { width = nx * math.max(1, 256 // nx) } end
  return { ["text/plain"] = text, ["image/png"] = wire.base64(bytes) }, meta
end

local bundle

--- The MIME bundle of a value: data, metadata. opts (volumes): {z = slice}. A value that fails to show
-- (a __display that raises) shows as text with the reason.
function M.bundle(x, opts)
  local ok, data, meta = pcall(bundle, x, opts)
  if ok then return data, meta end
  return { ["text/plain"] = utf8_clean(clip(repl.show(x), M.limits.text) .. "\n(cannot display it: " ..
                                       tostring(data) .. ")") }, {}
end

bundle = function(x, opts)
  local mt = getmetatable(x)
  local data, meta
  if type(mt) == "table" and type(rawget(mt, "__display")) == "function" then
    data, meta = rawget(mt, "__display")(x, opts)
    if type(data) ~= "table" then error("__display must return a table of MIME type -> data", 0) end
  elseif is_volume(x) then
    data, meta = volume_bundle(x, opts)
  elseif is_plain_table(x) and next(x) ~= nil then
    data = { ["text/html"] = table_html(x, 0, {}) }
  else
    data = {}
  end
  if data["text/plain"] == nil then data["text/plain"] = repl.show(x) end
  for k, v in pairs(data) do -- base64 images are ASCII; text (and SVG) must be UTF-8
    if type(v) == "string" and (k == "image/svg+xml" or not k:match("^image/")) then
      data[k] = utf8_clean(k == "text/plain" and clip(v, M.limits.text) or v)
    end
  end
  return data, meta or {}
end

local IMAGE_TYPES = { png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", svg = "image/svg+xml",
                      gif = "image/gif" }
local image_mt = {
  __name = "tortuga.kernel.image",
  __tostring = function(img) return "image: " .. img.path end,
  __display = function(img)
    local bytes, err = read_file(img.path)
    if not bytes then return { ["text/plain"] = "image: cannot read " .. tostring(err) } end
    local mime = img.mime
    local data = { ["text/plain"] = "image: " .. img.path }
    data[mime] = mime == "image/svg+xml" and bytes or wire.base64(bytes)
    return data
  end,
}

--- An image file (PNG, JPEG, GIF or SVG) to show: tg.display(tg.kernel.image("figure.svg")).
function M.image(path)
  if type(path) ~= "string" then error("tg.kernel.image: expected a file path, got " .. type(path), 2) end
  local ext = (path:match("%.(%w+)$") or ""):lower()
  local mime = IMAGE_TYPES[ext]
  if not mime then error("tg.kernel.image: '" .. path .. "' is not a .png, .jpg, .gif or .svg file", 2) end
  return setmetatable({ path = path, mime = mime }, image_mt)
end

---------------------------------------------------------------------------------------------- the kernel state

local S = nil -- the running kernel: {k, session, count, parent, allow_stdin, out, ...}

local function header(msg_type)
  return { msg_id = wire.uuid(), session = S.session, username = "kernel", date = wire.isodate(),
           msg_type = msg_type, version = M.PROTOCOL }
end

local function send(channel, idents, msg_type, content, parent_raw)
  S.k:send(channel, idents, encode(header(msg_type)), parent_raw or "{}", "{}", encode(content))
end

local function publish(msg_type, content)
  local parent = S.parent
  send("iopub", { "kernel." .. S.session .. "." .. msg_type }, msg_type, content, parent and parent.raw_header)
end

local function reply(msg, content)
  local t = msg.header.msg_type:gsub("_request$", "_reply")
  send(msg.channel, msg.idents, t, content, msg.raw_header)
end

-- ---- output streams

local function flush()
  local o = S and S.out
  if not o or #o.parts == 0 then return end
  local text = table.concat(o.parts)
  o.parts, o.bytes, o.last = {}, 0, core.now()
  local chunk = M.limits.stream_chunk
  local i = 1
  while i <= #text do
    local j = math.min(#text, i + chunk - 1)
    while j < #text and j > i and text:byte(j + 1) >= 0x80 and text:byte(j + 1) < 0xC0 do j = j - 1 end
    publish("stream", { name = o.name, text = utf8_clean(text:sub(i, j)) })
    i = j + 1
  end
end

local function new_output()
  return { parts = {}, bytes = 0, total = 0, dropped = 0, last = core.now(), name = "stdout" }
end

local function out_write(name, s)
  if not S.out then S.out = new_output() end
  local o = S.out
  if o.name ~= name then
    flush()
    o.name = name
  end
  if o.total + #s > M.limits.stream_total then
    o.dropped = o.dropped + #s
    return
  end
  o.total = o.total + #s
  o.parts[#o.parts + 1] = s
  o.bytes = o.bytes + #s
  if o.bytes >= 8192 or core.now() - o.last >= 0.2 then flush() end
end

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

local function input(prompt)
  flush()
  local parent = S.parent
  if not (parent and S.allow_stdin) then
    error("io.read: this frontend does not take input (the request has allow_stdin = false)", 3)
  end
  send("stdin", parent.idents, "input_request", { prompt = prompt or "", password = false }, parent.raw_header)
  while true do -- a loop in Lua, so an interrupt stops the wait
    local m = S.k:recv_stdin(100)
    local h = m and decode(m.header)
    if h and h.msg_type == "input_reply" then
      local c = decode(m.content) or {}
      return type(c.value) == "string" and c.value or ""
    end
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

---------------------------------------------------------------------------------------------- display

--- Send values to the frontend as display_data (inside the kernel); elsewhere print them as the REPL does.
function M.display(...)
  local n = select("#", ...)
  if not (S and S.parent) then
    repl.print(...)
    return
  end
  for i = 1, n do
    local data, meta = M.bundle((select(i, ...)))
    flush()
    publish("display_data", { data = data, metadata = meta, transient = {} })
  end
end

---------------------------------------------------------------------------------------------- execution

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

local function is_rich(x)
  local mt = getmetatable(x)
  return is_volume(x) or (type(x) == "table" and next(x) ~= nil and is_plain_table(x)) or
         (type(mt) == "table" and type(rawget(mt, "__display")) == "function")
end

--- The outputs that show the values a cell returned (v = table.pack(...), v.n >= 1): a list of
-- {data =, metadata =} bundles, the last being the cell's result. Several values give one bundle each
-- when any of them is rich (a volume, a table, a __display value), else one line of text.
function M.value_bundles(v)
  local rich = false
  for i = 1, v.n do rich = rich or is_rich(v[i]) end
  local out = {}
  if v.n == 1 or rich then
    for i = 1, v.n do
      local data, meta = M.bundle(v[i])
      out[i] = { data = data, metadata = meta }
    end
  else
    out[1] = { data = { ["text/plain"] = utf8_clean(clip(repl.show(table.unpack(v, 1, v.n)), M.limits.text)) },
               metadata = {} }
  end
  return out
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

local on_error = M.error_handler("^%s*In%[%d*%]:")

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

local function user_expressions(exprs)
  local out = {}
  for name, code in pairs(type(exprs) == "table" and exprs or {}) do
    local f, err = load("return " .. tostring(code), "=expression", "t")
    local r = f and table.pack(wire.pcall(on_error, f))
    if r and r[1] then
      local data, meta = M.bundle(table.unpack(r, 2, math.max(2, r.n)))
      out[name] = { status = "ok", data = data, metadata = meta }
    else
      local e = r and r[2] or { msg = err, frames = {} }
      local c = M.error_content(e.msg, e.frames)
      c.status = "error"
      out[name] = c
    end
  end
  return out
end

local function execute(msg)
  local c = msg.content
  local code = type(c.code) == "string" and c.code or ""
  local silent = c.silent == true
  if c.store_history ~= false and not silent then S.count = S.count + 1 end
  local n = S.count
  S.allow_stdin = c.allow_stdin == true
  if not silent then publish("execute_input", { code = code, execution_count = n }) end
  S.out = new_output()
  local name = silent and "=In[]" or ("=In[" .. n .. "]")
  local f, err, quiet = M.compile(code, name)
  local status, content
  if not f then
    content = M.error_content(err, nil, "SyntaxError")
  else
    local r = table.pack(wire.pcall(on_error, f))
    flush()
    if r[1] then
      status = "ok"
      if r.n > 1 and not (silent or quiet) then
        local shown = M.value_bundles(table.pack(table.unpack(r, 2, r.n)))
        for i = 1, #shown - 1 do
          flush()
          publish("display_data", { data = shown[i].data, metadata = shown[i].metadata, transient = {} })
        end
        local last = shown[#shown]
        publish("execute_result", { execution_count = n, data = last.data, metadata = last.metadata })
      end
    else
      content = M.error_content(r[2].msg, r[2].frames)
    end
  end
  flush()
  if S.out.dropped > 0 then
    publish("stream", { name = "stderr", text = string.format(
      "[tortuga kernel: %d bytes of output not shown; the limit is %d bytes per cell]\n", S.out.dropped,
      M.limits.stream_total) })
  end
  if status == "ok" then
    reply(msg, { status = "ok", execution_count = n, payload = json.empty_array,
                 user_expressions = user_expressions(c.user_expressions) })
  else
    if not silent then publish("error", content) end
    content.status, content.execution_count = "error", n
    reply(msg, content)
  end
end

---------------------------------------------------------------------------------------------- completion, inspection

-- The Lua name path around byte position `pos` of code: text before (and after, for inspect) it.
local function name_at(code, cursor, whole)
  local pos = #code
  if math.type(cursor) == "integer" then
    local b = utf8.len(code) and utf8.offset(code, cursor + 1)
    pos = b and b - 1 or math.min(cursor, #code)
  end
  local before = code:sub(1, pos):match("[%w_%.:]*$")
  local after = whole and code:sub(pos + 1):match("^[%w_]*") or ""
  return before, after, pos
end

local function complete(msg)
  local c = msg.content
  local code = type(c.code) == "string" and c.code or ""
  local token, _, pos = name_at(code, c.cursor_pos, false)
  local ok, matches = pcall(repl.complete, token)
  if not ok then matches = {} end
  local cursor = utf8.len(code, 1, pos) or pos
  reply(msg, { status = "ok", matches = #matches > 0 and matches or json.empty_array,
               cursor_start = cursor - #token, cursor_end = cursor, metadata = {} })
end

local function lookup(path)
  local x = _G
  for name in path:gmatch("[^.:]+") do
    if type(x) ~= "table" and type(x) ~= "userdata" and type(x) ~= "string" then return nil end
    local ok, v = pcall(function() return x[name] end)
    if not ok or v == nil then return nil end
    x = v
  end
  return x
end

local source_cache = {}
local function source_lines(path)
  if source_cache[path] == nil then
    local text = read_file(path)
    local lines = {}
    for line in ((text or "") .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = line end
    source_cache[path] = text and lines or false
  end
  return source_cache[path] or nil
end

--- The documentation of a function: its `---` comment block (the lines above its definition), its
-- definition line and where it is. nil for C functions and code without a source file.
function M.doc(f, detail)
  local info = debug.getinfo(f, "S")
  if info.what == "C" or info.source:sub(1, 1) ~= "@" then return nil end
  local path = info.source:sub(2)
  local lines = source_lines(path)
  if not lines or not lines[info.linedefined] then return nil end
  local first = info.linedefined
  while first > 1 and lines[first - 1]:match("^%s*%-%-") do first = first - 1 end
  while first < info.linedefined and not lines[first]:match("^%s*%-%-%-") do first = first + 1 end
  local doc = {}
  for i = first, info.linedefined - 1 do
    doc[#doc + 1] = lines[i]:gsub("^%s*%-%-%-?%s?", "")
  end
  local out = { (lines[info.linedefined]:gsub("^%s+", "")) }
  if #doc > 0 then out[#out + 1] = "\n" .. table.concat(doc, "\n") end
  out[#out + 1] = string.format("\n%s:%d", path, info.linedefined)
  if detail and detail > 0 then
    out[#out + 1] = "\n" .. table.concat(lines, "\n", info.linedefined, math.min(#lines, info.lastlinedefined))
  end
  return table.concat(out, "\n")
end

local function inspect(msg)
  local c = msg.content
  local code = type(c.code) == "string" and c.code or ""
  local before, after = name_at(code, c.cursor_pos, true)
  local name = (before .. after):gsub("[.:]+$", "")
  local x = name ~= "" and lookup(name) or nil
  if x == nil then
    reply(msg, { status = "ok", found = false, data = {}, metadata = {} })
    return
  end
  local text
  if type(x) == "function" then
    text = M.doc(x, c.detail_level) or "built-in function"
    text = name .. ": " .. text
  elseif is_volume(x) then
    text = M.bundle(x)["text/plain"]
  else
    text = name .. " = " .. repl.format(x)
  end
  reply(msg, { status = "ok", found = true, data = { ["text/plain"] = utf8_clean(clip(text, M.limits.text)) },
               metadata = {} })
end

--- Is `code` a complete statement? "complete", "incomplete" (Lua's "<eof>" rule, as the REPL uses) or
-- "invalid", and the indent for the next line when incomplete.
function M.is_complete(code)
  if code:match("^%s*$") then return "complete" end
  local f, err = load(code, "=cell", "t")
  if f or load("return " .. code, "=cell", "t") then return "complete" end
  if err:sub(-5) == "<eof>" then
    local last = code:match("([^\n]*)\n?$") or ""
    return "incomplete", (last:match("^%s*") or "") .. "  "
  end
  return "invalid"
end

---------------------------------------------------------------------------------------------- the loop

local function kernel_info()
  local tg = tg_lib()
  return {
    status = "ok",
    protocol_version = M.PROTOCOL,
    implementation = M.NAME,
    implementation_version = tg.version,
    language_info = { name = "lua", version = _VERSION:match("%d+%.%d+"), mimetype = "text/x-lua",
                      file_extension = ".lua", pygments_lexer = "lua", codemirror_mode = "lua",
                      nbconvert_exporter = "script" },
    banner = string.format("tortuga %s on %s: `tg` is loaded; Tab completes, Shift-Tab shows a function's doc",
                           tg.version, _VERSION),
    help_links = json.empty_array,
    debugger = false,
  }
end

local handlers = {}
handlers.kernel_info_request = function(msg) reply(msg, kernel_info()) end
handlers.execute_request = execute
handlers.complete_request = complete
handlers.inspect_request = inspect
handlers.is_complete_request = function(msg)
  local code = msg.content.code
  local status, indent = M.is_complete(type(code) == "string" and code or "")
  reply(msg, { status = status, indent = indent })
end
handlers.history_request = function(msg) reply(msg, { status = "ok", history = json.empty_array }) end
handlers.comm_info_request = function(msg) reply(msg, { status = "ok", comms = {} }) end
handlers.interrupt_request = function(msg) reply(msg, { status = "ok" }) end -- the control thread signalled
handlers.shutdown_request = function(msg)
  reply(msg, { status = "ok", restart = msg.content.restart == true })
  S.stopping = true
end
-- comms (widgets) are not supported: the frontend's comm_open gets a comm_close
handlers.comm_open = function(msg)
  local id = msg.content.comm_id
  if type(id) == "string" then publish("comm_close", { comm_id = id, data = {} }) end
end
handlers.comm_msg = function() end
handlers.comm_close = function() end

local function dispatch(channel, raw)
  local msg = { channel = channel, idents = raw.idents, raw_header = raw.header }
  msg.header, msg.content = decode(raw.header), decode(raw.content)
  if not (msg.header and msg.content and type(msg.header.msg_type) == "string") then
    log("refused a message on the %s channel: its header or content is not a JSON object", channel)
    return
  end
  local t = msg.header.msg_type
  local handler = handlers[t]
  S.parent, S.out = msg, new_output()
  if t == "execute_request" then wire.cell(true) end -- interruptible from here on
  publish("status", { execution_state = "busy" })
  if handler then
    local ok, err = xpcall(handler, debug.traceback, msg)
    if not ok then
      log("internal error while answering %s: %s", t, tostring(err))
      if t:match("_request$") then -- the client waits for a reply
        pcall(reply, msg, { status = "error", ename = "KernelError", evalue = utf8_clean(tostring(err)),
                            traceback = { utf8_clean(tostring(err)) } })
      end
    end
  else
    log("unknown message type '%s' on the %s channel; ignored", t, channel)
  end
  wire.cell(false)
  flush()
  publish("status", { execution_state = "idle" })
  S.parent, S.out = nil, nil
end

local CONNECTION_FIELDS = { "shell_port", "iopub_port", "stdin_port", "control_port", "hb_port" }

--- Read a connection file: the table, or nil and a message naming the file and the problem.
function M.read_connection(path)
  local text, err = read_file(path)
  if not text then return nil, string.format("cannot read the connection file: %s", err) end
  local ok, conn = pcall(cjson.decode, text)
  if not ok or type(conn) ~= "table" then
    return nil, string.format("%s: not a JSON object (%s)", path, ok and type(conn) or tostring(conn))
  end
  for _, f in ipairs(CONNECTION_FIELDS) do
    if math.type(conn[f]) ~= "integer" and not (type(conn[f]) == "number" and conn[f] == math.floor(conn[f])) then
      return nil, string.format("%s: '%s' is missing or not an integer port", path, f)
    end
    conn[f] = math.tointeger(conn[f])
  end
  for _, f in ipairs({ "ip", "transport", "key", "signature_scheme" }) do
    if conn[f] ~= nil and type(conn[f]) ~= "string" then
      return nil, string.format("%s: '%s' must be a string", path, f)
    end
  end
  return conn
end

--- Run the kernel on a connection file until a shutdown_request; returns the exit status.
function M.run(connection_file)
  local conn, err = M.read_connection(connection_file)
  if not conn then
    log("%s", err)
    return 1
  end
  local ok, k = pcall(wire.open, conn)
  if not ok then
    log("%s: %s", connection_file, tostring(k))
    return 1
  end
  local tg = tg_lib()
  S = { k = k, session = wire.uuid(), count = 0 }
  local saved_tg, saved_display = rawget(_G, "tg"), tg.display
  _G.tg, tg.display = tg, M.display
  tg.progress(false)
  local restore = M.redirect_io({ write = out_write, flush = flush, input = input })
  publish("status", { execution_state = "starting" })
  while not S.stopping do
    local channel, raw = k:recv(1000)
    if raw then dispatch(channel, raw) end
  end
  restore()
  k:close()
  _G.tg, tg.display = saved_tg, saved_display
  S = nil
  return 0
end

---------------------------------------------------------------------------------------------- notebooks

local HEADER = "^%-%- %%%%%s*$"
local TAGGED = "^%-%- %%%%%s*%[(%w+)%]%s*$"
local TAGS = { markdown = "markdown", md = "markdown", code = "code", raw = "raw" }

-- The lines without the blank ones at both ends, and how many were dropped at the start.
local function trim_blank(lines)
  local a, b = 1, #lines
  while a <= b and lines[a]:match("^%s*$") do a = a + 1 end
  while b >= a and lines[b]:match("^%s*$") do b = b - 1 end
  return table.move(lines, a, b, 1, {}), a - 1
end

local function all_comments(lines)
  if #lines == 0 then return false end
  for _, l in ipairs(lines) do
    if not (l:match("^%s*$") or l:match("^%-%-")) then return false end
  end
  return true
end

local function uncomment(lines)
  local out = {}
  for i, l in ipairs(lines) do out[i] = (l:gsub("^%-%- ?", "")) end
  return out
end

--- Parse the text form: a list of cells {cell_type = "markdown"|"code"|"raw", source = "text", line = n},
-- where line is the number of the source's first line in the text.
function M.read_notebook(text)
  local chunks, cur = {}, { lines = {}, header = false, first = 1 }
  local number = 0
  for line in (text:gsub("\r\n", "\n") .. "\n"):gmatch("(.-)\n") do
    number = number + 1
    local tag = line:match(TAGGED)
    if number == 1 and line:match("^#!") then
      line = nil
      cur.first = 2
    elseif tag or line:match(HEADER) then
      chunks[#chunks + 1] = cur
      cur = { lines = {}, header = true, tag = tag and tag:lower(), first = number + 1 }
      line = nil
    end
    if line then cur.lines[#cur.lines + 1] = line end
  end
  chunks[#chunks + 1] = cur
  local cells = {}
  for _, ch in ipairs(chunks) do
    local lines, skipped = trim_blank(ch.lines)
    if ch.tag and not TAGS[ch.tag] then
      error(string.format("notebook: unknown cell tag '[%s]' (expected markdown, code or raw)", ch.tag), 2)
    end
    local kind = ch.tag and TAGS[ch.tag] or (all_comments(lines) and "markdown" or "code")
    if ch.header or #lines > 0 then
      if kind ~= "code" then lines = uncomment(lines) end
      cells[#cells + 1] = { cell_type = kind, source = table.concat(lines, "\n"), line = ch.first + skipped }
    end
  end
  return cells
end

local function comment_lines(source)
  local out = {}
  for line in (source .. "\n"):gmatch("(.-)\n") do out[#out + 1] = line == "" and "--" or "-- " .. line end
  return out
end

--- The text form of a list of cells.
function M.write_notebook(cells)
  local out = {}
  for i, cell in ipairs(cells) do
    local src = cell.source or ""
    local lines, header
    if cell.cell_type == "markdown" then
      lines = comment_lines(src)
      header = src == "" and "-- %% [markdown]" or "-- %%"
    elseif cell.cell_type == "raw" then
      lines, header = comment_lines(src), "-- %% [raw]"
    else
      lines = {}
      for line in (src .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
      lines = trim_blank(lines)
      header = (#lines > 0 and all_comments(lines)) and "-- %% [code]" or "-- %%"
    end
    if i > 1 then out[#out + 1] = "" end
    if not (i == 1 and header == "-- %%" and cell.cell_type == "markdown") then out[#out + 1] = header end
    for _, l in ipairs(lines) do out[#out + 1] = l end
  end
  return table.concat(out, "\n") .. "\n"
end

local function source_list(src)
  local list = {}
  for line in src:gmatch("[^\n]*\n?") do
    if line ~= "" then list[#list + 1] = line end
  end
  return #list > 0 and list or json.empty_array
end

--- The .ipynb (nbformat 4.5) JSON text of a list of cells, without outputs.
function M.to_ipynb(cells)
  local nb_cells = {}
  for i, cell in ipairs(cells) do
    local c = { cell_type = cell.cell_type, id = string.format("cell-%d", i), metadata = {},
                source = source_list(cell.source) }
    if cell.cell_type == "code" then c.execution_count, c.outputs = cjson.null, json.empty_array end
    nb_cells[i] = c
  end
  local nb = {
    cells = #nb_cells > 0 and nb_cells or json.empty_array,
    metadata = {
      kernelspec = { name = M.NAME, display_name = M.DISPLAY_NAME, language = "lua" },
      language_info = { name = "lua", version = _VERSION:match("%d+%.%d+"), mimetype = "text/x-lua",
                        file_extension = ".lua", pygments_lexer = "lua", codemirror_mode = "lua" },
    },
    nbformat = 4,
    nbformat_minor = 5,
  }
  return (json.encode(nb, { indent = 1 })) .. "\n"
end

--- The cells of an .ipynb JSON text (outputs are dropped); nil, reason when it is not a notebook.
function M.from_ipynb(text)
  local ok, nb = pcall(cjson.decode, text)
  if not ok or type(nb) ~= "table" then return nil, "not JSON: " .. tostring(nb) end
  if type(nb.nbformat) ~= "number" or nb.nbformat < 4 then -- (lua-cjson decodes every number as a float)
    return nil, "not an nbformat 4 notebook (nbformat = " .. tostring(nb.nbformat) .. ")"
  end
  if type(nb.cells) ~= "table" then return nil, "the notebook has no list of cells" end
  local cells = {}
  for i, c in ipairs(nb.cells) do
    if type(c) ~= "table" or not TAGS[c.cell_type] then
      return nil, string.format("cell %d has no known cell_type", i)
    end
    local src = c.source
    if type(src) == "table" then src = table.concat(src) end
    if type(src) ~= "string" then return nil, string.format("cell %d has no source text", i) end
    cells[#cells + 1] = { cell_type = c.cell_type, source = (src:gsub("\n$", "")) }
  end
  return cells
end

---------------------------------------------------------------------------------------------- commands

-- Write through a temporary name, renamed when complete: true or nil, message.
local function write_file(path, bytes)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(bytes)
  local cok, cerr = f:close()
  if not (ok and cok) then
    os.remove(tmp)
    return nil, tostring(werr or cerr)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, rerr
  end
  return true
end

M.write_atomic = write_file

local function mkdir_p(dir)
  local lfs = require "lfs"
  local path = dir:sub(1, 1) == "/" and "" or "."
  for part in dir:gmatch("[^/]+") do
    path = path .. "/" .. part
    if lfs.attributes(path, "mode") ~= "directory" then
      local ok, err = lfs.mkdir(path)
      if not ok and lfs.attributes(path, "mode") ~= "directory" then return nil, path .. ": " .. tostring(err) end
    end
  end
  return true
end

-- The logo: a turtle seen from above, drawn in the unit square so any size renders the same shape.
local function logo_volume(n)
  local tg = tg_lib()
  local v = tg.volume.new { n, n, 1, dtype = "u8" }
  local function inside(u, w, cu, cw, ru, rw) return ((u - cu) / ru) ^ 2 + ((w - cw) / rw) ^ 2 <= 1 end
  for y = 1, n do
    for x = 1, n do
      local u, w = (x - 0.5) / n * 2 - 1, (y - 0.5) / n * 2 - 1
      local label = 0
      if inside(u, w, 0.72, 0, 0.17, 0.15) or inside(u, w, -0.74, 0, 0.12, 0.07) then label = 3 end
      for _, p in ipairs({ { 0.42, 0.5 }, { 0.42, -0.5 }, { -0.42, 0.5 }, { -0.42, -0.5 } }) do
        if inside(u, w, p[1], p[2], 0.16, 0.16) then label = 3 end
      end
      local e = (u / 0.64) ^ 2 + (w / 0.52) ^ 2
      if e <= 1 then
        label = 1
        local r = math.sqrt(e)
        if (r > 0.42 and r < 0.56) or (r < 0.49 and math.abs(w) < 0.05) or (r > 0.49 and r < 0.9 and
            (math.abs(u) < 0.05 or math.abs(w - u * 0.8) < 0.05 or math.abs(w + u * 0.8) < 0.05)) then
          label = 2
        end
      end
      v:set(x, y, 1, label)
    end
  end
  return v
end

local LOGO_COLOURS = { [0] = { 255, 255, 255 }, [1] = { 64, 160, 96 }, [2] = { 24, 80, 48 }, [3] = { 150, 205, 120 } }

local function write_logo(path, n)
  local tg = tg_lib()
  return pcall(tg.io.write_png, path, logo_volume(n), { colormap = "labels", labels = LOGO_COLOURS })
end

local function data_dir_user()
  local d = os.getenv("JUPYTER_DATA_DIR")
  if d and d ~= "" then return d end
  local xdg = os.getenv("XDG_DATA_HOME")
  if xdg and xdg ~= "" then return xdg .. "/jupyter" end
  local home = os.getenv("HOME")
  if not home or home == "" then return nil, "HOME is not set; give --prefix DIR" end
  return home .. "/.local/share/jupyter"
end

local KERNEL_USAGE = [[
usage: tortuga kernel -f CONNECTION_FILE
       tortuga kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]

Run tortuga as a Jupyter kernel (Jupyter starts it with the connection file it wrote), or install the
kernelspec so that Jupyter Notebook, JupyterLab and `jupyter kernelspec list` offer "tortuga (Lua 5.4)".

  -f FILE           the connection file (ports, key) written by Jupyter
  --user            install for this user: $JUPYTER_DATA_DIR or ~/.local/share/jupyter (the default)
  --sys-prefix      install into the active Python environment ($VIRTUAL_ENV, $CONDA_PREFIX, else /usr)
  --prefix DIR      install into DIR/share/jupyter/kernels
  --name NAME       the kernelspec's name (default tortuga)
  -h, --help        this help
]]

local NOTEBOOK_USAGE = [[
usage: tortuga notebook run FILE [--out PAGE.html] [--timeout SECONDS]
       tortuga notebook convert IN OUT

run: execute a notebook (FILE.lua or FILE.ipynb) cell by cell into one self-contained HTML page with
the outputs inline (`tortuga notebook run --help` for details); exit status 1 when a cell fails.
convert: convert a notebook between its plain-text form (a .lua file: Markdown in `--` comment lines,
cells separated by `-- %%` lines) and Jupyter's .ipynb, in either direction (by the file extensions).
Outputs of an .ipynb are not kept in the text form.

  -h, --help        this help
]]

-- Parse args: flags {name = "flag" | "value"}; returns options, positionals or nil, message.
local function parse(args, flags)
  local o, pos = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then
      o.help = true
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      local name, value = a:match("^%-%-?([%w%-]+)=(.*)$")
      name = name or a:match("^%-%-?([%w%-]+)$")
      local kind = name and flags[name]
      if not kind then return nil, string.format("unknown option '%s'", a) end
      if kind == "value" and value == nil then
        i = i + 1
        value = args[i]
        if value == nil then return nil, string.format("option '%s' needs a value", a) end
      end
      o[name] = kind == "flag" or value
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return o, pos
end

local function install(o, out, err)
  local chosen = (o.user and 1 or 0) + (o["sys-prefix"] and 1 or 0) + (o.prefix and 1 or 0)
  if chosen > 1 then
    err:write("tortuga kernel install: give one of --user, --sys-prefix, --prefix DIR\n")
    return 2
  end
  local base, why
  if o.prefix then base = o.prefix .. "/share/jupyter"
  elseif o["sys-prefix"] then
    local p = os.getenv("VIRTUAL_ENV") or os.getenv("CONDA_PREFIX")
    base = ((p and p ~= "") and p or "/usr") .. "/share/jupyter"
  else
    base, why = data_dir_user()
    if not base then
      err:write("tortuga kernel install: ", why, "\n")
      return 1
    end
  end
  local name = o.name or M.NAME
  if not name:match("^[%w%._%-]+$") then
    err:write("tortuga kernel install: --name must be letters, digits, '.', '_' or '-', got '", name, "'\n")
    return 2
  end
  local exe = wire.exe()
  if not exe or not exe:match("tortuga[^/]*$") then
    err:write("tortuga kernel install: run it from the tortuga executable (this is ", tostring(exe), ")\n")
    return 1
  end
  local dir = base .. "/kernels/" .. name
  local ok, e = mkdir_p(dir)
  if not ok then
    err:write("tortuga kernel install: cannot create ", dir, ": ", e, "\n")
    return 1
  end
  local spec = {
    argv = { exe, "kernel", "-f", "{connection_file}" },
    display_name = M.DISPLAY_NAME,
    language = "lua",
    interrupt_mode = "message",
    metadata = { debugger = false },
  }
  ok, e = write_file(dir .. "/kernel.json", (json.encode(spec, { indent = 2 })) .. "\n")
  if not ok then
    err:write("tortuga kernel install: cannot write ", dir, "/kernel.json: ", tostring(e), "\n")
    return 1
  end
  for _, n in ipairs({ 32, 64 }) do
    local path = string.format("%s/logo-%dx%d.png", dir, n, n)
    local lok, lerr = write_logo(path, n)
    if not lok then
      err:write("tortuga kernel install: cannot write ", path, ": ", tostring(lerr), "\n")
      return 1
    end
  end
  out:write("installed the kernelspec '", name, "' in ", dir, "\n")
  return 0
end

-- Parse a subcommand's arguments; on a usage error or --help, answer and return nil and the exit status.
-- prog names the command in messages ("tortuga kernel install"), help the command whose --help to suggest.
local function parse_cmd(args, spec, prog, help, usage, out, err)
  local o, pos = parse(args, spec)
  if not o then
    err:write(prog, ": ", pos, "\n", "Try '", help, " --help'.\n")
    return nil, 2
  end
  if o.help then
    out:write(usage)
    return nil, 0
  end
  return o, pos
end

local function kernel_cmd(args, out, err)
  out, err = out or io.stdout, err or io.stderr
  args = args or {}
  if args[1] == "install" then
    local o, e = parse_cmd(table.move(args, 2, #args, 1, {}), { user = "flag", ["sys-prefix"] = "flag",
                           prefix = "value", name = "value" }, "tortuga kernel install", "tortuga kernel", KERNEL_USAGE,
                           out, err)
    if not o then return e end
    if #e > 0 then
      err:write("tortuga kernel install: unexpected argument '", e[1], "'\n")
      return 2
    end
    return install(o, out, err)
  end
  local o, pos = parse_cmd(args, { f = "value", ["connection-file"] = "value" }, "tortuga kernel", "tortuga kernel",
                           KERNEL_USAGE, out, err)
  if not o then return pos end
  local file = o.f or o["connection-file"] or pos[1]
  if not file or #pos > (o.f and 0 or 1) then
    err:write("tortuga kernel: expected -f CONNECTION_FILE (Jupyter passes it) or 'install'\n",
              "Try 'tortuga kernel --help'.\n")
    return 2
  end
  return M.run(file)
end

--- Convert between the text form and .ipynb by the extensions; returns true or nil, message.
function M.convert(from, to)
  local function ext(p) return (p:match("%.(%w+)$") or ""):lower() end
  local a, b = ext(from), ext(to)
  if not ((a == "lua" and b == "ipynb") or (a == "ipynb" and b == "lua")) then
    return nil, string.format("expected FILE.lua FILE.ipynb or FILE.ipynb FILE.lua, got '%s' and '%s'", from, to)
  end
  local text, err = read_file(from)
  if not text then return nil, "cannot read " .. tostring(err) end
  local result
  if a == "lua" then
    local ok, cells = pcall(M.read_notebook, text)
    if not ok then return nil, from .. ": " .. tostring(cells):gsub("^[^:]*:%d+: ", "") end
    result = M.to_ipynb(cells)
  else
    local cells, why = M.from_ipynb(text)
    if not cells then return nil, from .. ": " .. why end
    result = M.write_notebook(cells)
  end
  local ok, werr = write_file(to, result)
  if not ok then return nil, "cannot write " .. to .. ": " .. tostring(werr) end
  return true
end

local function notebook_cmd(args, out, err)
  out, err = out or io.stdout, err or io.stderr
  args = args or {}
  if args[1] == "run" then return require("tortuga.notebook").command(table.move(args, 2, #args, 1, {}), out, err) end
  local o, pos = parse_cmd(args, {}, "tortuga notebook", "tortuga notebook", NOTEBOOK_USAGE, out, err)
  if not o then return pos end
  if pos[1] ~= "convert" or #pos ~= 3 then
    err:write("tortuga notebook: expected 'run FILE' or 'convert IN OUT'\n", "Try 'tortuga notebook --help'.\n")
    return 2
  end
  local ok, e = M.convert(pos[2], pos[3])
  if not ok then
    err:write("tortuga notebook convert: ", e, "\n")
    return e:match("^expected") and 2 or 1
  end
  out:write("wrote ", pos[3], "\n")
  return 0
end

--- The subcommands this module adds to the tortuga executable (wired by tortuga.cli).
M.commands = {
  { name = "kernel", run = kernel_cmd,
    summary = "run as a Jupyter kernel (-f CONNECTION_FILE), or 'kernel install [--user|--sys-prefix|--prefix DIR]'" },
  { name = "notebook", run = notebook_cmd,
    summary = "run a notebook into an HTML page: 'notebook run FILE.lua [--out PAGE.html]'; " ..
              "'notebook convert FILE.lua FILE.ipynb' (or back)" },
}

return M
