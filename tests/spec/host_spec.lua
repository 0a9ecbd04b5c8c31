-- The tortuga host (app/main.c) run as a program, and tortuga.repl's printing and completion.
-- The host's arg table and stdin handling are checked against stock lua5.4 run the same way.
local repl = require "tortuga.repl"
local tg = require "tortuga"

local function absolute(p) return p:sub(1, 1) == "/" and p or (os.getenv("PWD") .. "/" .. p) end
local EXE = absolute((os.getenv("TG_BUILD_DIR") or "build") .. "/tortuga")
local TMP = absolute((os.getenv("TG_TEST_TMP") or "/tmp/tortuga-tests") .. "/host")
os.execute("mkdir -p '" .. TMP .. "'")

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  return path
end

-- Run a shell command line; returns stdout, stderr, exit code. LUA_INIT is cleared unless given.
local function run(cmdline, env)
  local errf = TMP .. "/stderr.txt"
  local prefix = env or "env -u LUA_INIT -u LUA_INIT_5_4"
  local p = assert(io.popen(prefix .. " " .. cmdline .. " 2>" .. q(errf) .. " </dev/null", "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, slurp(errf), code
end

-- As run, with a given stdin.
local function run_in(cmdline, input)
  local inf = write(TMP .. "/stdin.txt", input)
  local errf = TMP .. "/stderr.txt"
  local p = assert(io.popen("env -u LUA_INIT -u LUA_INIT_5_4 " .. cmdline .. " 2>" .. q(errf) .. " <" .. q(inf), "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, slurp(errf), code
end

describe("tortuga host", function()
  it("prints its version with Lua's", function()
    local out, err, code = run(q(EXE) .. " --version")
    assert.are.equal(0, code)
    assert.are.equal("", err)
    local lua_release = out:match("^tortuga " .. tg.version:gsub("%.", "%%.") .. " %((Lua 5%.4%.%d+)%)\n$")
    assert.is_not_nil(lua_release, out)
    assert.are.equal(_VERSION, lua_release:match("^Lua 5%.4"))
  end)

  it("prints usage and the subcommands with --help", function()
    local out, _, code = run(q(EXE) .. " --help")
    assert.are.equal(0, code)
    assert.truthy(out:find("usage: tortuga [options] [script [args]]", 1, true))
    for _, opt in ipairs { "-e stat", "-i ", "--paths", "--version" } do
      assert.truthy(out:find(opt, 1, true), opt)
    end
    local ok, cli = pcall(require, "tortuga.cli")
    if ok and type(cli.commands) == "function" then
      for _, c in ipairs(cli.commands()) do
        assert.truthy(out:find("\n  " .. c.name .. " ", 1, true), c.name)
      end
    end
  end)

  -- Under AddressSanitizer the built core.so cannot be loaded into stock lua5.4 (the ASan runtime must
  -- come first in the process), so that half of the check needs an unsanitised build.
  local maps = io.open("/proc/self/maps")
  local sanitized = maps and maps:read("a"):find("libasan", 1, true) ~= nil
  if maps then maps:close() end

  it("prints --paths that make require 'tortuga' work from stock lua5.4", function()
    local out, _, code = run(q(EXE) .. " --paths")
    assert.are.equal(0, code)
    local lpath = out:match("export LUA_PATH='([^'\n]*)'\n")
    local cpath = out:match("export LUA_CPATH='([^'\n]*)'\n")
    assert.is_not_nil(lpath, out)
    assert.is_not_nil(cpath, out)
    assert.are.equal(";;", lpath:sub(-2))
    assert.are.equal(";;", cpath:sub(-2))
    -- the library's folder, then the applications' (app/lua in a build tree; one folder when installed)
    local luadir = lpath:match("^(.-)/%?%.lua;")
    local appdir = lpath:match("^[^;]*;[^;]*;(.-)/%?%.lua;") or luadir
    local want = luadir .. "/?.lua;" .. luadir .. "/?/init.lua;"
    if appdir ~= luadir then want = want .. appdir .. "/?.lua;" .. appdir .. "/?/init.lua;" end
    assert.are.equal(want .. ";", lpath)
    assert.truthy(io.open(luadir .. "/tortuga/init.lua"), luadir)
    assert.truthy(io.open(appdir .. "/tortuga/app.lua"), appdir)
    local sodir = cpath:match("^(.-)/%?%.so;;$")
    assert.truthy(io.open(sodir .. "/tortuga/core.so"), sodir)

    if sanitized then return end
    local script = write(TMP .. "/stock.lua", [[
      local tg = require "tortuga"
      local v = tg.volume.new{4, 3, 2}
      print(tg.version, v:dims())
      print(package.searchpath("tortuga.core", package.cpath))
      print(package.searchpath("tortuga", package.path))
      print(tg.report, require("tortuga.report").html ~= nil) -- the library alone; the applications by name
      local app = require("tortuga.app").attach(tg)               -- or attached, as the host does
      print(app == tg, tg.report == require "tortuga.report", type(tg.kernel.image), type(tg.display))
    ]])
    local sout, serr, scode = run("sh -c " .. q('eval "$(' .. q(EXE) .. ' --paths)" && lua5.4 ' .. q(script)))
    assert.are.equal(0, scode, serr)
    local lines = {}
    for l in sout:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(tg.version .. "\t4\t3\t2", lines[1])
    assert.are.equal(sodir .. "/tortuga/core.so", lines[2])
    assert.are.equal(luadir .. "/tortuga/init.lua", lines[3])
    assert.are.equal("nil\ttrue", lines[4])
    assert.are.equal("true\ttrue\tfunction\tfunction", lines[5])
  end)

  it("gives scripts the library with the applications' names attached", function()
    local script = write(TMP .. "/names.lua", [[
      local tg = require "tortuga"
      print(tg.report == require "tortuga.report", tg.cli == require "tortuga.cli", tg.kernel == require "tortuga.kernel",
            tg.repl == require "tortuga.repl", type(tg.display), tg.volume ~= nil)
      tg.display({ a = 1 }) -- outside the kernel it prints as the REPL does
    ]])
    local out, err, code = run(q(EXE) .. " " .. q(script))
    assert.are.equal(0, code, err)
    assert.are.equal("true\ttrue\ttrue\ttrue\tfunction\ttrue\n{ a = 1 }\n", out)
  end)

  it("runs -e chunks in order, then exits", function()
    local out, err, code = run(q(EXE) .. " -e 'x = 20' -e 'print(x + 22)' -e 'print(tostring(tg))'")
    assert.are.equal(0, code, err)
    assert.are.equal("42\nnil\n", out) -- no tg global outside the REPL
  end)

  it("preloads tortuga.core and finds the Lua files with no environment", function()
    local out, err, code = run(q(EXE) .. " -e " .. q([[
      print(package.preload["tortuga.core"] ~= nil)
      local tg = require "tortuga"
      print(tg.version, tg._core == require "tortuga.core")]]),
      "env -i")
    assert.are.equal(0, code, err)
    assert.are.equal("true\n" .. tg.version .. "\ttrue\n", out)
  end)

  it("sets arg for a script exactly as lua5.4 does", function()
    local script = write(TMP .. "/args.lua", [[
      local t = {}
      for i = -2, #arg do t[#t + 1] = string.format("[%d]=%s", i, tostring(arg[i])) end
      t[#t + 1] = "#=" .. #arg
      t[#t + 1] = "...=" .. table.concat({...}, "|")
      print(table.concat(t, " "))
    ]])
    local args = " -e 'y=1' " .. q(script) .. " one 'two words' --three"
    local out, err, code = run(q(EXE) .. args)
    assert.are.equal(0, code, err)
    assert.are.equal("[-2]=-e [-1]=y=1 [0]=" .. script .. " [1]=one [2]=two words [3]=--three #=3 " ..
                     "...=one|two words|--three\n", out)
    local lout = run("lua5.4" .. args)
    assert.are.equal(lout, out)
  end)

  it("runs a script given as an existing file whose name is a bare word", function()
    write(TMP .. "/hello", "print('hello from ' .. arg[0], ...)\n")
    local out, err, code = run("sh -c " .. q("cd " .. q(TMP) .. " && " .. q(EXE) .. " hello x"))
    assert.are.equal(0, code, err)
    assert.are.equal("hello from hello\tx\n", out)
  end)

  it("runs stdin as a script, with '-' and when stdin is not a terminal", function()
    local out, err, code = run_in(q(EXE) .. " - a b", "print('stdin', ...)\n")
    assert.are.equal(0, code, err)
    assert.are.equal("stdin\ta\tb\n", out)
    assert.are.equal(out, (run_in("lua5.4 - a b", "print('stdin', ...)\n")))
    out, err, code = run_in(q(EXE), "#!/usr/bin/env tortuga\nprint(1 + 1)\n")
    assert.are.equal(0, code, err)
    assert.are.equal("2\n", out)
  end)

  it("reports a script error on stderr with a traceback and exits 1", function()
    local script = write(TMP .. "/fails.lua", "local function f() error('kaboom') end\nf()\n")
    local out, err, code = run(q(EXE) .. " " .. q(script) .. " arg1")
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.truthy(err:find("^tortuga: " .. script:gsub("%p", "%%%0") .. ":1: kaboom\n"), err)
    assert.truthy(err:find("stack traceback:", 1, true), err)
  end)

  it("reports syntax errors and missing scripts with exit 1", function()
    local bad = write(TMP .. "/syntax.lua", "x = = 1\n")
    local _, err, code = run(q(EXE) .. " " .. q(bad))
    assert.are.equal(1, code)
    assert.truthy(err:find(bad .. ":1:", 1, true), err)
    _, err, code = run(q(EXE) .. " " .. q(TMP .. "/no_such_script.lua"))
    assert.are.equal(1, code)
    assert.truthy(err:find("cannot open " .. TMP .. "/no_such_script.lua", 1, true), err)
  end)

  it("rejects an unknown subcommand with exit 2", function()
    local out, err, code = run(q(EXE) .. " frobnicate --fast")
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.are.equal("tortuga: unknown command 'frobnicate' (try tortuga --help)\n", err)
  end)

  -- A stand-in tortuga.cli, preloaded through LUA_INIT, to check the host's side of the contract.
  local fake_cli = [[package.preload["tortuga.cli"] = function()
    return {
      commands = function() return { { name = "greet", summary = "say hello" }, { name = "boom", summary = "fail" } } end,
      main = function(name, args)
        if name == "boom" then error("it broke") end
        print(name, #args, table.concat(args, "|"), arg[0])
        return 3
      end,
    }
  end]]

  it("runs a subcommand through tortuga.cli.main(name, args) and exits with its result", function()
    local env = "env -u LUA_INIT_5_4 LUA_INIT=" .. q(fake_cli)
    local out, err, code = run(q(EXE) .. " greet a 'b c' --x", env)
    assert.are.equal(3, code, err)
    assert.are.equal("greet\t3\ta|b c|--x\tgreet\n", out)
    out, err, code = run(q(EXE) .. " boom", env)
    assert.are.equal(1, code)
    assert.truthy(err:find("^tortuga boom: .*it broke"), err)
    out, err, code = run(q(EXE) .. " nosuch", env)
    assert.are.equal(2, code)
    assert.are.equal("tortuga: unknown command 'nosuch' (try tortuga --help)\n", err)
    out, err, code = run(q(EXE) .. " --help", env)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("\n  greet       say hello\n  boom        fail\n", 1, true), out)
    out, err, code = run(q(EXE) .. " help", env)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("usage: tortuga", 1, true), out)
  end)

  it("rejects an unknown option with exit 2", function()
    local _, err, code = run(q(EXE) .. " --frobnicate")
    assert.are.equal(2, code)
    assert.truthy(err:find("unrecognized option '--frobnicate'", 1, true), err)
    _, err, code = run(q(EXE) .. " -e")
    assert.are.equal(2, code)
    assert.truthy(err:find("'-e' needs argument", 1, true), err)
  end)

  it("honours LUA_INIT (a chunk or @file) and ignores it with -E", function()
    local out, err, code = run(q(EXE) .. " -e 'print(X)'", "env LUA_INIT='X = 7'")
    assert.are.equal(0, code, err)
    assert.are.equal("7\n", out)
    local init = write(TMP .. "/init.lua", "X = 'from file'\n")
    out = run(q(EXE) .. " -e 'print(X)'", "env -u LUA_INIT_5_4 LUA_INIT=@" .. q(init))
    assert.are.equal("from file\n", out)
    out = run(q(EXE) .. " -E -e 'print(X)'", "env LUA_INIT='X = 7'")
    assert.are.equal("nil\n", out)
    out = run(q(EXE) .. " -e 'print(X)'", "env LUA_INIT='X = 1' LUA_INIT_5_4='X = 54'")
    assert.are.equal("54\n", out)
  end)

  it("runs the REPL after a script with -i, reading stdin without a terminal", function()
    local input = table.concat({
      "6 * 7",
      "=1, 'two', nil",
      "function sq(x)",
      "  return x * x",
      "end",
      "sq(12)",
      "error('oops')",
      "{b = {1, 2, 3}, a = 0.5}",
      "tg.volume.new{4, 3, 2}",
      "",
    }, "\n")
    local out, err, code = run_in(q(EXE) .. " -e 'z = 5' -i", input)
    assert.are.equal(0, code, err)
    local v = tg.volume.new { 4, 3, 2 }
    local expected = table.concat({
      "tg> 42",
      "tg> 1\ttwo\tnil",
      "tg> ..> ..> tg> 144",
      "tg> tg> { a = 0.5, b = { 1, 2, 3 } }",
      "tg> " .. tostring(v),
      "tg> \n", -- end of input ends the line
    }, "\n")
    assert.truthy(out:find("^tortuga " .. tg.version:gsub("%.", "%%.") .. " %(Lua 5%.4%.%d+%), %d+ threads?%."), out)
    assert.are.equal(expected, out:match("\n(.*)$"))
    assert.truthy(err:find("^stdin:1: oops\nstack traceback:"), err)
  end)

  it("still gives a Lua REPL when tortuga cannot be loaded", function()
    local out, err, code = run_in(q(EXE) .. " -e 'package.path = \"\"' -i", "1 + 1\n")
    assert.are.equal(0, code)
    assert.truthy(err:find("could not load the tortuga library", 1, true), err)
    assert.truthy(out:find("\ntg> 2\n", 1, true), out)
  end)
end)

describe("tortuga.repl.show", function()
  it("shows scalars as print does, floats with %.6g", function()
    assert.are.equal("1", repl.show(1))
    assert.are.equal("0.333333", repl.show(1 / 3))
    assert.are.equal("1e-07", repl.show(1e-7))
    assert.are.equal("123457", repl.show(123456.7))
    assert.are.equal("inf\t-inf\tnan", repl.show(math.huge, -math.huge, 0 / 0))
    assert.are.equal("nil", repl.show(nil))
    assert.are.equal("1\ttext\tnil\ttrue", repl.show(1, "text", nil, true))
    assert.are.equal("", repl.show())
    assert.are.equal("function: builtin", repl.show(print))
    assert.are.equal('"a\\n\\"b\\"\\0001"', repl.format('a\n"b"\0' .. '1'))
  end)

  it("shows a volume by its __tostring", function()
    local v = tg.volume.new { 4, 3, 2, spacing = 1e-7 }
    assert.are.equal(tostring(v), repl.show(v))
    assert.truthy(repl.show(v):find("^tortuga%.Volume%(4x3x2 u8"))
    assert.are.equal("{ vol = " .. tostring(v) .. " }", repl.show({ vol = v }))
  end)

  it("sorts keys (numbers, then strings) and quotes what is not a name", function()
    assert.are.equal('{ [0] = 0.07, [1] = 0.55, [2] = 0.38, units = "1" }',
      repl.show({ [0] = 0.07, [1] = 0.55, [2] = 0.38, units = "1" }))
    assert.are.equal('{ [-1] = 1, [2.5] = 2, ["a b"] = 3, ["end"] = 4, z = 5 }',
      repl.show({ z = 5, ["end"] = 4, ["a b"] = 3, [2.5] = 2, [-1] = 1 }))
    assert.are.equal("{ 10, 20, 30 }", repl.show({ 10, 20, 30 }))
    assert.are.equal("{}", repl.show({}))
  end)

  it("indents nested tables that do not fit on a line", function()
    local res = {
      phases = { [0] = 1.5e-9, [1] = 2.25e-9, [2] = 3e-9 },
      interfaces = { ["0-1"] = 1e-9, ["0-2"] = 2e-9, ["1-2"] = 3e-9 },
      tpb_length = 1.2345678e-5, units = "m2", convention = "open",
    }
    assert.are.equal(table.concat({
      "{",
      '  convention = "open",',
      '  interfaces = { ["0-1"] = 1e-09, ["0-2"] = 2e-09, ["1-2"] = 3e-09 },',
      "  phases = { [0] = 1.5e-09, [1] = 2.25e-09, [2] = 3e-09 },",
      "  tpb_length = 1.23457e-05,",
      '  units = "m2"',
      "}",
    }, "\n"), repl.show(res))
    local deep = { a = { b = { c = { d = { e = { f = { g = 1 } } } } } } }
    assert.are.equal("{ a = { b = { c = { d = { e = { f = {...} } } } } } }", repl.show(deep))
  end)

  it("elides long arrays after max_items", function()
    local t = {}
    for i = 1, 1000 do t[i] = i end
    assert.are.equal("{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... 990 more }", repl.show(t))
    for i = 1, 1000 do t[i] = i / 7 end -- too wide for one line: packed within 80 columns
    assert.are.equal(table.concat({
      "{",
      "  0.142857, 0.285714, 0.428571, 0.571429, 0.714286, 0.857143, 1, 1.14286,",
      "  1.28571, 1.42857, ... 990 more",
      "}" }, "\n"), repl.show(t))
    for i = 1, 1000 do t[i] = i end
    assert.are.equal("{ 1, 2, 3, ... 997 more }", repl.format(t, { max_items = 3 }))
    local many = {}
    for i = 1, 60 do many["k" .. string.format("%02d", i)] = i end
    local ms = repl.format(many, { max_keys = 5 })
    assert.truthy(ms:find("k05 = 5,", 1, true), ms)
    assert.falsy(ms:find("k06", 1, true), ms)
    assert.truthy(ms:find("... 55 more", 1, true), ms)
  end)

  it("guards cycles but shows a shared table each time it appears", function()
    local c = { name = "x" }
    c.self = c
    c.list = { c, 2 }
    assert.are.equal('{ list = { <cycle>, 2 }, name = "x", self = <cycle> }', repl.show(c))
    local shared = { 1 }
    assert.are.equal("{ x = { 1 }, y = { 1 } }", repl.show({ x = shared, y = shared }))
  end)

  it("rejects unknown options", function()
    assert.raises_with(function() repl.format({}, { max_itms = 3 }) end, "unknown option 'max_itms'")
  end)
end)

describe("tortuga.repl.complete", function()
  local saved
  before_each(function()
    saved = { tg = rawget(_G, "tg"), vol = rawget(_G, "vol"), word = rawget(_G, "word") }
    _G.tg = tg
    _G.vol = tg.volume.new { 2, 2, 2 }
    _G.word = "text"
  end)
  after_each(function()
    _G.tg, _G.vol, _G.word = saved.tg, saved.vol, saved.word
  end)

  local function has(list, s)
    for _, x in ipairs(list) do if x == s then return true end end
    return false
  end

  it("completes tg. names and fields", function()
    assert.is_true(has(repl.complete("tg.vo"), "tg.volume"))
    assert.are.same({ "tg.volume.new" }, repl.complete("tg.volume.ne"))
    local all = repl.complete("tg.")
    assert.is_true(has(all, "tg.version") and has(all, "tg.threads") and has(all, "tg.volume"))
    for i = 2, #all do assert.is_true(all[i - 1] < all[i]) end
  end)

  it("completes library functions and globals and keywords", function()
    assert.are.same({ "string.format" }, repl.complete("string.fo"))
    assert.is_true(has(repl.complete("pri"), "print"))
    assert.is_true(has(repl.complete("whi"), "while"))
    assert.are.same({}, repl.complete("no_such_global."))
    assert.are.same({}, repl.complete("tg..x"))
  end)

  it("completes methods after ':' for volumes and strings", function()
    assert.are.same({ "vol:copy", "vol:counts" }, repl.complete("vol:co"))
    assert.is_true(has(repl.complete("vol:"), "vol:dims"))
    assert.is_false(has(repl.complete("vol:"), "vol:dtype"))
    assert.is_true(has(repl.complete("vol.dt"), "vol.dtype"))
    assert.are.same({ "word:upper" }, repl.complete("word:up"))
  end)
end)
