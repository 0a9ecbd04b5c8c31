--- tg.notebook — run a notebook from the command line into one self-contained HTML page; convert notebooks.
--
--   tortuga notebook run FILE.lua [--out PAGE.html] [--timeout SECONDS]     (FILE.ipynb works too)
--   tortuga notebook convert IN.lua OUT.ipynb   and   tortuga notebook convert IN.ipynb OUT.lua
--
-- The cells run in order, in one fresh table of globals shared by the cells (its __index is _G; `tg` is
-- loaded), as in the Jupyter kernel (tortuga.kernel): `local` names last one cell; print, io.write,
-- io.stdout and io.stderr are collected per cell (at most display.limits.stream_total bytes each); a cell
-- shows the value of its last line when that line is an expression (a trailing `;` hides it), with the
-- kernel's rich display: a volume as the PNG of its middle slice and a line of text, a table as an HTML
-- table, a value with a __display metatable as it says, tg.kernel.image(path) as the figure; tg.display(x)
-- shows values where the cell is. io.read raises (a run takes no input). Progress bars are turned off.
--
-- The page (PAGE defaults to FILE with the extension .html, beside it) has a header with the notebook's
-- name, the tortuga and Lua versions, the date and the total time; Markdown cells rendered (headings,
-- paragraphs, lists, emphasis, inline code, code blocks, links, images of local files, block quotes, simple
-- tables; any HTML in the text is escaped); code cells with their source, their run time and their outputs;
-- images as data: URIs. A Content-Security-Policy forbids anything but inline styles and data: images, so
-- the page loads nothing from outside and runs no script. It is written to PAGE.tmp and renamed.
--
-- A cell that raises (or does not compile) shows its message and the traceback of the notebook's frames;
-- the cells after it are shown as not run, the page is still written, and the command says which cell
-- (its number among the code cells and its line in FILE) failed and exits with 1. Ctrl-C stops the running
-- cell (Lua code at its next instruction, an engine operation through its cancel flag) and ends the run in
-- the same way with exit status 130. --timeout stops a cell that runs longer than SECONDS the same way
-- (a watchdog process sends the SIGINT) and exits with 1. Progress (`cell i/n (line L) ... t s`) goes to
-- stderr. Line numbers in messages and tracebacks are lines of FILE (of the cell, for an .ipynb).
--
-- From Lua:
--   notebook.run(path, {timeout = s, log = stream | false}) -> result
--       result = {path=, name=, cells = {{cell_type=, source=, line=, number= (code cells), status = "ok" |
--       "error" | "interrupted" | "timeout" | "not run", seconds=, outputs = {{type = "stream", name=, text=} |
--       {type = "display", data=, metadata=} | {type = "error", ename=, evalue=, traceback=}}}}, status = "ok" |
--       "error" | "interrupted" | "timeout", failed = <the cell>, seconds=, date=, version=}
--     or nil, message when the file cannot be read or is not a notebook.
--   notebook.html(result) -> the page;  notebook.markdown(text, base_dir) -> HTML;  notebook.lua_html(code)
--   notebook.command(args, stdout, stderr) -> exit status (the `tortuga notebook` subcommand: run | convert;
--   the forms and their conversion are tortuga.nbformat).
local core = require "tortuga.core"
-- The applications' C half (app/lkernel.c) is linked into the tortuga host; it is required when first used, so
-- this module loads in stock lua5.4 too (there only what needs it fails, naming tortuga.app.core).
local function wire() return require "tortuga.app.core" end
local display = require "tortuga.display"
local cellrun = require "tortuga.cells"
local nbformat = require "tortuga.nbformat"
local cmdline = require "tortuga.cmdline"

local M = {}

local esc = display.html_escape

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

local function basename(path) return path:match("([^/]+)$") or path end
local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

---------------------------------------------------------------------------------------------- markdown

local IMAGE_MIME = { png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif",
                     svg = "image/svg+xml" }
local SAFE_SCHEMES = { http = true, https = true, mailto = true, ftp = true }

-- A link target that is safe in an href: relative, an anchor, or one of SAFE_SCHEMES.
local function safe_url(url)
  local scheme = url:match("^(%a[%w+.%-]*):")
  return scheme == nil or SAFE_SCHEMES[scheme:lower()] == true
end

