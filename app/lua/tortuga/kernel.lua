--- tg.kernel — tortuga as a Jupyter kernel.
--
--   tortuga kernel -f CONNECTION_FILE        run the kernel (Jupyter starts it this way, from kernel.json)
--   tortuga kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]
--                                            write the kernelspec (tortuga.kernelspec)
--
-- The kernel speaks the Jupyter messaging protocol 5.3: app/lkernel.c owns the ZeroMQ sockets, the
-- HMAC-SHA256 signatures and the heartbeat and control threads; this file decodes the JSON and answers
-- kernel_info, execute, complete, inspect, is_complete, history, comm_info, interrupt and shutdown
-- requests. Cells run in the globals, with `tg` loaded (as in the REPL): `local` names last one cell, so
-- share values through globals. A cell shows the value of its last line when that line is an expression
-- (the REPL's `return <line>` rule; a trailing `;` hides it; tortuga.cells). print, io.write, io.stdout and
-- io.stderr become `stream` messages (sent in pieces of at most 64 kB, at least every 0.2 s while a cell runs;
-- past 4 MB per cell the rest is counted, not sent); io.read asks the frontend (input_request). An error shows
-- the message and the Lua traceback of the cell's frames. Interrupting (the frontend's stop button: SIGINT or
-- an interrupt_request on the control channel) cancels a running engine operation the way Ctrl-C does,
-- and stops pure Lua loops at their next instruction.
--
-- Values show as rich output (tortuga.display: volumes as PNG slices, tables as HTML tables, __display
-- metatables, images); tg.display(x, ...) sends each value as display_data (outside the kernel it prints them),
-- tg.kernel.image(path) wraps a figure file. M.limits (= tortuga.display.limits) says how much is shown.
-- The notebook forms (text <-> .ipynb) are tortuga.nbformat; `tortuga notebook` is tortuga.notebook.
--
--   kernel.run(connection_file) --> exit status       kernel.read_connection(path) --> table | nil, message
--   kernel.doc(f [, detail]) --> a function's `---` documentation and where it is (Shift-Tab)
--   kernel.is_complete(code) --> "complete" | "incomplete", indent | "invalid"
--   kernel.command(args, out, err) --> exit status    (the `tortuga kernel` subcommand)
local core = require "tortuga.core"
-- The applications' C half (app/lkernel.c) is linked into the tortuga host; it is required when first used, so
-- this module loads in stock lua5.4 too (there only what needs it fails, naming tortuga.app.core).
local function wire() return require "tortuga.app.core" end
local json = require "tortuga.json"
local repl = require "tortuga.repl"
local display = require "tortuga.display"
local cellrun = require "tortuga.cells"
local nbformat = require "tortuga.nbformat"
local cmdline = require "tortuga.cmdline"
local kernelspec = require "tortuga.kernelspec"
local cjson = require "cjson"

local M = {}

M.PROTOCOL = "5.3"
M.NAME = nbformat.NAME
M.DISPLAY_NAME = nbformat.DISPLAY_NAME
M.limits = display.limits
M.image = display.image
M.bundle = display.bundle

local utf8_clean, clip = display.utf8_clean, display.clip

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

local is_volume = display.is_volume

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

---------------------------------------------------------------------------------------------- the kernel state

local S = nil -- the running kernel: {k, session, count, parent, allow_stdin, out, ...}

local function header(msg_type)
  return { msg_id = wire().uuid(), session = S.session, username = "kernel", date = wire().isodate(),
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

---------------------------------------------------------------------------------------------- display

--- Send values to the frontend as display_data (inside the kernel); elsewhere print them as the REPL does.
function M.display(...)
  local n = select("#", ...)
  if not (S and S.parent) then
    repl.print(...)
    return
  end
  for i = 1, n do
    local data, meta = display.bundle((select(i, ...)))
    flush()
    publish("display_data", { data = data, metadata = meta, transient = {} })
  end
end

---------------------------------------------------------------------------------------------- execution

local on_error = cellrun.error_handler("^%s*In%[%d*%]:")

local function user_expressions(exprs)
  local out = {}
  for name, code in pairs(type(exprs) == "table" and exprs or {}) do
    local f, err = load("return " .. tostring(code), "=expression", "t")
    local r = f and table.pack(wire().pcall(on_error, f))
    if r and r[1] then
      local data, meta = display.bundle(table.unpack(r, 2, math.max(2, r.n)))
      out[name] = { status = "ok", data = data, metadata = meta }
    else
      local e = r and r[2] or { msg = err, frames = {} }
      local c = cellrun.error_content(e.msg, e.frames)
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
  local f, err, quiet = cellrun.compile(code, name)
  local status, content
  if not f then
    content = cellrun.error_content(err, nil, "SyntaxError")
  else
    local r = table.pack(wire().pcall(on_error, f))
    flush()
    if r[1] then
      status = "ok"
      if r.n > 1 and not (silent or quiet) then
        local shown = display.value_bundles(table.pack(table.unpack(r, 2, r.n)))
        for i = 1, #shown - 1 do
          flush()
          publish("display_data", { data = shown[i].data, metadata = shown[i].metadata, transient = {} })
        end
        local last = shown[#shown]
        publish("execute_result", { execution_count = n, data = last.data, metadata = last.metadata })
      end
    else
      content = cellrun.error_content(r[2].msg, r[2].frames)
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
    text = display.bundle(x)["text/plain"]
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
  if t == "execute_request" then wire().cell(true) end -- interruptible from here on
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
  wire().cell(false)
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
  local ok, k = pcall(wire().open, conn)
  if not ok then
    log("%s: %s", connection_file, tostring(k))
    return 1
  end
  local tg = tg_lib()
  S = { k = k, session = wire().uuid(), count = 0 }
  local saved_tg, saved_display = rawget(_G, "tg"), tg.display
  _G.tg, tg.display = tg, M.display
  tg.progress(false)
  local restore = cellrun.redirect_io({ write = out_write, flush = flush, input = input })
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

---------------------------------------------------------------------------------------------- the command

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

--- `tortuga kernel ...`: run the kernel on a connection file, or install the kernelspec; returns the exit status.
function M.command(args, out, err)
  out, err = out or io.stdout, err or io.stderr
  args = args or {}
  if args[1] == "install" then
    local o, e = cmdline.parse_cmd(table.move(args, 2, #args, 1, {}), { user = "flag", ["sys-prefix"] = "flag",
                           prefix = "value", name = "value" }, "tortuga kernel install", "tortuga kernel", KERNEL_USAGE,
                           out, err)
    if not o then return e end
    if #e > 0 then
      err:write("tortuga kernel install: unexpected argument '", e[1], "'\n")
      return 2
    end
    return kernelspec.install(o, out, err)
  end
  local o, pos = cmdline.parse_cmd(args, { f = "value", ["connection-file"] = "value" }, "tortuga kernel", "tortuga kernel",
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

return M
