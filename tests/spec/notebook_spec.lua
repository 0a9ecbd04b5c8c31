-- tortuga notebook run: every notebook in notebooks/ runs on a small size into a self-contained page with its
-- outputs; a failing cell shows its error, the cells after it are not run and the exit status is 1; --timeout
-- and Ctrl-C stop a cell; Markdown renders and text is escaped; headless Chromium renders the page when installed.
local tg = require "tortuga"
local wire = require "tortuga.app.core" -- linked into the host, which runs the specs
local nbformat = require "tortuga.nbformat"
local notebook = require "tortuga.notebook"
local lfs = require "lfs"
local H = test_helper

local SIZE = 32 -- TORTUGA_NOTEBOOK_SIZE for the notebooks

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function which(exe)
  local p = io.popen("command -v " .. exe .. " 2>/dev/null")
  local s = p and p:read("l")
  if p then p:close() end
  return s and s ~= "" and s or nil
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return lfs.currentdir() .. "/" .. path
end

local dir = absolute(H.tmpdir("notebook"))
local exe = absolute(H.exe())

-- Run a shell command; returns the exit status, stdout and stderr.
local function sh(cmd)
  local errfile = dir .. "/stderr.txt"
  local p = io.popen(cmd .. " 2>" .. q(errfile) .. "; echo \"EXIT=$?\"")
  local text = p:read("a")
  p:close()
  local code = tonumber(text:match("EXIT=(%d+)%s*$"))
  return code, text:gsub("EXIT=%d+%s*$", ""), read(errfile) or ""
end

local function run_notebook(path, extra, env)
  return sh((env or "") .. " " .. q(exe) .. " notebook run " .. q(path) .. " " .. (extra or ""))
end