-- Inline Markdown -> HTML. Fragments already rendered are kept aside as "\1<n>\2" until the end, so
-- the later rules (escaping, emphasis) do not touch them.
local function inline(text, ctx)
  local keep = {}
  local function hold(html)
    keep[#keep + 1] = html
    return "\1" .. #keep .. "\2"
  end
  local s = text:gsub("[\1\2]", "")
  -- code spans: a run of backticks up to the same run
  s = s:gsub("(`+)(.-[^`])%1", function(_, code)
    return hold("<code>" .. esc(code:gsub("^ (.*) $", "%1")) .. "</code>")
  end)
  s = s:gsub("\\([%p])", function(c) return hold(esc(c)) end)
  s = s:gsub("  +\n", function() return hold("<br>\n") end)
  s = s:gsub("<(https?://[^%s<>]+)>", function(url) return hold('<a href="' .. esc(url) .. '">' .. esc(url) .. "</a>") end)
  s = esc(s)
  -- images, then links (their text may hold emphasis and code)
  s = s:gsub("!%[([^%]]*)%]%(%s*([^%s%)]+)%s*%)", function(alt, src)
    return hold(ctx.image(alt, src))
  end)
  s = s:gsub("%[([^%]]+)%]%(%s*([^%s%)]+)%s*%)", function(label, url)
    local raw = url:gsub("&amp;", "&")
    if not safe_url(raw) then return nil end
    return hold('<a href="' .. url .. '">' .. label .. "</a>")
  end)
  -- emphasis: ** and __ first, then * and _ (an underscore only at word edges, so snake_case stays)
  s = " " .. s .. " "
  s = s:gsub("%*%*([^%s%*].-)%*%*", "<strong>%1</strong>")
  s = s:gsub("~~([^%s~].-)~~", "<del>%1</del>")
  for _ = 1, 2 do -- twice: neighbouring matches share the character between them
    s = s:gsub("([^%w_])__([^%s_].-)__([^%w_])", "%1<strong>%2</strong>%3")
    s = s:gsub("([^%w%*])%*([^%s%*][^%*]-)%*([^%w%*])", "%1<em>%2</em>%3")
    s = s:gsub("([^%w_])_([^%s_][^_]-)_([^%w_])", "%1<em>%2</em>%3")
  end
  s = s:sub(2, -2)
  for _ = 1, 8 do -- held fragments may hold others (a link's text)
    local n
    s, n = s:gsub("\1(%d+)\2", function(i) return keep[tonumber(i)] end)
    if n == 0 then break end
  end
  return s
end

local function plain_text(html) return (html:gsub("<[^>]*>", "")) end

local function slug(text, ctx)
  local base = plain_text(text):lower():gsub("&%a+;", ""):gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  if base == "" then base = "section" end
  local id, n = base, 1
  while ctx.ids[id] do
    n = n + 1
    id = base .. "-" .. n
  end
  ctx.ids[id] = true
  return id
end

local function split_row(line)
  local s = line:gsub("^%s*|", ""):gsub("|%s*$", "")
  local cells = {}
  for c in (s .. "|"):gmatch("(.-)|") do cells[#cells + 1] = c:match("^%s*(.-)%s*$") end
  return cells
end

local TABLE_RULE = "^%s*|?%s*:?%-+:?%s*|[%s|:%-]*$"
local TABLE_RULE1 = "^%s*|%s*:?%-+:?%s*|?%s*$"

local function is_table_rule(line)
  return line ~= nil and (line:match(TABLE_RULE) or line:match(TABLE_RULE1)) ~= nil and line:find("-", 1, true) ~= nil
end

local function list_marker(line)
  local indent, marker, rest = line:match("^( *)([%-%*%+])%s+(.*)$")
  if indent and not line:match("^%s*[%-%*_]%s*[%-%*_]%s*[%-%*_][%s%-%*_]*$") then return #indent, "ul", rest end
  indent, marker, rest = line:match("^( *)(%d+)[%.%)]%s+(.*)$")
  if indent then return #indent, "ol", rest, tonumber(marker) end
  return nil
end

local blocks -- forward: Markdown lines -> HTML

local function starts_block(line, nextline)
  return line:match("^%s*#+%s") or line:match("^%s*```") or line:match("^%s*~~~") or line:match("^%s*>") or
         list_marker(line) or (line:find("|", 1, true) and is_table_rule(nextline))
end

-- Long because every Markdown block kind (heading, fence, quote, list, table, paragraph) is one branch of the same
-- loop over lines, and they share the look-ahead that decides where a block ends.
blocks = function(lines, ctx)
  local out, i = {}, 1
  while i <= #lines do
    local line = lines[i]
    local fence = line:match("^%s*(```+)") or line:match("^%s*(~~~+)")
    if line:match("^%s*$") then
      i = i + 1
    elseif fence then
      local lang = line:match("^%s*[`~]+%s*([%w_%-+]*)")
      local code = {}
      i = i + 1
      while i <= #lines and not lines[i]:match("^%s*" .. fence:gsub("%p", "%%%0")) do
        code[#code + 1] = lines[i]
        i = i + 1
      end
      i = i + 1
      local src = table.concat(code, "\n")
      local body = (lang == "lua") and M.lua_html(src) or esc(src)
      out[#out + 1] = '<pre class="md-code"><code' .. (lang ~= "" and (' class="language-' .. esc(lang) .. '"') or "") ..
                      ">" .. body .. "</code></pre>"
    elseif line:match("^%s*#+%s") or line:match("^%s*#+$") then
      local hashes, text = line:match("^%s*(#+)%s*(.-)%s*#*%s*$")
      local level = math.min(#hashes, 6)
      local html = inline(text, ctx)
      out[#out + 1] = string.format('<h%d id="%s">%s</h%d>', level, slug(html, ctx), html, level)
      i = i + 1
    elseif line:match("^%s*([%-%*_])%s*%1%s*%1[%s%-%*_]*$") and not line:match("[^%s%-%*_]") then
      out[#out + 1] = "<hr>"
      i = i + 1
    elseif line:match("^%s*>") then
      local quoted = {}
      while i <= #lines and lines[i]:match("^%s*>") do
        quoted[#quoted + 1] = lines[i]:gsub("^%s*> ?", "")
        i = i + 1
      end
      out[#out + 1] = "<blockquote>" .. blocks(quoted, ctx) .. "</blockquote>"
    elseif line:find("|", 1, true) and is_table_rule(lines[i + 1]) then
      local head, align = split_row(line), {}
      for k, c in ipairs(split_row(lines[i + 1])) do
        align[k] = (c:match("^:.*:$") and "center") or (c:match(":$") and "right") or (c:match("^:") and "left") or nil
      end
      local function row(cells, tag)
        local parts = { "<tr>" }
        for k = 1, #head do
          local a = align[k] and (' style="text-align:' .. align[k] .. '"') or ""
          parts[#parts + 1] = "<" .. tag .. a .. ">" .. inline(cells[k] or "", ctx) .. "</" .. tag .. ">"
        end
        parts[#parts + 1] = "</tr>"
        return table.concat(parts)
      end
      local t = { "<table class=\"md-table\"><thead>" .. row(head, "th") .. "</thead><tbody>" }
      i = i + 2
      while i <= #lines and lines[i]:find("|", 1, true) and not lines[i]:match("^%s*$") do
        t[#t + 1] = row(split_row(lines[i]), "td")
        i = i + 1
      end
      t[#t + 1] = "</tbody></table>"
      out[#out + 1] = table.concat(t)
    elseif list_marker(line) then
      local indent, kind, _, start = list_marker(line)
      local items = {}
      while i <= #lines do
        local ind, k, rest = list_marker(lines[i])
        if not ind or ind ~= indent or k ~= kind then break end
        local body, content_indent = { rest }, #lines[i] - #rest
        i = i + 1
        while i <= #lines do
          local l = lines[i]
          local li = list_marker(l)
          if l:match("^%s*$") then
            local nxt = lines[i + 1]
            if nxt and nxt:match("^%s*") and #nxt:match("^%s*") > indent and not nxt:match("^%s*$") then
              body[#body + 1] = ""
              i = i + 1
            else
              break
            end
          elseif li and li <= indent then
            break
          elseif #l:match("^%s*") > indent then
            body[#body + 1] = l:sub(math.min(content_indent, #l:match("^%s*")) + 1)
            i = i + 1
          elseif starts_block(l, lines[i + 1]) then
            break
          else -- a lazy continuation of the item's paragraph
            body[#body + 1] = l
            i = i + 1
          end
        end
        local html = blocks(body, ctx)
        local only = html:match("^<p>(.-)</p>$")
        if only and not only:find("<p>", 1, true) then html = only end
        html = html:gsub("^<p>(.-)</p>\n?(<[uo]l)", "%1%2")
        items[#items + 1] = "<li>" .. html .. "</li>"
        while i <= #lines and lines[i]:match("^%s*$") do
          local nxt = lines[i + 1]
          local ni, nk = nxt and list_marker(nxt)
          if ni == indent and nk == kind then i = i + 1 else break end
        end
      end
      local open = kind == "ul" and "<ul>" or ((start and start ~= 1) and ('<ol start="' .. start .. '">') or "<ol>")
      out[#out + 1] = open .. table.concat(items) .. (kind == "ul" and "</ul>" or "</ol>")
    elseif line:match("^    ") or line:match("^\t") then
      local code = {}
      while i <= #lines and (lines[i]:match("^    ") or lines[i]:match("^\t") or
                             (lines[i]:match("^%s*$") and lines[i + 1] and lines[i + 1]:match("^    "))) do
        code[#code + 1] = lines[i]:gsub("^    ", ""):gsub("^\t", "")
        i = i + 1
      end
      out[#out + 1] = '<pre class="md-code"><code>' .. esc(table.concat(code, "\n")) .. "</code></pre>"
    else
      local para = {}
      while i <= #lines and not lines[i]:match("^%s*$") and (#para == 0 or not starts_block(lines[i], lines[i + 1])) do
        para[#para + 1] = lines[i]:gsub("^%s+", "")
        i = i + 1
      end
      out[#out + 1] = "<p>" .. inline(table.concat(para, "\n"), ctx) .. "</p>"
    end
  end
  return table.concat(out, "\n")
end

local function image_html(base_dir)
  return function(alt, src)
    local raw = src:gsub("&amp;", "&")
    local ext = (raw:match("%.(%w+)$") or ""):lower()
    local mime = IMAGE_MIME[ext]
    if raw:match("^data:image/") then return '<img alt="' .. alt .. '" src="' .. src .. '">' end
    if raw:match("^%a[%w+.%-]*:") then -- another site: linked, never loaded
      if not safe_url(raw) then return "[" .. alt .. "]" end
      return '<a href="' .. src .. '">[image: ' .. (alt ~= "" and alt or src) .. "]</a>"
    end
    local path = raw:sub(1, 1) == "/" and raw or (base_dir .. "/" .. raw)
    local bytes = mime and read_file(path)
    if not bytes then return '<span class="missing">[image ' .. src .. " not found]</span>" end
    return '<img alt="' .. alt .. '" src="data:' .. mime .. ";base64," .. wire().base64(bytes) .. '">'
  end
end

--- Markdown text -> HTML. base_dir: where relative image paths are found (default "."); ids: the heading
-- ids already used on the page (a set), so that they stay unique.
function M.markdown(text, base_dir, ids)
  local lines = {}
  for line in (text:gsub("\r\n", "\n") .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  return blocks(lines, { image = image_html(base_dir or "."), ids = ids or {} })
end

---------------------------------------------------------------------------------------------- Lua source

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or repeat return then
            true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

--- Lua source -> HTML with <span class="k|s|c|n"> around keywords, strings, comments and numbers.
function M.lua_html(code)
  local out, i, n = {}, 1, #code
  local function span(cls, s) out[#out + 1] = '<span class="' .. cls .. '">' .. esc(s) .. "</span>" end
  while i <= n do
    local c = code:sub(i, i)
    local long = code:match("^%-%-%[(=*)%[", i)
    if long then
      local _, e = code:find("]" .. long .. "]", i, true)
      e = e or n
      span("c", code:sub(i, e))
      i = e + 1
    elseif code:sub(i, i + 1) == "--" then
      local e = (code:find("\n", i, true) or n + 1) - 1
      span("c", code:sub(i, e))
      i = e + 1
    elseif code:match("^%[=*%[", i) then
      local eq = code:match("^%[(=*)%[", i)
      local _, e = code:find("]" .. eq .. "]", i, true)
      e = e or n
      span("s", code:sub(i, e))
      i = e + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = code:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c or d == "\n" then break
        else j = j + 1 end
      end
      span("s", code:sub(i, math.min(j, n)))
      i = j + 1
    elseif c:match("[%a_]") then
      local w = code:match("^[%w_]+", i)
      if KEYWORDS[w] then span("k", w) else out[#out + 1] = w end
      i = i + #w
    elseif c:match("%d") or (c == "." and code:sub(i + 1, i + 1):match("%d")) then
      local num = code:match("^0[xX][%x%.]+[pP]?[%+%-]?%d*", i) or code:match("^%d*%.?%d+[eE][%+%-]?%d+", i) or
                  code:match("^%d+%.?%d*[eE][%+%-]?%d+", i) or code:match("^%d*%.?%d*", i)
      span("n", num)
      i = i + #num
    else
      local j = code:find("[%w_\"'%-%[%.]", i + 1) or n + 1
      out[#out + 1] = esc(code:sub(i, j - 1))
      i = j
    end
  end
  return table.concat(out)
end

---------------------------------------------------------------------------------------------- running

local function pid()
  local stat = read_file("/proc/self/stat")
  return stat and stat:match("^(%d+)")
end

-- A process that sends SIGINT to this one after `seconds`, unless stopped first: returns stop().
local function watchdog(seconds, self)
  local p = io.popen(string.format("(trap 'kill $s 2>/dev/null; exit 0' TERM; sleep %.3f & s=$!; wait $s && " ..
                                   "kill -INT %s) >/dev/null 2>&1 </dev/null & echo $!", seconds, self))
  local wpid = p and p:read("l")
  if p then p:close() end
  return function()
    if wpid and wpid:match("^%d+$") then os.execute("kill " .. wpid .. " 2>/dev/null") end
  end
end

local function chunk_pattern(name)
  return "^%s*" .. name:gsub("%p", "%%%0") .. ":%d+:"
end

-- Ctrl-C's messages: "interrupted!" (Lua code, from the host's hook) or "interrupted: ..." (an engine
-- operation), after any "file:line: " prefixes.
local function is_interrupt(msg)
  if type(msg) ~= "string" then return false end
  local n
  repeat msg, n = msg:gsub("^[^\n:]*:%d+: ", "") until n == 0
  return msg == "interrupted" or msg:match("^interrupted[!:]") ~= nil
end

-- "cell 3 (line 27)", or "cell 3" for a cell without a line (an .ipynb's)
local function cell_where(c)
  return c.line and string.format("cell %d (line %d)", c.number, c.line) or string.format("cell %d", c.number)
end

--- Read a notebook (.lua text form or .ipynb): its cells, or nil, message.
function M.read(path)
  local text, err = read_file(path)
  if not text then return nil, "cannot read " .. tostring(err) end
  local ext = (path:match("%.(%w+)$") or ""):lower()
  if ext == "ipynb" then
    local cells, why = nbformat.from_ipynb(text)
    if not cells then return nil, path .. ": " .. why end
    return cells
  end
  local ok, cells = pcall(nbformat.read_notebook, text)
  if not ok then return nil, path .. ": " .. tostring(cells):gsub("^[^:]*:%d+: ", "") end
  return cells
end

--- Run the notebook at `path`; see the module header for opts and the result.
-- Long because the run's state (the cells' environment, the output sink, the redirected io, tg.display, the
-- progress switch, the watchdog) is set up and restored in one place, whatever ends the run.
function M.run(path, opts)
  opts = opts or {}
  local cells, err = M.read(path)
  if not cells then return nil, err end
  local tg = require "tortuga"
  local name = basename(path)
  local ipynb = (path:match("%.(%w+)$") or ""):lower() == "ipynb"
  local log = opts.log
  if log == nil then log = io.stderr end
  local code_cells = {}
  for _, c in ipairs(cells) do
    c.status, c.outputs = "not run", {}
    if c.cell_type == "code" then
      code_cells[#code_cells + 1] = c
      c.number = #code_cells
    end
  end
  local result = { path = path, name = name, cells = cells, status = "ok", version = tg.version,
                   date = os.date("!%Y-%m-%d %H:%M UTC"), lua = _VERSION }
  local self_pid = opts.timeout and pid()
  if opts.timeout and not self_pid then return nil, "--timeout needs /proc/self/stat (Linux)" end

  local env = setmetatable({}, { __index = _G })
  env._G, env.tg = env, tg
  -- os.exit in a cell would end the process with its status and no page: it is a cell error instead, so the run
  -- stops there, the page is written and the exit status says the notebook failed
  env.os = setmetatable({ exit = function(code)
    error(string.format("os.exit(%s) in a notebook cell: the run stops here (a notebook is run to its page; " ..
      "raise an error to stop it)", tostring(code)), 2)
  end }, { __index = os })
  local current -- the cell running now
  local limit = display.limits.stream_total
  local sink = {
    write = function(stream, text)
      local o = current
      if not o then return end
      if o.stream_bytes + #text > limit then
        o.dropped = o.dropped + #text
        return
      end
      o.stream_bytes = o.stream_bytes + #text
      local last = o.outputs[#o.outputs]
      if last and last.type == "stream" and last.name == stream then
        last.parts[#last.parts + 1] = text
      else
        o.outputs[#o.outputs + 1] = { type = "stream", name = stream, parts = { text } }
      end
    end,
    flush = function() end,
    input = function() error("io.read: a notebook run takes no input", 3) end,
  }
  local function show(data, meta)
    current.outputs[#current.outputs + 1] = { type = "display", data = data, metadata = meta or {} }
  end
  local saved_display = tg.display
  tg.display = function(...)
    for i = 1, select("#", ...) do show(display.bundle((select(i, ...)))) end
  end
  tg.progress(false)
  local restore = cellrun.redirect_io(sink)
  local t_all = core.now()

  local function run_cell(c)
    current = c
    c.stream_bytes, c.dropped = 0, 0
    if log then
      log:write(string.format("%s: cell %d/%d%s ... ", name, c.number, #code_cells, c.line and (" (line " .. c.line .. ")") or ""))
      log:flush()
    end
    local short = #name > 48 and (name:sub(1, 45) .. "...") or name -- (Lua keeps 59 bytes of a chunk name)
    local chunk = ipynb and string.format("%s[%d]", short, c.number) or short
    local pad = (not ipynb and c.line) and string.rep("\n", c.line - 1) or ""
    local t0 = core.now()
    local f, cerr, quiet = cellrun.compile(pad .. c.source, "=" .. chunk, env)
    if not f then
      c.status = "error"
      c.outputs[#c.outputs + 1] = { type = "error", ename = "SyntaxError", evalue = cerr, traceback = { cerr } }
    else
      local stop = opts.timeout and watchdog(opts.timeout, self_pid)
      local r = table.pack(xpcall(f, cellrun.error_handler(chunk_pattern(chunk))))
      if stop then stop() end
      if r[1] then
        c.status = "ok"
        if r.n > 1 and not quiet then
          for _, b in ipairs(display.value_bundles(table.pack(table.unpack(r, 2, r.n)))) do
            show(b.data, b.metadata)
          end
        end
      else
        local e = cellrun.error_content(r[2].msg, r[2].frames)
        c.status = "error"
        if is_interrupt(r[2].msg) then
          c.status = (opts.timeout and core.now() - t0 >= opts.timeout * 0.99) and "timeout" or "interrupted"
          if c.status == "timeout" then
            e.evalue = string.format("stopped: the cell ran longer than --timeout %g s", opts.timeout)
            e.traceback[1] = e.evalue .. " (" .. e.traceback[1] .. ")"
          end
        end
        e.type = "error"
        c.outputs[#c.outputs + 1] = e
      end
    end
    c.seconds = core.now() - t0
    if c.dropped > 0 then
      sink.write("stderr", string.format("[tortuga notebook: %d bytes of output not shown; the limit is %d bytes per cell]\n",
                                         c.dropped, limit))
    end
    current = nil
    if log then
      log:write(c.status == "ok" and "" or (c.status .. ", "), string.format("%.2f s\n", c.seconds))
      log:flush()
    end
  end

  local ok, late = pcall(function()
    for _, c in ipairs(code_cells) do
      if c.source:match("^%s*$") then
        c.status, c.seconds = "ok", 0
      else
        run_cell(c)
        if c.status ~= "ok" then
          result.status, result.failed = c.status, c
          return
        end
      end
    end
  end)
  restore()
  tg.display = saved_display
  result.seconds = core.now() - t_all
  if not ok then -- an interrupt that landed between cells (in this code, not in a cell's)
    local c = current
    if not c then
      for _, cc in ipairs(code_cells) do
        if cc.status == "not run" then c = cc break end
      end
    end
    if c then
      c.status, c.seconds = "interrupted", c.seconds or 0
      c.outputs[#c.outputs + 1] = { type = "error", ename = "Interrupted", evalue = tostring(late),
                                   traceback = { tostring(late) } }
    end
    result.status = is_interrupt(late) and "interrupted" or "error"
    result.failed = c
    if not is_interrupt(late) then result.internal = tostring(late) end
  end
  for _, c in ipairs(cells) do -- streams as one text each
    for _, o in ipairs(c.outputs) do
      if o.type == "stream" then
        o.text, o.parts = table.concat(o.parts), nil
      end
    end
    c.stream_bytes = nil
  end
  return result
end

---------------------------------------------------------------------------------------------- the page

local CSS = [[
:root { --fg: #1d2329; --muted: #667085; --line: #d0d5dd; --code-bg: #f6f8fa; --accent: #2f6f4f; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: #fff; }
header.nb { padding: 18px 32px 12px; border-bottom: 3px solid var(--accent); background: #f4f8f5; }
header.nb h1 { margin: 0 0 4px; font-size: 22px; }
header.nb .meta { color: var(--muted); font-size: 13px; }
header.nb .status { margin-top: 8px; padding: 6px 10px; border-radius: 4px; font-weight: 600; display: inline-block; }
.status.ok { background: #e3f4e8; color: #1e6b3a; }
.status.bad { background: #fde8e8; color: #9b1c1c; }
main { max-width: 1000px; margin: 0 auto; padding: 12px 32px 48px; }
.cell { margin: 14px 0; }
.cell.markdown h1, .cell.markdown h2, .cell.markdown h3 { margin: 18px 0 6px; }
.cell.markdown p { margin: 6px 0; }
.cell.code { border-left: 3px solid var(--line); padding-left: 12px; }
.cell.code.error, .cell.code.interrupted, .cell.code.timeout { border-left-color: #d92d20; }
.cell.code.notrun { opacity: 0.55; border-left-style: dashed; }
.cell .label { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; color: var(--muted); margin-bottom: 2px; }
.cell .label .time { float: right; }
pre { margin: 0; padding: 8px 10px; overflow-x: auto; font: 13px/1.45 ui-monospace, "DejaVu Sans Mono", monospace;
      white-space: pre-wrap; word-break: break-word; }
pre.source, pre.md-code { background: var(--code-bg); border: 1px solid #e4e7ec; border-radius: 4px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.92em; background: var(--code-bg);
       padding: 0 3px; border-radius: 3px; }
pre code { background: none; padding: 0; font-size: inherit; }
.k { color: #8250df; font-weight: 600; } .s { color: #0a6b2f; } .c { color: #6e7781; font-style: italic; }
.n { color: #0550ae; }
.outputs { margin-top: 4px; }
.output { margin: 4px 0; }
pre.stdout, pre.result { background: #fff; padding-left: 4px; }
pre.stderr { background: #fff4e5; }
.error-box { background: #fde8e8; border: 1px solid #f5b5b5; border-radius: 4px; }
.error-box pre { color: #7a1010; }
.notrun-note { font-style: italic; color: var(--muted); font-size: 13px; }
figure { margin: 6px 0; }
figure img, .output img { max-width: 100%; height: auto; }
img.pixels { image-rendering: pixelated; }
figcaption { color: var(--muted); font-size: 12.5px; white-space: pre-wrap; font-family: ui-monospace, monospace; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13.5px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #f2f4f7; }
td { font-variant-numeric: tabular-nums; }
blockquote { margin: 6px 0; padding: 2px 12px; border-left: 4px solid var(--line); color: #475467; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 16px; }
]]

local function b64_or_text(value)
  if type(value) == "table" then return table.concat(value) end
  return tostring(value)
end

-- One output bundle: the richest form (HTML, SVG, PNG, JPEG, GIF), and its text as a caption under an
-- image; the text alone when there is nothing richer.
local function bundle_html(data, meta)
  local text = data["text/plain"] and b64_or_text(data["text/plain"])
  if data["text/html"] then
    return '<div class="output html">' .. b64_or_text(data["text/html"]) .. "</div>"
  end
  for _, mime in ipairs({ "image/svg+xml", "image/png", "image/jpeg", "image/gif" }) do
    local v = data[mime]
    if v then
      v = b64_or_text(v)
      local b64 = mime == "image/svg+xml" and wire().base64(v) or v:gsub("%s", "")
      local m = type(meta) == "table" and type(meta[mime]) == "table" and meta[mime] or {}
      local size = ""
      if math.tointeger(m.width) then size = size .. ' width="' .. math.tointeger(m.width) .. '"' end
      if math.tointeger(m.height) then size = size .. ' height="' .. math.tointeger(m.height) .. '"' end
      local cls = size ~= "" and ' class="pixels"' or ""
      local caption = text and ("<figcaption>" .. esc(text) .. "</figcaption>") or ""
      return '<figure class="output"><img' .. cls .. size .. ' alt="' .. esc((text or mime):match("^[^\n]*")) ..
             '" src="data:' .. mime .. ";base64," .. b64 .. '">' .. caption .. "</figure>"
    end
  end
  return '<pre class="output result">' .. esc(text or "") .. "</pre>"
end

local function output_html(o)
  if o.type == "stream" then
    return '<pre class="output ' .. (o.name == "stderr" and "stderr" or "stdout") .. '">' .. esc(o.text) .. "</pre>"
  elseif o.type == "error" then
    return '<div class="output error-box"><pre>' .. esc(table.concat(o.traceback or { o.evalue or "" }, "\n")) ..
           "</pre></div>"
  end
  return bundle_html(o.data, o.metadata)
end

local STATUS_TEXT = { ok = "ok", error = "error", interrupted = "interrupted", timeout = "timed out",
                      ["not run"] = "not run" }

local function seconds_text(s)
  if not s then return "" end
  if s < 1 then return string.format("%.0f ms", s * 1000) end
  if s < 60 then return string.format("%.2f s", s) end
  return string.format("%d min %.0f s", s // 60, s % 60)
end

--- The HTML page of a run's result.
function M.html(result)
  local out = {}
  local function add(s) out[#out + 1] = s end
  local ncode, nrun = 0, 0
  for _, c in ipairs(result.cells) do
    if c.cell_type == "code" then
      ncode = ncode + 1
      if c.status ~= "not run" then nrun = nrun + 1 end
    end
  end
  add("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
  add("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">")
  add("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
  add("<meta name=\"generator\" content=\"tortuga " .. esc(result.version or "") .. "\">")
  add("<title>" .. esc(result.name) .. " — tortuga notebook</title><style>" .. CSS .. "</style></head><body>\n")
  add('<header class="nb"><h1>' .. esc(result.name) .. "</h1>")
  add('<div class="meta">tortuga ' .. esc(result.version or "?") .. " · " .. esc(result.lua or _VERSION) ..
      " · run " .. esc(result.date or "") .. " · " .. ncode .. " code cells, " .. nrun .. " run in " ..
      seconds_text(result.seconds) .. "</div>")
  local f = result.failed
  if result.status == "ok" then
    add('<div class="status ok">every cell ran</div>')
  elseif f then
    local what = ({ error = "failed", interrupted = "was interrupted", timeout = "ran out of time" })[result.status] or
                 result.status
    add(string.format('<div class="status bad"><a href="#cell-%d">%s</a> %s; the cells after it did not run</div>',
                      f.number, cell_where(f), what))
  else
    add('<div class="status bad">' .. esc(result.status) .. "</div>")
  end
  add("</header>\n<main>\n")
  local ids, base = {}, dirname(result.path or ".")
  for _, c in ipairs(result.cells) do
    if c.cell_type == "markdown" then
      add('<section class="cell markdown">' .. M.markdown(c.source, base, ids) .. "</section>\n")
    elseif c.cell_type == "raw" then
      add('<section class="cell raw"><pre>' .. esc(c.source) .. "</pre></section>\n")
    else
      local cls = c.status == "not run" and "notrun" or c.status
      add(string.format('<section class="cell code %s" id="cell-%d">', cls, c.number))
      add(string.format('<div class="label">In [%d]%s · %s<span class="time">%s</span></div>', c.number,
                        c.line and (" · line " .. c.line) or "", STATUS_TEXT[c.status] or esc(c.status),
                        c.status == "not run" and "" or seconds_text(c.seconds)))
      add('<pre class="source"><code>' .. M.lua_html(c.source) .. "</code></pre>")
      if c.status == "not run" then
        add('<div class="notrun-note">not run (an earlier cell stopped the run)</div>')
      elseif #c.outputs > 0 then
        add('<div class="outputs">')
        for _, o in ipairs(c.outputs) do add(output_html(o)) end
        add("</div>")
      end
      add("</section>\n")
    end
  end
  add("</main>\n<footer>written by <code>tortuga notebook run</code> from " .. esc(result.path or result.name) ..
      "</footer>\n</body></html>\n")
  return table.concat(out)
end

---------------------------------------------------------------------------------------------- the command

local USAGE = [[
usage: tortuga notebook run FILE.lua [--out PAGE.html] [--timeout SECONDS]
       (FILE.ipynb works too)

Run a notebook's code cells in order, in one Lua state with `tg` loaded (globals are shared between
cells), and write one self-contained HTML page: the Markdown rendered, each code cell with its source,
run time and outputs (printed text, the value of its last expression, tables, slices and figures
inline). When a cell fails the page shows its error and the cells after it as not run; the exit status
is then 1 (130 after Ctrl-C).

  --out PAGE.html   where to write the page (default: FILE with the extension .html, beside it)
  --timeout S       stop a cell that runs longer than S seconds (the run fails there)
  -h, --help        this help
]]

local function parse_args(args)
  local o, pos = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then
      o.help = true
    elseif a:sub(1, 2) == "--" and #a > 2 then
      local name, value = a:match("^%-%-([%w%-]+)=(.*)$")
      name = name or a:sub(3)
      if name ~= "out" and name ~= "timeout" then return nil, string.format("unknown option '%s'", a:match("^[^=]*")) end
      if value == nil then
        i = i + 1
        value = args[i]
        if value == nil then return nil, string.format("option '--%s' needs a value", name) end
      end
      if o[name] then return nil, string.format("option '--%s' given twice", name) end
      o[name] = value
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, string.format("unknown option '%s'", a)
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return o, pos
end

--- `tortuga notebook run ...` (args after "run"); returns the exit status. Long because it checks each argument
-- with its own message before running, then reports each way a run can end (ok, error, interrupt, timeout).
local function run_command(args, out, err)
  out, err = out or io.stdout, err or io.stderr
  local P = "tortuga notebook run: "
  local o, pos = parse_args(args or {})
  if not o then
    err:write(P, pos, "\nTry 'tortuga notebook run --help'.\n")
    return 2
  end
  if o.help then
    out:write(USAGE)
    return 0
  end
  if #pos ~= 1 then
    err:write(P, #pos == 0 and "expected a notebook FILE.lua or FILE.ipynb" or ("unexpected argument '" .. pos[2] .. "'"),
              "\nTry 'tortuga notebook run --help'.\n")
    return 2
  end
  local path = pos[1]
  local ext = (path:match("%.(%w+)$") or ""):lower()
  if ext ~= "lua" and ext ~= "ipynb" then
    err:write(P, "expected a notebook FILE.lua or FILE.ipynb, got '", path, "'\n")
    return 2
  end
  local timeout
  if o.timeout then
    timeout = tonumber(o.timeout)
    if not timeout or timeout ~= timeout or timeout <= 0 or timeout == math.huge then
      err:write(P, "--timeout: expected a number of seconds > 0, got '", o.timeout, "'\n")
      return 2
    end
  end
  local page = o.out or (path:gsub("%.%w+$", "") .. ".html")
  local probe, perr = io.open(page .. ".tmp", "wb") -- fail before running when the page cannot be written
  if not probe then
    err:write(P, "cannot write ", page, ": ", tostring(perr), "\n")
    return 1
  end
  probe:close()
  os.remove(page .. ".tmp")
  local result, why = M.run(path, { timeout = timeout, log = err })
  if not result then
    err:write(P, why, "\n")
    return 1
  end
  local ok, werr = nbformat.write_atomic(page, M.html(result))
  if not ok then
    err:write(P, "cannot write ", page, ": ", tostring(werr), "\n")
    return 1
  end
  if result.status == "ok" then
    local n = 0
    for _, c in ipairs(result.cells) do n = n + (c.cell_type == "code" and 1 or 0) end
    out:write("wrote ", page, " (", n, n == 1 and " code cell, " or " code cells, ", seconds_text(result.seconds), ")\n")
    return 0
  end
  local f = result.failed
  local where = f and cell_where(f) or "the run"
  if result.internal then
    err:write(P, path, ": internal error: ", result.internal, "\n")
  elseif result.status == "interrupted" then
    err:write(P, path, ": interrupted in ", where, "\n")
  elseif result.status == "timeout" then
    err:write(P, path, ": ", where, " ran longer than --timeout ", o.timeout, " s\n")
  else
    local msg = ""
    for _, x in ipairs(f and f.outputs or {}) do
      if x.type == "error" then msg = x.evalue end
    end
    err:write(P, path, ": ", where, " failed: ", msg, "\n")
  end
  err:write(P, "wrote ", page, " (with the error; the cells after it did not run)\n")
  return result.status == "interrupted" and 130 or 1
end

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

--- `tortuga notebook ...`: run | convert; returns the exit status.
function M.command(args, out, err)
  out, err = out or io.stdout, err or io.stderr
  args = args or {}
  if args[1] == "run" then return run_command(table.move(args, 2, #args, 1, {}), out, err) end
  local o, pos = cmdline.parse_cmd(args, {}, "tortuga notebook", "tortuga notebook", NOTEBOOK_USAGE, out, err)
  if not o then return pos end
  if pos[1] ~= "convert" or #pos ~= 3 then
    err:write("tortuga notebook: expected 'run FILE' or 'convert IN OUT'\n", "Try 'tortuga notebook --help'.\n")
    return 2
  end
  local ok, e = nbformat.convert(pos[2], pos[3])
  if not ok then
    err:write("tortuga notebook convert: ", e, "\n")
    return e:match("^expected") and 2 or 1
  end
  out:write("wrote ", pos[3], "\n")
  return 0
end

return M
