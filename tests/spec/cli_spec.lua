-- tortuga.cli (the `tortuga describe` and `tortuga demo` subcommands, which print and write what tg.describe
-- returns) and tortuga.json. Numbers come from label volumes built here with known voxel counts; digests from
-- coreutils' sha256sum and the FIPS 180-2 vector for "abc".
local tg = require "tortuga"
local core = require "tortuga.core"
local cli = require "tortuga.cli"
local json = require "tortuga.json"
local cjson = require "cjson"
local H = test_helper

local function buffer()
  local b = { parts = {} }
  function b:write(...)
    for i = 1, select("#", ...) do self.parts[#self.parts + 1] = tostring((select(i, ...))) end
    return self
  end
  function b:text() return table.concat(self.parts) end
  return b
end

-- Run a subcommand; returns exit code, stdout, stderr.
local function run(name, args)
  local out, err = buffer(), buffer()
  local code = cli.main(name, args, { stdout = out, stderr = err })
  return code, out:text(), err:text()
end

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function sha256sum(path)
  local p = io.popen("sha256sum '" .. path .. "' 2>/dev/null")
  local line = p and p:read("l")
  if p then p:close() end
  return line and line:match("^(%x+)")
end

-- 20 x 10 x 5 = 1000 voxels: label 1 in x 1..5 (250), label 2 in x 6..8 (150), label 7 at one voxel,
-- label 0 elsewhere (599).
local function known_labels(spacing)
  local v = tg.volume.new{20, 10, 5, dtype = "u8", spacing = spacing}
  v:view{x = {1, 5}}:fill(1)
  v:view{x = {6, 8}}:fill(2)
  v:set(20, 10, 5, 7)
  return v
end

describe("tortuga.cli", function()
  local dir = H.tmpdir("cli_spec")

  it("lists its commands for --help", function()
    local cmds = cli.commands()
    local names = {}
    for _, c in ipairs(cmds) do
      names[c.name] = true
      assert.is_string(c.summary)
      assert.truthy(#c.summary > 10)
    end
    assert.is_true(names.describe)
    assert.is_true(names.demo)
  end)

  describe("argument parsing", function()
    it("parses --phases", function()
      assert.are.same({ pore = 0, cam = 1, ise = 2 }, cli.parse_phases("pore=0,cam=1,ise=2"))
      assert.are.same({ pore = 0, cam = 65535 }, cli.parse_phases(" pore = 0 , cam=65535"))
    end)

    it("rejects malformed --phases with a usage error (status 2)", function()
      local cases = {
        { "x", "--phases: expected name=value pairs like pore=0,cam=1, got 'x'" },
        { "pore=0,,cam=1", "got ''" },
        { "pore=0,pore=1", "phase name 'pore' given twice" },
        { "a=1,b=1", "label 1 is named twice ('a' and 'b')" },
        { "a=-1", "must be an integer 0..65535, got '-1'" },
        { "a=65536", "must be an integer 0..65535, got '65536'" },
        { "a=1.5", "must be an integer 0..65535, got '1.5'" },
        { "1a=1", "must start with a letter" },
      }
      for _, c in ipairs(cases) do
        local code, out, err = run("describe", { "labels.tif", "--phases", c[1] })
        assert.are.equal(2, code)
        assert.are.equal("", out)
        assert.truthy(err:find("tortuga describe: ", 1, true), err)
        assert.truthy(err:find(c[2], 1, true), "expected '" .. c[2] .. "' in: " .. err)
      end
    end)

    it("parses --spacing with units, and x,y,z for anisotropic voxels", function()
      local function near(want, s)
        local got = cli.parse_spacing(s)
        for i = 1, 3 do assert.relnear(want[i], got[i], 1e-12) end
      end
      near({ 1e-7, 1e-7, 1e-7 }, "100nm")
      near({ 1e-7, 1e-7, 1e-7 }, "0.1um")
      near({ 1e-7, 1e-7, 1e-7 }, "0.1µm")  -- micro sign U+00B5
      near({ 1e-7, 1e-7, 1e-7 }, "0.1μm")  -- Greek mu U+03BC
      near({ 1e-7, 1e-7, 1e-7 }, "1e-7")
      near({ 1e-7, 1e-7, 1e-7 }, "1e-7m")
      near({ 1e-7, 1e-7, 2e-7 }, "100nm,100nm,200nm")
      near({ 5e-9, 5e-9, 1e-8 }, "5nm,5 nm,0.01um")
      local _, warn = cli.parse_spacing("100")
      assert.truthy(warn and warn:find("100 metres", 1, true))
    end)

    it("rejects malformed --spacing", function()
      for _, s in ipairs({ "abc", "1nm,2nm", "-5nm", "0nm", "100xm", "1nm,2nm,3nm,4nm", "" }) do
        local code, _, err = run("describe", { "labels.tif", "--spacing", s })
        assert.are.equal(2, code)
        assert.truthy(err:find("tortuga describe: --spacing", 1, true), err)
      end
    end)

    it("suggests the closest option for an unknown one", function()
      local code, _, err = run("describe", { "labels.tif", "--phase", "pore=0" })
      assert.are.equal(2, code)
      assert.truthy(err:find("unknown option '--phase' (did you mean '--phases'?)", 1, true), err)
      code, _, err = run("describe", { "labels.tif", "--jsn=out.json" })
      assert.are.equal(2, code)
      assert.truthy(err:find("unknown option '--jsn' (did you mean '--json'?)", 1, true), err)
      code, _, err = run("describe", { "labels.tif", "--xyzzy" })
      assert.are.equal(2, code)
      assert.truthy(err:find("unknown option '--xyzzy' (options: ", 1, true), err)
      code, _, err = run("describe", { "labels.tif", "-x" })
      assert.are.equal(2, code)
      assert.truthy(err:find("unknown option '-x'", 1, true), err)
    end)

    it("reports a missing value after a flag", function()
      local code, _, err = run("describe", { "labels.tif", "--json" })
      assert.are.equal(2, code)
      assert.truthy(err:find("option '--json' needs a value", 1, true), err)
      code, _, err = run("describe", { "labels.tif", "--phases", "--json", "x.json" })
      assert.are.equal(2, code)
      assert.truthy(err:find("option '--phases' needs a value", 1, true), err)
    end)

    it("reports a missing or extra input and bad --threads", function()
      local code, _, err = run("describe", {})
      assert.are.equal(2, code)
      assert.truthy(err:find("missing the label stack", 1, true), err)
      code, _, err = run("describe", { "a.tif", "b.tif" })
      assert.are.equal(2, code)
      assert.truthy(err:find("expected one label stack", 1, true), err)
      code, _, err = run("describe", { "a.tif", "--threads", "zero" })
      assert.are.equal(2, code)
      assert.truthy(err:find("--threads: expected an integer", 1, true), err)
    end)

    it("prints help with status 0", function()
      local code, out = run("describe", { "--help" })
      assert.are.equal(0, code)
      assert.truthy(out:find("usage: tortuga describe", 1, true))
      code, out = run("demo", { "-h" })
      assert.are.equal(0, code)
      assert.truthy(out:find("usage: tortuga demo", 1, true))
    end)

    it("names a missing input file (status 1)", function()
      local missing = dir .. "/no-such-labels.tif"
      local code, out, err = run("describe", { missing, "--phases", "pore=0" })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.truthy(err:find("tortuga describe: cannot open '" .. missing .. "'", 1, true), err)
    end)

    it("answers an unknown command with a suggestion", function()
      local code, _, err = run("describ", {})
      assert.are.equal(2, code)
      assert.truthy(err:find("did you mean 'describe'", 1, true), err)
    end)
  end)

  describe("describe", function()
    it("counts voxels, fractions and volumes of a label volume with known counts", function()
      local v = known_labels({ 1e-7, 1e-7, 2e-7 })
      local r, warnings = cli.describe(v, { phases = { pore = 0, cam = 1, ise = 2 } })
      assert.are.same({ pore = 599, cam = 250, ise = 150, ["unnamed label 7"] = 1 }, r.voxels.by_name)
      assert.are.same({ [0] = 599, [1] = 250, [2] = 150, [7] = 1, total = 1000, by_name = r.voxels.by_name }, r.voxels)
      assert.are.same({ pore = 0, cam = 1, ise = 2, ["unnamed label 7"] = 7 }, r.provenance.parameters.phases)
      assert.relnear(0.599, r.fractions.by_name.pore, 1e-12)
      assert.relnear(0.25, r.fractions.by_name.cam, 1e-12)
      assert.relnear(0.15, r.fractions.by_name.ise, 1e-12)
      assert.relnear(0.001, r.fractions.by_name["unnamed label 7"], 1e-12)
      assert.are.same({ 20, 10, 5 }, r.provenance.dims)
      assert.is_nil(r.surfaces)   -- the fractions only: tg.describe with the other parts off
      assert.is_nil(r.tau)
      assert.are.equal(1, #warnings)
      assert.truthy(warnings[1]:find("label 7 (1 voxel) is not named", 1, true))
      assert.are.equal(warnings[1], r.notes[#r.notes])

      local text = cli.format(r)
      assert.truthy(text:find("\ncam%s+1%s+250%s+25%.00 %%%s+0%.500\n"), text)
      assert.truthy(text:find("\nise%s+2%s+150%s+15%.00 %%%s+0%.300\n"), text)
      assert.truthy(text:find("\npore%s+0%s+599%s+59%.90 %%%s+1%.198\n"), text)
      assert.truthy(text:find("\nunnamed label 7%s+7%s+1%s+0%.10 %%%s+0%.002\n"), text)
      assert.truthy(text:find("\ntotal%s+1000%s+100%.00 %%%s+2%.000\n"), text)
      assert.truthy(text:find("dims      20 x 10 x 5 voxels", 1, true), text)
      assert.truthy(text:find("spacing   100 x 100 x 200 nm", 1, true), text)
      assert.truthy(text:find("volume    2.000 µm³ (2 x 1 x 1 µm)", 1, true), text)
    end)

    it("reports a named phase that is absent with zero voxels, and honours a spacing override", function()
      local v = known_labels()
      local r = cli.describe(v, { phases = { pore = 0, cam = 1, ise = 2, binder = 3 }, spacing = { 1e-6, 1e-6, 1e-6 } })
      assert.are.equal(0, r.voxels.by_name.binder)
      assert.are.equal(0, r.fractions.by_name.binder)
      assert.are.equal("option", r.provenance.spacing_source)
      assert.are.same({ 1e-6, 1e-6, 1e-6 }, r.provenance.spacing)
      local text = cli.format(r)
      assert.truthy(text:find("\nbinder%s+3%s+0%s+0%.00 %%%s+0%.000\n"), text)
      assert.truthy(text:find("volume    1000.000 µm³ (20 x 10 x 5 µm)", 1, true), text)
      assert.truthy(text:find("(from --spacing)", 1, true), text)
      assert.are.equal(1, v:spacing()[1]) -- the volume itself is unchanged
    end)

    it("says the spacing is unknown when the volume has none", function()
      local v = known_labels()
      local r, warnings = cli.describe(v, {})
      assert.are.same({ 1, 1, 1 }, r.provenance.spacing)
      assert.are.equal("voxel", r.units.length)
      assert.are.equal(599, r.voxels.by_name["label 0"])
      assert.are.same({}, warnings) -- without --phases nothing is "unnamed"
      assert.truthy(cli.format(r):find("spacing   unknown", 1, true))
      assert.truthy(cli.format(r):find("volume    1000 voxels", 1, true))
    end)

    it("refuses a float volume", function()
      local v = tg.volume.new{2, 2, 2, dtype = "f32"}
      assert.raises_with(function() cli.describe(v, {}) end, "needs a label image")
    end)

    it("runs end to end on a TIFF: table, JSON and provenance", function()
      if not (tg.io and tg.io.write and tg.io.read) then
        pending("tg.io.write / tg.io.read are not in this build yet")
        return
      end
      local tif = dir .. "/labels.tif"
      tg.io.write(tif, known_labels({ 5e-8, 5e-8, 5e-8 }))
      local out_json = dir .. "/describe.json"
      os.remove(out_json)
      local code, out, err = run("describe", { tif, "--phases", "pore=0,cam=1,ise=2",
                                               "--spacing", "100nm,100nm,200nm", "--json", out_json, "--threads", "2" })
      assert.are.equal(0, code, err)
      assert.truthy(out:find("\ncam%s+1%s+250%s+25%.00 %%%s+0%.500\n"), out)
      assert.truthy(out:find("spacing   100 x 100 x 200 nm (from --spacing)", 1, true), out)
      assert.truthy(err:find("warning: label 7 (1 voxel) is not named in --phases", 1, true), err)

      -- the JSON is tg.describe's result (d:write_json)
      local d = cjson.decode(read_all(out_json))
      assert.are.same({ 20, 10, 5 }, d.provenance.dims)
      assert.relnear(0.25, d.fractions.by_name.cam, 1e-12)
      assert.relnear(0.15, d.fractions.by_name.ise, 1e-12)
      assert.relnear(0.599, d.fractions.by_name.pore, 1e-12)
      assert.relnear(0.001, d.fractions.by_name["unnamed label 7"], 1e-12)
      assert.relnear(0.001, d.fractions["7"], 1e-12)
      assert.are.equal(250, d.voxels.by_name.cam)
      assert.are.equal(599, d.voxels.by_name.pore)
      assert.are.equal(1000, d.voxels.total)
      for i, s in ipairs({ 1e-7, 1e-7, 2e-7 }) do assert.relnear(s, d.provenance.spacing[i], 1e-12) end
      assert.are.equal("option", d.provenance.spacing_source)
      assert.are.equal("m", d.units.length)
      assert.are.equal("1", d.units.fractions)
      assert.truthy(d.notes[#d.notes]:find("label 7 (1 voxel) is not named", 1, true))
      local p = d.provenance
      assert.are.equal(tif, p.input)
      assert.are.equal(#read_all(tif), p.file_bytes)
      assert.are.equal(core.sha256_file(tif), p.file_sha256)
      local ref = sha256sum(tif)
      if ref then assert.are.equal(ref, p.file_sha256) end
      assert.are.equal(tg.io.read(tif):sha256(), p.sha256) -- of the voxels
      assert.are.same({ pore = 0, cam = 1, ise = 2, ["unnamed label 7"] = 7 }, p.parameters.phases)
      assert.is_false(p.parameters.transport)
      assert.truthy(p.command:find("^tortuga describe .*%-%-spacing 100nm,100nm,200nm"), p.command)
      assert.are.equal(tg.version, p.tortuga_version)
      assert.are.equal(_VERSION, p.lua_version)
      assert.truthy(p.time:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"), p.time)
      assert.truthy(#p.host > 0)
      -- the file's own calibration when --spacing is not given
      code, out = run("describe", { tif, "--phases", "pore=0,cam=1,ise=2,other=7" })
      assert.are.equal(0, code)
      assert.truthy(out:find("spacing   50 x 50 x 50 nm (from the file)", 1, true), out)
    end)

    it("reports a file that is not a label stack (status 1)", function()
      if not (tg.io and tg.io.read) then
        pending("tg.io.read is not in this build yet")
        return
      end
      local p = dir .. "/not-a-tiff.tif"
      local f = assert(io.open(p, "wb"))
      f:write("hello, not a TIFF\n")
      f:close()
      local code, out, err = run("describe", { p, "--phases", "pore=0" })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.truthy(err:find("tortuga describe: cannot read '" .. p .. "': ", 1, true), err)
    end)

    -- three phases meeting along one line along x: pore where y <= 5, else cam where z <= 4, else ise
    local function triple_line(spacing)
      local v = tg.volume.new{12, 10, 8, dtype = "u8", spacing = spacing}
      v:view{y = {6, 10}, z = {1, 4}}:fill(1)
      v:view{y = {6, 10}, z = {5, 8}}:fill(2)
      return v
    end

    it("adds the geometry with all = true: TPB, percolation, chords, thickness and surfaces", function()
      local sp = { 1e-7, 2e-7, 3e-7 }
      local v = triple_line(sp)
      local r = cli.describe(v, { phases = { pore = 0, cam = 1, ise = 2 }, mode = "all",
                                  density = { cam = 4.7e3, ise = 1.9e3 } })
      assert.relnear(12 * sp[1], r.tpb.length, 1e-12) -- one voxel edge per column along x
      assert.relnear(12 * sp[1] / (12 * 10 * 8 * 6e-21), r.tpb.per_volume, 1e-12)
      -- along z: the pore spans, cam touches only the first slice, ise only the last
      assert.are.equal(1, r.percolation.pore.z.spanning)
      assert.are.equal(1, r.percolation.cam.z.inlet)
      assert.are.equal(1, r.percolation.ise.z.outlet)
      assert.are.equal(0, r.percolation.cam.z.isolated)
      -- along x every phase spans (each fills whole rows along x)
      for _, name in ipairs{ "pore", "cam", "ise" } do assert.are.equal(1, r.percolation[name].x.spanning) end
      -- every chord touches a face and is trimmed: none, and means of 0 rather than NaN
      for _, name in ipairs{ "pore", "cam", "ise" } do
        for _, ax in ipairs{ "x", "y", "z" } do
          assert.are.equal(0, r.chords[name][ax].n)
          assert.are.equal(0, r.chords[name][ax].mean)
        end
        assert.is_true(r.thickness[name].d50 > 0 and r.thickness[name].d10 <= r.thickness[name].d90)
      end
      -- the surfaces are tg.measure.surfaces' numbers in both conventions; per gram of cam from its density
      local s = tg.measure.surfaces(v, { phases = { pore = 0, cam = 1, ise = 2 }, convention = "closed" })
      assert.are.equal(s.phases[1], r.surfaces_other.closed.phases[1])
      assert.are.equal(s.interfaces["1-2"], r.surfaces_other.closed.interfaces["1-2"])
      local open = tg.measure.surfaces(v, { phases = { pore = 0, cam = 1, ise = 2 } })
      assert.are.equal(open.interfaces["1-2"], r.interfaces["cam-ise"].area)
      local grams = 5 * 4 * 12 * 6e-21 * 4.7e3 * 1e3
      assert.relnear(grams, r.surfaces.specific.per_gram.grams, 1e-12)
      assert.relnear(r.surfaces.phases[1] / grams, r.surfaces.specific.per_gram.phases[1], 1e-12)
      assert.is_nil(r.tau)
      assert.is_nil(r.active_cam)
      local text = cli.format(r)
      assert.truthy(text:find("triple-phase boundary (pore/cam/ise): 1.2 µm", 1, true), text)
      assert.truthy(text:find("\ncam%s+z%s+0%.00%%%s+100%.00%%%s+0%.00%%%s+0%.00%%\n"), text)
      -- --axis: chords and percolation along that axis only
      local rz = cli.describe(v, { phases = { pore = 0, cam = 1, ise = 2 }, mode = "all", axis = "z" })
      assert.are.equal(1, rz.percolation.cam.z.inlet)
      assert.is_nil(rz.percolation.cam.x)
      assert.is_nil(rz.chords.cam.x)
      -- without all, no geometry
      assert.is_nil(cli.describe(v, { phases = { pore = 0, cam = 1, ise = 2 } }).surfaces)
    end)

    it("runs describe --all end to end, with densities, and checks its options", function()
      if not (tg.io and tg.io.write and tg.io.read) then
        pending("tg.io.write / tg.io.read are not in this build yet")
        return
      end
      local tif = dir .. "/triple.tif"
      tg.io.write(tif, triple_line(1e-7))
      local out_json = dir .. "/describe-all.json"
      os.remove(out_json)
      local code, out, err = run("describe", { tif, "--phases", "pore=0,cam=1,ise=2", "--all", "--density",
                                               "cam=4.7e3,ise=1.9e3", "--json", out_json })
      assert.are.equal(0, code, err)
      assert.truthy(out:find("surfaces and interfaces", 1, true), out)
      assert.truthy(out:find("open (m²/g cam)", 1, true), out)
      local d = cjson.decode(read_all(out_json))
      assert.relnear(12 * 1e-7, d.tpb.length, 1e-12)
      assert.are.equal(1, d.percolation.pore.z.spanning)
      assert.are.equal("cam", d.surfaces.specific.per_gram.of)
      assert.is_number(d.surfaces_other.closed.phases["1"])
      assert.is_false(d.provenance.parameters.transport)
      assert.truthy(d.provenance.command:find("--all", 1, true))
      -- the spacing override reaches the geometry
      code, out = run("describe", { tif, "--all", "--spacing", "1um" })
      assert.are.equal(0, code)
      assert.truthy(out:find("triple-phase boundary (label 0/label 1/label 2): 12 µm", 1, true), out)
      -- usage errors (status 2)
      code, _, err = run("describe", { tif, "--density", "cam=4.7e3" })
      assert.are.equal(2, code)
      assert.truthy(err:find("--density only applies with --all", 1, true), err)
      code, _, err = run("describe", { tif, "--all", "--density", "cam=heavy" })
      assert.are.equal(2, code)
      assert.truthy(err:find("--density: expected name=kg_per_m3 pairs", 1, true), err)
      code, _, err = run("describe", { tif, "--all", "--axis", "w" })
      assert.are.equal(2, code)
      assert.truthy(err:find("--axis: expected x, y or z, got 'w'", 1, true), err)
      code, _, err = run("describe", { tif, "--phases", "pore=0,cam=1,ise=2", "--all", "--per-gram-of", "ise" })
      assert.are.equal(2, code)
      assert.truthy(err:find("--per-gram-of ise needs its density", 1, true), err)
    end)

    it("runs describe --full: everything tg.describe gives, as text and JSON", function()
      local labels = tg.generate.cathode { size = { 32, 32, 32 }, spacing = 2.5e-7, cam_d50 = 1.6e-6, ise_d50 = 1.5e-6, seed = 4 }
      local tif = dir .. "/full.tif"
      tg.io.write(tif, labels)
      local out_json = dir .. "/full.json"
      os.remove(out_json)
      local code, out, err = run("describe", { tif, "--full", "--walkers", "200", "--steps", "300", "--reach", "1um",
                                               "--json", out_json })
      assert.are.equal(0, code, err)
      assert.truthy(out:find("active CAM", 1, true), out)
      assert.truthy(out:find("\n  pores filled ", 1, true), out)
      assert.truthy(out:find("tortuosity", 1, true), out)
      assert.truthy(err:find("flux", 1, true), err)             -- the stages are logged on stderr
      local d = cjson.decode(read_all(out_json))
      local direct = tg.describe(tg.io.read(tif), { walk = { walkers = 200, steps = 300 }, active = { reach = "1um" } })
      assert.are.equal(direct.provenance.sha256, d.provenance.sha256)
      assert.relnear(direct.tau.ise.flux.tau.z, d.tau.ise.flux.tau.z, 1e-12)
      assert.relnear(direct.active_cam.active, d.active_cam.active, 1e-12)
      assert.are.equal(1e-6, d.active_cam.reach)
      local function usage(args, text)
        local c, _, e = run("describe", args)
        assert.are.equal(2, c)
        assert.truthy(e:find(text, 1, true), e)
      end
      usage({ tif, "--full", "--collector", "top" }, "--collector: expected first or last")
      usage({ tif, "--full", "--reach", "far" }, "--reach: 'far' is not a length")
      usage({ tif, "--full", "--walkers", "0" }, "--walkers: expected a positive integer")
      usage({ tif, "--full", "--all" }, "--full already has everything")
      usage({ tif, "--full", "--phases", "a=0,b=1" }, "needs phases named cam and ise")
      usage({ tif, "--reach", "1um" }, "--reach only applies with --full")
    end)

    it("reports an unwritable --json path (status 1)", function()
      if not (tg.io and tg.io.write and tg.io.read) then
        pending("tg.io.write / tg.io.read are not in this build yet")
        return
      end
      local tif = dir .. "/labels2.tif"
      tg.io.write(tif, known_labels())
      local code, _, err = run("describe", { tif, "--json", "/nonexistent-dir-tortuga/out.json" })
      assert.are.equal(1, code)
      assert.truthy(err:find("/nonexistent-dir-tortuga/out.json", 1, true), err)
    end)
  end)

  describe("demo", function()
    it("generates the sample and describes it", function()
      if not (tg.generate and tg.generate.cathode) then
        pending("tg.generate.cathode is not in this build yet")
        return
      end
      local out_json = dir .. "/demo.json"
      local code, out, err = run("demo", { "--size", "24", "--json", out_json })
      assert.are.equal(0, code, err)
      assert.truthy(out:find("\npore%s+0%s"), out)
      assert.truthy(out:find("\ncam%s+1%s"), out)
      assert.truthy(out:find("\nise%s+2%s"), out)
      local d = cjson.decode(read_all(out_json))
      local counts = tg.generate.cathode{ size = { 24, 24, 24 }, seed = 1 }:counts()
      assert.are.equal(counts[0] or 0, d.voxels.by_name.pore)
      assert.are.equal(counts[1] or 0, d.voxels.by_name.cam)
      assert.are.equal(counts[2] or 0, d.voxels.by_name.ise)
      assert.are.equal(24 ^ 3, d.voxels.total)
      assert.are.equal("tg.generate.cathode{size={24,24,24}, seed=1}", d.provenance.input)
      assert.are.equal(1, d.provenance.generator.seed)
      assert.truthy(out:find("(of the generated sample)", 1, true), out)
    end)

    it("rejects a bad --size", function()
      local code, _, err = run("demo", { "--size", "ten" })
      assert.are.equal(2, code)
      assert.truthy(err:find("--size: expected an integer", 1, true), err)
    end)
  end)

  describe("the tortuga executable", function()
    local exe = H.exe()
    local function sh(cmd)
      local p = io.popen(cmd .. " 2>&1; echo \"EXIT=$?\"")
      local text = p:read("a")
      p:close()
      return tonumber(text:match("EXIT=(%d+)%s*$")), text
    end

    it("runs describe as a subcommand with its exit status", function()
      if not exists(exe) then
        pending("no tortuga executable at " .. exe)
        return
      end
      local code, text = sh("'" .. exe .. "' describe /nonexistent-dir-tortuga/labels.tif --phases pore=0")
      assert.are.equal(1, code, text)
      assert.truthy(text:find("tortuga describe: cannot open '/nonexistent-dir-tortuga/labels.tif'", 1, true), text)
      code, text = sh("'" .. exe .. "' describe labels.tif --phases x")
      assert.are.equal(2, code, text)
      assert.truthy(text:find("got 'x'", 1, true), text)
      code, text = sh("'" .. exe .. "' --help")
      assert.are.equal(0, code, text)
      assert.truthy(text:find("describe", 1, true), text)
      assert.truthy(text:find("demo", 1, true), text)
    end)
  end)
end)

describe("tortuga.json", function()
  local dir = H.tmpdir("cli_spec")

  it("sorts keys, numbers first, and writes integer keys (0 included) as strings", function()
    local text = json.encode({ b = 1, a = { [2] = "x", [0] = "y", [10] = "z", units = "1" } }, { indent = 0 })
    assert.are.equal('{"a":{"0":"y","2":"x","10":"z","units":"1"},"b":1}', text)
  end)

  it("pretty-prints with two spaces and round-trips through cjson", function()
    local value = { fractions = { [0] = 0.07, [1] = 0.55 }, dims = { 4, 5, 6 }, name = "a \"b\"\n", ok = true, e = {} }
    local text = json.encode(value)
    assert.truthy(text:find('\n  "dims": [\n    4,\n    5,\n    6\n  ],\n', 1, true), text)
    local back = cjson.decode(text)
    assert.are.equal(0.07, back.fractions["0"])
    assert.are.equal(0.55, back.fractions["1"])
    assert.are.same({ 4, 5, 6 }, back.dims)
    assert.are.equal("a \"b\"\n", back.name)
    assert.is_true(back.ok)
  end)

  it("leaves '/' unescaped in strings and round-trips backslashes", function()
    assert.are.equal('"/data/labels.tif"', json.encode("/data/labels.tif"))
    for _, s in ipairs({ "\\/", "a\\\\/b", "\\", "x/\\/y", "tab\there", "é µm³" }) do
      assert.are.equal(s, cjson.decode((json.encode(s))))
    end
  end)

  it("writes floats with the fewest digits that read back exactly", function()
    for _, x in ipairs({ 0.1, 1 / 3, 2 ^ -40, 1e300, -7.25, 123456789.123 }) do
      local s = json.encode(x)
      assert.are.equal(x, tonumber(s))
      assert.are.equal(x, cjson.decode("[" .. s .. "]")[1])
    end
    assert.are.equal("0.1", json.encode(0.1))
    assert.are.equal("3", json.encode(3.0))
  end)

  it("writes NaN and infinities as null with a note", function()
    local text, notes = json.encode({ tau = { x = 0 / 0, y = math.huge, z = 1.5 } }, { indent = 0 })
    assert.are.equal('{"tau":{"x":null,"y":null,"z":1.5}}', text)
    assert.are.equal(2, #notes)
    assert.truthy(notes[1]:find("value.tau.x: nan written as null", 1, true), notes[1])
    assert.truthy(notes[2]:find("value.tau.y: inf written as null", 1, true), notes[2])
  end)

  it("refuses values JSON cannot hold, naming where they are", function()
    local t = {}
    t.self = t
    assert.raises_with(function() json.encode(t) end, "cycle")
    assert.raises_with(function() json.encode({ a = { f = print } }) end, "value.a.f: cannot encode a function")
    assert.raises_with(function() json.encode({ [1] = "a", ["1"] = "b" }) end, "both become")
  end)

  it("writes atomically and reports an unwritable path", function()
    local p = dir .. "/out.json"
    assert.is_true((json.write(p, { a = 1 })))
    assert.are.same({ a = 1 }, cjson.decode(read_all(p)))
    assert.are.same({ a = 1 }, json.read(p))
    local ls = io.popen("ls '" .. dir .. "'")
    local names = ls:read("a")
    ls:close()
    assert.is_nil(names:find("out%.json%..*tmp"))
    local ok, err = json.write("/nonexistent-dir-tortuga/out.json", { a = 1 })
    assert.is_nil(ok)
    assert.truthy(err:find("/nonexistent-dir-tortuga/out.json", 1, true), err)
  end)
end)

describe("core.sha256_file", function()
  it("gives the SHA-256 of a file containing 'abc'", function()
    local p = H.tmpdir("cli_spec") .. "/abc.txt"
    local f = assert(io.open(p, "wb"))
    f:write("abc")
    f:close()
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", core.sha256_file(p))
  end)
end)