local function count(s, plain)
  local n, i = 0, 1
  while true do
    local a, b = s:find(plain, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

-- The section of the page for code cell n.
local function cell_section(page, n)
  local a = page:find('<section class="cell code [%w ]*" id="cell%-' .. n .. '">')
  if not a then return nil end
  local b = page:find("</section>", a, true)
  return page:sub(a, b)
end

local FAILING = [[
-- # A notebook that fails
--
-- The second code cell raises.

-- %%
x = 41
print(x + 1)

-- %%
local function inner() error("boom: on purpose") end
function outer() inner() end
outer()

-- %%
print("this line is never printed")
]]

describe("tortuga notebook run", function()
  local have_exe = lfs.attributes(exe, "mode") == "file"
  local function need_exe()
    if not have_exe then pending("no tortuga executable at " .. exe) end
    return have_exe
  end

  it("runs every notebook in notebooks/ on a small size, every cell ok", function()
    if not need_exe() then return end
    local names = {}
    for f in lfs.dir("notebooks") do
      if f:match("%.lua$") then names[#names + 1] = f end
    end
    table.sort(names)
    assert.truthy(#names >= 1, "notebooks/ holds notebooks")
    for _, f in ipairs(names) do
      local page_path = dir .. "/" .. f:gsub("%.lua$", ".html")
      os.remove(page_path)
      local code, out, err = run_notebook("notebooks/" .. f, "--out " .. q(page_path),
                                          "TORTUGA_NOTEBOOK_SIZE=" .. SIZE)
      assert.are.equal(0, code, f .. ": " .. out .. err)
      local page = assert(read(page_path), f .. ": the page was written")
      assert.is_nil(lfs.attributes(page_path .. ".tmp"), "no temporary file left")
      local cells = nbformat.read_notebook(assert(read("notebooks/" .. f)))
      local ncode = 0
      for _, c in ipairs(cells) do
        if c.cell_type == "code" then
          ncode = ncode + 1
          local sec = assert(cell_section(page, ncode), f .. ": code cell " .. ncode .. " on the page")
          assert.truthy(sec:find('class="cell code ok"', 1, true), f .. ": cell " .. ncode .. " ran: " .. sec:sub(1, 300))
          -- progress on stderr names each cell
          assert.truthy(err:find(string.format("cell %d/", ncode), 1, true), err)
        end
      end
      assert.are.equal(ncode, count(page, 'class="cell code '), f)
      assert.are.equal(0, count(page, 'class="output error-box"'), f)
      assert.truthy(page:find("every cell ran", 1, true), f)
      -- self-contained: nothing is loaded from elsewhere
      assert.is_nil(page:find('src="http', 1, true), f)
      assert.is_nil(page:find("<script", 1, true), f)
      assert.is_nil(page:find("<link", 1, true), f)
    end
  end)

  it("shows the quickstart's printed fractions and its slice as the PNG the library writes", function()
    if not need_exe() then return end
    local page_path = dir .. "/quickstart-check.html"
    local code, out, err = run_notebook("notebooks/quickstart.lua", "--out " .. q(page_path),
                                        "TORTUGA_NOTEBOOK_SIZE=" .. SIZE)
    assert.are.equal(0, code, out .. err)
    local page = read(page_path)
    -- the same generator call, here: the printed lines and the middle slice's PNG must match
    local labels = tg.generate.cathode { size = { SIZE, SIZE, SIZE }, seed = 1 }
    local fr = tg.measure.fractions(labels)
    for name, label in pairs({ pore = 0, cam = 1, ise = 2 }) do
      local line = string.format("%-4s %6.2f %%", name, 100 * fr[label])
      assert.truthy(page:find(line, 1, true), "printed: " .. line)
    end
    local png_path = dir .. "/slice.png"
    tg.io.write_png(png_path, labels, { z = SIZE // 2 + 1, colormap = "labels" })
    local b64 = wire.base64(read(png_path))
    assert.truthy(page:find('src="data:image/png;base64,' .. b64 .. '"', 1, true), "the middle slice is embedded")
    local sec = cell_section(page, 2)
    assert.truthy(sec:find("data:image/png;base64,", 1, true), "the PNG is under cell 2")
    assert.truthy(sec:find(string.format("%d x %d x %d voxels", SIZE, SIZE, SIZE), 1, true))
    -- the table of the last cell, and the header
    assert.truthy(cell_section(page, 5):find("<th>phase</th>", 1, true))
    assert.truthy(page:find("<h1>quickstart.lua</h1>", 1, true))
    assert.truthy(page:find("tortuga " .. tg.version, 1, true))
    assert.truthy(page:find(os.date("!%Y-%m-%d"), 1, true) or page:find("run 2", 1, true))
  end)

  it("a cell that raises: the page shows the error, later cells not run, exit status 1", function()
    if not need_exe() then return end
    local nb = dir .. "/failing.lua"
    write(nb, FAILING)
    os.remove(dir .. "/failing.html")
    local code, out, err = run_notebook(nb)
    assert.are.equal(1, code, out .. err)
    -- the message names the notebook, the cell and its line (the error is raised on line 10 of the file)
    assert.truthy(err:find("failing.lua: cell 2 (line 10) failed: failing.lua:10: boom: on purpose", 1, true), err)
    local page = assert(read(dir .. "/failing.html"), "the page is written beside the notebook")
    local c1, c2, c3 = cell_section(page, 1), cell_section(page, 2), cell_section(page, 3)
    assert.truthy(c1:find('class="cell code ok"', 1, true))
    assert.truthy(c1:find('<pre class="output stdout">42\n</pre>', 1, true), c1)
    assert.truthy(c2:find('class="cell code error"', 1, true))
    assert.truthy(c2:find("failing.lua:10: boom: on purpose", 1, true), c2)
    assert.truthy(c2:find("stack traceback:", 1, true))
    assert.truthy(c2:find("failing.lua:11: in function", 1, true), "the caller's frame, at its line: " .. c2)
    assert.truthy(c3:find('class="cell code notrun"', 1, true))
    assert.truthy(c3:find("not run", 1, true))
    assert.is_nil(c3:find('class="output', 1, true))
    assert.truthy(page:find('href="#cell-2">cell 2 (line 10)</a> failed', 1, true))
  end)

  it("a cell that does not compile fails the same way", function()
    if not need_exe() then return end
    local nb = dir .. "/syntax.lua"
    write(nb, "-- %%\nprint(1)\n-- %%\nlocal = 3\n-- %%\nprint(2)\n")
    local code, out, err = run_notebook(nb, "--out " .. q(dir .. "/syntax.html"))
    assert.are.equal(1, code, out .. err)
    assert.truthy(err:find("syntax.lua: cell 2 (line 4) failed: syntax.lua:4:", 1, true), err)
    local page = read(dir .. "/syntax.html")
    assert.truthy(cell_section(page, 2):find("syntax.lua:4: &lt;name&gt; expected", 1, true))
    assert.truthy(cell_section(page, 3):find("notrun", 1, true))
  end)

  it("runs an .ipynb, naming its cells in messages", function()
    if not need_exe() then return end
    write(dir .. "/failing2.lua", FAILING)
    local code, out, err = sh(q(exe) .. " notebook convert " .. q(dir .. "/failing2.lua") .. " " .. q(dir .. "/failing2.ipynb"))
    assert.are.equal(0, code, out .. err)
    code, out, err = run_notebook(dir .. "/failing2.ipynb", "--out " .. q(dir .. "/failing2.html"))
    assert.are.equal(1, code, out .. err)
    assert.truthy(err:find("failing2.ipynb: cell 2 failed: failing2.ipynb[2]:1: boom: on purpose", 1, true), err)
    assert.truthy(cell_section(read(dir .. "/failing2.html"), 1):find(">42\n<", 1, true))
  end)

  it("--timeout stops a cell that runs too long (Lua loop and engine operation)", function()
    if not need_exe() then return end
    local nb = dir .. "/forever.lua"
    write(nb, "-- %%\nprint('first')\n-- %%\nn = 0\nwhile true do n = n + 1 end\n-- %%\nprint('after')\n")
    local code, out, err = run_notebook(nb, "--timeout 0.5 --out " .. q(dir .. "/forever.html"))
    assert.are.equal(1, code, out .. err)
    assert.truthy(err:find("forever.lua: cell 2 (line 4) ran longer than --timeout 0.5 s", 1, true), err)
    local page = read(dir .. "/forever.html")
    assert.truthy(cell_section(page, 2):find("the cell ran longer than --timeout 0.5 s", 1, true))
    assert.truthy(cell_section(page, 3):find("notrun", 1, true))
    -- an engine operation is cancelled through its flag
    nb = dir .. "/engine.lua"
    write(nb, "-- %%\nfor i = 1, 1000 do v = tg.generate.cathode { size = { 160, 160, 160 }, seed = i } end\n")
    code, out, err = run_notebook(nb, "--timeout 0.5 --out " .. q(dir .. "/engine.html"))
    assert.are.equal(1, code, out .. err)
    assert.truthy(err:find("engine.lua: cell 1 (line 2) ran longer than --timeout 0.5 s", 1, true), err)
  end)

  it("Ctrl-C stops the run, writes the page and exits with 130", function()
    if not need_exe() then return end
    local nb, mark = dir .. "/interrupt.lua", dir .. "/interrupt.mark"
    os.remove(mark)
    write(nb, "-- %%\nlocal f = io.open(" .. string.format("%q", mark) .. ", 'w') f:write('x') f:close()\n" ..
              "-- %%\nwhile true do end\n-- %%\nprint('after')\n")
    -- SIGINT once the first cell has run (the second loops until stopped); give up waiting after 60 s
    local script = string.format("%s notebook run %s --out %s & p=$!; i=0; " ..
      "while [ ! -f %s ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; kill -INT $p; wait $p",
      q(exe), q(nb), q(dir .. "/interrupt.html"), q(mark))
    local code, out, err = sh("sh -c " .. q(script))
    assert.are.equal(130, code, out .. err)
    assert.truthy(err:find("interrupt.lua: interrupted in cell", 1, true), err)
    local page = read(dir .. "/interrupt.html")
    assert.truthy(page:find("interrupted!", 1, true))
    assert.truthy(cell_section(page, 3):find("notrun", 1, true))
  end)

  it("refuses bad arguments with a message", function()
    if not need_exe() then return end
    local code, _, err = sh(q(exe) .. " notebook run " .. q(dir .. "/missing.lua"))
    assert.are.equal(1, code)
    assert.truthy(err:find("cannot read " .. dir .. "/missing.lua", 1, true), err)
    code, _, err = sh(q(exe) .. " notebook run notes.txt")
    assert.are.equal(2, code)
    assert.truthy(err:find("expected a notebook FILE.lua or FILE.ipynb, got 'notes.txt'", 1, true), err)
    code, _, err = sh(q(exe) .. " notebook run notebooks/quickstart.lua --timeout soon")
    assert.are.equal(2, code)
    assert.truthy(err:find("--timeout: expected a number of seconds > 0, got 'soon'", 1, true), err)
    code, _, err = sh(q(exe) .. " notebook run notebooks/quickstart.lua --out /nonexistent-tortuga/page.html")
    assert.are.equal(1, code)
    assert.truthy(err:find("cannot write /nonexistent-tortuga/page.html", 1, true), err)
  end)
end)

describe("notebook.run (in this process)", function()
  it("keeps outputs in order, shares globals between cells and leaves _G alone", function()
    local nb = dir .. "/order.lua"
    write(nb, table.concat({
      "-- %%", "shared_value = 6", "io.write('a')", "tg.display({ 1, 2, 3 })", "io.stderr:write('e')",
      "print('b')", "shared_value * 7",
      "-- %%", "shared_value + 1;",
      "-- %%", "local hidden = 1", "return shared_value, 'x'",
    }, "\n"))
    local r = assert(notebook.run(nb, { log = false }))
    assert.are.equal("ok", r.status)
    assert.is_nil(rawget(_G, "shared_value"))
    local o = r.cells[1].outputs
    assert.are.same({ "stream", "display", "stream", "stream", "display" },
                    { o[1].type, o[2].type, o[3].type, o[4].type, o[5].type })
    assert.are.equal("a", o[1].text)
    assert.truthy(o[2].data["text/html"]:find("<td>3</td>", 1, true))
    assert.are.same({ "stderr", "e" }, { o[3].name, o[3].text })
    assert.are.equal("b\n", o[4].text)
    assert.are.equal("42", o[5].data["text/plain"])
    assert.are.equal(0, #r.cells[2].outputs, "a trailing ; hides the value")
    assert.are.equal(1, #r.cells[3].outputs)
    assert.are.equal("6\tx", r.cells[3].outputs[1].data["text/plain"])
    assert.is_number(r.cells[1].seconds)
  end)

  it("escapes <script> in printed text, values, tables and sources", function()
    local nb = dir .. "/escape.lua"
    write(nb, table.concat({
      "-- %%", "print('<script>alert(1)</script>')", "tg.display({ ['<script>'] = '<b>x</b>' })",
      "'<script>alert(2)</script>'",
    }, "\n"))
    local page = notebook.html(assert(notebook.run(nb, { log = false })))
    assert.is_nil(page:find("<script", 1, true))
    assert.is_nil(page:find("<b>x", 1, true))
    assert.truthy(page:find("&lt;script&gt;alert(1)&lt;/script&gt;\n</pre>", 1, true))
    assert.truthy(page:find("&lt;b&gt;x&lt;/b&gt;", 1, true))
    assert.truthy(page:find('<pre class="output result">&lt;script&gt;alert(2)&lt;/script&gt;</pre>', 1, true))
  end)
end)

describe("notebook.markdown", function()
  local md = notebook.markdown

  it("renders headings, paragraphs, emphasis, inline code and links", function()
    assert.are.equal('<h2 id="a-title">A title</h2>\n<p>one <strong>two</strong> <em>three</em> <code>x &lt; 1</code> ' ..
                     '<a href="https://example.org/?a=1&amp;b=2">site</a></p>',
                     md("## A title\n\none **two** *three* `x < 1` [site](https://example.org/?a=1&b=2)"))
    assert.are.equal("<p>a snake_case_name and <em>em</em> and <strong>strong</strong></p>",
                     md("a snake_case_name and _em_ and __strong__"))
    assert.are.equal("<p>[bad](javascript:alert(1))</p>", md("[bad](javascript:alert(1))"))
    assert.are.equal("<p>a *literal* star</p>", md("a \\*literal\\* star"))
  end)

  it("escapes HTML everywhere", function()
    assert.are.equal("<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;</p>", md("<script>alert(1)</script> & <b>"))
    assert.are.equal('<pre class="md-code"><code>&lt;div&gt; **no**</code></pre>', md("```\n<div> **no**\n```"))
    assert.are.equal("<h1 id=\"x-y\">x &lt;y&gt;</h1>", md("# x <y>"))
  end)

  it("renders lists (nested), block quotes, rules and tables", function()
    assert.are.equal("<ul><li>a</li><li>b<ol><li>c</li><li>d</li></ol></li></ul>", md("- a\n- b\n  1. c\n  2. d"))
    assert.are.equal('<ol start="3"><li>x</li><li>y</li></ol>', md("3. x\n4. y"))
    assert.are.equal("<blockquote><p>quoted <em>text</em></p></blockquote>", md("> quoted *text*"))
    assert.are.equal("<p>a</p>\n<hr>\n<p>b</p>", md("a\n\n---\n\nb"))
    assert.are.equal('<table class="md-table"><thead><tr><th>name</th><th style="text-align:right">n</th></tr></thead>' ..
                     '<tbody><tr><td><code>cam</code></td><td style="text-align:right">1</td></tr></tbody></table>',
                     md("| name | n |\n|------|--:|\n| `cam` | 1 |"))
  end)

  it("embeds local images and never loads remote ones", function()
    local png = dir .. "/tiny.png"
    local v = tg.volume.new { 2, 2, 1, dtype = "u8" }
    tg.io.write_png(png, v, { colormap = "grey", range = { 0, 1 } })
    local html = md("![a slice](tiny.png)", dir)
    assert.are.equal('<p><img alt="a slice" src="data:image/png;base64,' .. wire.base64(read(png)) .. '"></p>', html)
    assert.are.equal('<p><a href="https://example.org/x.png">[image: remote]</a></p>', md("![remote](https://example.org/x.png)"))
    assert.truthy(md("![gone](nothing-here.png)", dir):find("not found", 1, true))
  end)
end)

describe("the page in headless Chromium", function()
  it("renders without errors and is not blank", function()
    local chromium = which("chromium") or which("chromium-browser")
    if not chromium then
      pending("needs chromium (Debian chromium)")
      return
    end
    if lfs.attributes(exe, "mode") ~= "file" then
      pending("no tortuga executable at " .. exe)
      return
    end
    local path = dir .. "/render.html"
    local code, out, err = run_notebook("notebooks/quickstart.lua", "--out " .. q(path), "TORTUGA_NOTEBOOK_SIZE=" .. SIZE)
    assert.are.equal(0, code, out .. err)
    local profile = dir .. "/chromium-profile"
    os.execute("rm -rf " .. q(profile) .. " && mkdir -p " .. q(profile))
    local shot, log = dir .. "/render.png", dir .. "/chromium.log"
    os.remove(shot)
    local flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking " ..
                  "--disable-component-update --disable-sync --user-data-dir=" .. q(profile) ..
                  " --hide-scrollbars --enable-logging=stderr --v=0"
    os.execute(string.format("timeout 120 %s %s --window-size=1100,2000 --screenshot=%s %s > %s 2>&1",
                             chromium, flags, q(shot), q("file://" .. path), q(log)))
    local dom_file = dir .. "/render.dom"
    os.execute(string.format("timeout 120 %s %s --dump-dom %s > %s 2>/dev/null", chromium, flags,
                             q("file://" .. path), q(dom_file)))
    os.execute("rm -rf " .. q(profile))
    local png = read(shot)
    assert.truthy(png and png:sub(1, 8) == "\137PNG\r\n\26\n", "chromium wrote a PNG screenshot (log: " .. log .. ")")
    local logtext = read(log) or ""
    assert.is_nil(logtext:find("Uncaught", 1, true))
    assert.is_nil(logtext:find("Content Security Policy", 1, true), "the Content-Security-Policy blocked nothing")
    assert.is_nil(logtext:find("Failed to load resource", 1, true))
    -- the DOM Chromium built has the cells and the images
    local dom = read(dom_file) or ""
    assert.are.equal(5, count(dom, 'class="cell code ok"'), "the five code cells in the DOM")
    assert.are.equal(2, count(dom, 'src="data:image/png;base64,'), "the two slices in the DOM")
    assert.truthy(#png > 20000, "the screenshot has content (" .. #png .. " bytes)")
  end)
end)
