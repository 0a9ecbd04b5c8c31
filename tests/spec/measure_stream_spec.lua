-- measure_stream_spec.lua — tg.measure on a label stack on disk (tg.io.open), streamed slab by slab within a small
-- memory budget, against the in-memory call on the same voxels: fractions and profiles, surfaces and the Eq. 1
-- interfaces (open and closed), chords and CLDs along x, y and z, components and percolation.
local tg = require "tortuga"
local H = test_helper

local dir = H.tmpdir("measure_stream_spec")

-- the result without what only the streamed call has
local function strip(t)
  local c = {}
  for k, v in pairs(t) do if k ~= "streamed" then c[k] = v end end
  return c
end

-- the chord counts both calls give (the in-memory call also lists every chord's length)
local function chord_counts(c)
  return { histogram = c.histogram, n = c.n, nlines = c.nlines, max_voxels = c.max_voxels,
           voxel_length = c.voxel_length, phase = c.phase, axis = c.axis, spacing = c.spacing, trim = c.trim }
end

describe("tg.measure on a stack", function()
  -- a generated cathode (pore 0, CAM 1, ISE 2), anisotropic voxels, written as a multi-page TIFF
  local labels = tg.generate.cathode { size = { 96, 80, 120 }, spacing = { 1e-7, 1e-7, 1.5e-7 }, cam_d50 = 2.5e-6,
                                       ise_d50 = 3e-6, seed = 7 }
  local path = dir .. "/cathode.tif"
  tg.io.write(path, labels)
  local st = tg.io.open(path)
  -- budgets that leave a few slices of 96 x 80 per slab beside each measure's tables: 24 slabs or more
  local MEM = { fractions = "50kB", open = "170kB", closed = "370kB", chords = "60kB", components = "300kB", all = "1MB" }

  it("gives the fractions and profiles of the in-memory call, in >= 20 slabs", function()
    for _, prof in ipairs { false, "x", "y", "z" } do
      local o = { phases = { pore = 0, cam = 1, ise = 2 }, profile = prof or nil }
      local a = tg.measure.fractions(labels, o)
      o.memory = MEM.fractions
      local b = tg.measure.fractions(st, o)
      assert.same(a, strip(b))
      assert.is_true(b.streamed.slabs >= 20)
      assert.equal(math.ceil(120 / b.streamed.slab), b.streamed.slabs)
      assert.is_true(b.streamed.peak <= b.streamed.memory)
    end
  end)

  it("gives the areas, Eq. 1 interfaces and TPB of the in-memory call (open and closed), in >= 20 slabs", function()
    for _, conv in ipairs { "open", "closed" } do
      local o = { phases = { pore = 0, cam = 1, ise = 2 }, convention = conv, density = { cam = 4.7e3 },
                  per_gram_of = "cam" }
      local a = tg.measure.surfaces(labels, o)
      o.memory = MEM[conv]
      local b = tg.measure.surfaces(st, o)
      assert.is_true(b.streamed.slabs >= 20, conv .. ": " .. b.streamed.slabs .. " slabs")
      assert.equal("eq1", a.interface_formula)
      assert.same(a, strip(b)) -- bit-identical areas: the same integer histograms and per-layer sums
      assert.equal(conv == "closed" and 3 or 1, b.streamed.overlap)
      assert.is_true(b.streamed.peak <= b.streamed.memory)
    end
    -- without phases: every label present (a counting pass first, then the surfaces: two passes)
    local a, b = tg.measure.surfaces(labels), tg.measure.surfaces(st, { memory = MEM.open })
    assert.same(a, strip(b))
    assert.equal(2, b.streamed.passes)
  end)

  it("gives the chord histograms and CLDs of the in-memory call along x, y and z", function()
    for _, trim in ipairs { "faces", "ends", false } do
      for _, phase in ipairs { 1, 2 } do
        local o = { phase = phase, axis = "all", spacing = 2, trim = trim }
        local a = tg.measure.chords(labels, o)
        o.memory = MEM.chords
        local b = tg.measure.chords(st, o)
        assert.is_true(b.streamed.slabs >= 20)
        for _, ax in ipairs { "x", "y", "z" } do
          assert.same(chord_counts(a[ax]), chord_counts(b[ax]))
          assert.same(tg.measure.cld(a[ax], { bins = 20 }), tg.measure.cld(b[ax], { bins = 20 }))
          assert.same(tg.measure.cld(a[ax]), tg.measure.cld(b[ax]))
        end
      end
    end
  end)

  it("gives the components (count, sizes in scipy's order) and percolation on every axis", function()
    for _, conn in ipairs { 6, 18, 26 } do
      for _, phase in ipairs { 0, 1, 2 } do
        local a = tg.measure.components(labels, { phase = phase, connectivity = conn })
        local b = tg.measure.components(st, { phase = phase, connectivity = conn, memory = MEM.components })
        assert.is_true(b.streamed.slabs >= 20)
        assert.equal(a.n, b.n)
        assert.same(a.sizes, b.sizes)
        for _, ax in ipairs { "x", "y", "z" } do
          local o = { phase = phase, axis = ax, connectivity = conn }
          local pa = tg.measure.percolation(labels, o)
          o.memory = MEM.components
          assert.same(pa, strip(tg.measure.percolation(st, o)))
        end
      end
    end
  end)

  it("measures everything in one pass with tg.measure.stream", function()
    local r = tg.measure.stream(st, { memory = MEM.all, sha256 = true, fractions = { profile = "z" },
                                      surfaces = { { phases = { 0, 1, 2 } }, { phases = { 0, 1, 2 }, convention = "closed" } },
                                      chords = { phase = 1, axis = "all" }, components = { phase = 2, connectivity = 26 },
                                      percolation = { { phase = 1, axis = "x" }, { phase = 1, axis = "z" } } })
    assert.equal(labels:sha256(), r.sha256)
    assert.equal(96 * 80 * 120, r.total)
    assert.same(labels:counts(), r.counts)
    assert.same(tg.measure.fractions(labels, { profile = "z" }), r.fractions)
    assert.same(tg.measure.surfaces(labels, { phases = { 0, 1, 2 } }), r.surfaces[1])
    assert.same(tg.measure.surfaces(labels, { phases = { 0, 1, 2 }, convention = "closed" }), r.surfaces[2])
    assert.same(chord_counts(tg.measure.chords(labels, { phase = 1, axis = "z" })), chord_counts(r.chords.z))
    assert.equal(tg.measure.components(labels, { phase = 2, connectivity = 26 }).n, r.components.n)
    assert.same(tg.measure.percolation(labels, { phase = 1, axis = "x" }), r.percolation[1])
    assert.same(tg.measure.percolation(labels, { phase = 1, axis = "z" }), r.percolation[2])
    assert.equal(1, r.streamed.passes)
    assert.is_true(r.streamed.slabs >= 20)
    assert.equal("bytes", r.streamed.units)
  end)

  it("joins a component that crosses every slab face (union-find across slabs)", function()
    -- a serpentine in the x-z plane: columns along z joined alternately at the top and at the bottom slice, so no
    -- slab but the first and the last sees any two columns meet; plus a comb whose teeth meet only in the last slice
    local nx, ny, nz = 41, 9, 64
    local v = tg.volume.new { nx, ny, nz, dtype = "u8" }
    local snake = 0
    for x = 1, 40, 4 do
      for z = 1, nz do v:set(x, 2, z, 1) end
      local zbar = ((x - 1) // 4) % 2 == 0 and nz or 1
      if x + 4 <= 40 then for xx = x, x + 4 do v:set(xx, 2, zbar, 1) end end
    end
    for x = 1, 41, 2 do for z = 3, nz do v:set(x, 7, z, 2) end end -- comb teeth (2 voxels apart)
    for x = 1, 41 do v:set(x, 7, nz, 2) end                          -- its back, in the last slice only
    v:set(20, 5, 30, 1)                                              -- an isolated voxel of phase 1 in the middle
    local p = dir .. "/snake.tif"
    tg.io.write(p, v)
    local s = tg.io.open(p)
    for _, phase in ipairs { 1, 2 } do
      local a = tg.measure.components(v, { phase = phase })
      local b = tg.measure.components(s, { phase = phase, memory = "24kB" })
      assert.is_true(b.streamed.slabs >= 20, b.streamed.slabs .. " slabs")
      assert.equal(phase == 1 and 2 or 1, b.n)
      assert.same(a.sizes, b.sizes)
      local pa = tg.measure.percolation(v, { phase = phase, axis = "z" })
      assert.same(pa, strip(tg.measure.percolation(s, { phase = phase, axis = "z", memory = "24kB" })))
    end
    local b = tg.measure.components(s, { memory = "24kB" }) -- nonzero voxels: snake, comb and the lone voxel
    assert.equal(3, b.n)
    s:close()
  end)

  it("names the bad input", function()
    assert.raises_with(function() tg.measure.surfaces(st, { memory = "10kB" }) end, "is too small for slabs of 96 x 80 u8")
    assert.raises_with(function() tg.measure.thickness(st, { phase = 1 }) end,
      "tg.measure.thickness: needs the volume in memory")
    assert.raises_with(function() tg.measure.fractions(labels, { memory = "1GB" }) end,
      "tg.measure.fractions: unknown option 'memory' (it applies to a stack)")
    assert.raises_with(function() tg.measure.stream(labels, {}) end, "tg.measure.stream: expected a stack on disk")
    local fp = dir .. "/float.tif"
    tg.io.write(fp, tg.volume.new { 4, 4, 3, dtype = "f32" })
    local fs = tg.io.open(fp)
    assert.raises_with(function() tg.measure.fractions(fs) end, "float.tif holds f32")
    fs:close()
  end)
end)

describe("tg.describe on a stack", function()
  local labels = tg.generate.cathode { size = { 48, 40, 64 }, spacing = 1e-7, cam_d50 = 2e-6, ise_d50 = 2.5e-6, seed = 11 }
  local path = dir .. "/describe.tif"
  tg.io.write(path, labels)
  local st = tg.io.open(path)

  -- the numbers of d:flat() whose key matches none of the patterns
  local function numbers(d, skip)
    local out = {}
    for k, v in pairs(d:flat()) do
      local keep = not k:match("time") and not k:match("seconds")
      for _, p in ipairs(skip or {}) do keep = keep and not k:match(p) end
      if keep then out[k] = v end
    end
    return out
  end
  local STREAM_ONLY = { "^streamed%.", "^whole_volume%.", "^provenance%.stack" }

  it("streams every geometric descriptor in one pass (>= 20 slabs) with the in-memory numbers", function()
    local o = { surfaces = { "open", "closed" }, transport = false, thickness = false, active = false }
    local a = tg.describe(labels, o)
    o.memory = "400kB"
    local b = tg.describe(st, o)
    assert.is_true(b.streamed.slabs >= 20, b.streamed.slabs .. " slabs")
    assert.equal(1, b.streamed.passes)
    assert.is_nil(b.whole_volume) -- nothing asked needs the whole volume
    assert.same(numbers(a), numbers(b, STREAM_ONLY))
    assert.equal(labels:sha256(), b.provenance.sha256)
    assert.equal(path, b.provenance.input)
    assert.truthy(tostring(b):find("streamed", 1, true))
  end)

  local small = { walk = { walkers = 100, steps = 200 }, axes = { "z" }, chords = false, surfaces = false,
                  flux = { tol = 1e-5 } }
  local function with(t, extra)
    local o = {}
    for k, v in pairs(t) do o[k] = v end
    for k, v in pairs(extra) do o[k] = v end
    return o
  end

  it("runs transport, thickness and active CAM on the stack read whole when it fits the budget", function()
    local a = tg.describe(labels, small)
    local b = tg.describe(st, with(small, { memory = "64MB" }))
    assert.equal("stack", b.whole_volume.on)
    assert.same({ "thickness", "tau", "active_cam" }, b.whole_volume.parts)
    assert.same(numbers(a), numbers(b, STREAM_ONLY))
  end)

  it("runs them on the crop the caller gives, and says so", function()
    local crop = { z = { 9, 40 }, x = { 5, 44 } }
    local a = tg.describe(labels:view(crop), small)
    local b = tg.describe(st, with(small, { memory = "300kB", crop = crop }))
    assert.equal("crop", b.whole_volume.on)
    assert.same({ x = { 5, 44 }, y = { 1, 40 }, z = { 9, 40 } }, b.whole_volume.crop)
    assert.equal(labels:view(crop):sha256(), b.whole_volume.sha256)
    local na, nb = numbers(a), numbers(b)
    local n = 0
    for k, v in pairs(na) do
      if k:match("^tau%.") or k:match("^thickness%.") or k:match("^active_cam%.") then
        assert.equal(v, nb[k], k)
        n = n + 1
      end
    end
    assert.is_true(n > 50)
    assert.truthy(table.concat(b.notes, "\n"):find("measured on the crop x 5-44, y 1-40, z 9-40", 1, true))
  end)

  it("skips them with a note when the stack does not fit and no crop is given", function()
    local b = tg.describe(st, with(small, { memory = "300kB" }))
    assert.equal("none", b.whole_volume.on)
    assert.is_nil(b.tau)
    assert.is_nil(b.thickness)
    assert.is_nil(b.active_cam)
    assert.truthy(table.concat(b.notes, "\n"):find("thickness, tau, active_cam not measured", 1, true))
    assert.truthy(b.percolation.cam.z) -- the streamed parts are there
  end)

  it("names the bad option", function()
    assert.raises_with(function() tg.describe(labels, { memory = "1GB" }) end, "tg.describe: memory applies to a stack")
    assert.raises_with(function() tg.describe(labels, { crop = { z = { 1, 2 } } }) end, "tg.describe: crop applies to a stack")
    assert.raises_with(function() tg.describe(st, { crop = { z = { 0, 10 } } }) end,
      "tg.describe: crop.z must be {first, last} with 1 <= first <= last <= 64, got {0, 10}")
    assert.raises_with(function() tg.describe(st, { crop = { w = { 1, 2 } } }) end, "crop: unknown axis 'w'")
  end)
end)

describe("tortuga describe --memory", function()
  local cli = require "tortuga.cli"
  local function buffer()
    local b = { parts = {} }
    function b:write(...)
      for i = 1, select("#", ...) do self.parts[#self.parts + 1] = tostring((select(i, ...))) end
      return self
    end
    function b:text() return table.concat(self.parts) end
    return b
  end
  local function run(args)
    local out, err = buffer(), buffer()
    local code = cli.main("describe", args, { stdout = out, stderr = err })
    return code, out:text(), err:text()
  end
  local labels = tg.generate.cathode { size = { 40, 36, 48 }, spacing = 1e-7, cam_d50 = 2e-6, ise_d50 = 2.5e-6, seed = 4 }
  local path = dir .. "/cli.tif"
  tg.io.write(path, labels)

  it("streams the stack and prints the in-memory tables, plus how it streamed", function()
    local c1, mem = run { path, "--all", "--phases", "pore=0,cam=1,ise=2" }
    local c2, streamed, err = run { path, "--all", "--phases", "pore=0,cam=1,ise=2", "--memory", "400kB" }
    assert.equal(0, c1)
    assert.equal(0, c2, err)
    assert.is_nil(mem:find("streamed", 1, true)) -- a small file is read whole without --memory
    -- every table equal; the streamed form adds its own lines at the end
    local head = streamed:match("^(.-)\nstreamed  ")
    local thickness = mem:find("\nthickness ", 1, true)
    assert.equal(mem:sub(1, thickness - 1), head:sub(1, thickness - 1))
    assert.truthy(streamed:find("streamed  %d+ slabs of %d+ slices within a budget of 391 KiB"))
    assert.truthy(streamed:find("thickness NOT measured: they need about", 1, true))
  end)

  it("leaves the process budget as it was", function()
    local before, default = tg.memory()
    run { path, "--memory", "1MB" }
    local after, default2 = tg.memory()
    assert.equal(before, after)
    assert.equal(default, default2)
  end)

  it("runs thickness on --crop and says where", function()
    local code, out = run { path, "--all", "--memory", "400kB", "--crop", ",,5:30" }
    assert.equal(0, code)
    assert.truthy(out:find("thickness on the crop x 1:40, y 1:36, z 5:30", 1, true))
    local want = tg.measure.thickness(labels:view { z = { 5, 30 } }, { phase = 1 })
    assert.truthy(out:find(string.format("label 1%s+%9.4g  %9.4g", "%s", want.d10 * 1e6, want.d50 * 1e6):gsub("%.", "%%.")))
  end)

  it("names bad --memory and --crop values", function()
    local code, _, err = run { path, "--memory", "2XB" }
    assert.equal(2, code)
    assert.truthy(err:find("--memory: '2XB' is not a size", 1, true))
    code, _, err = run { path, "--crop", "1:2" }
    assert.equal(2, code)
    assert.truthy(err:find("--crop: expected x1:x2,y1:y2,z1:z2", 1, true))
    code, _, err = run { path, "--crop", ",,1:100" }
    assert.equal(1, code)
    assert.truthy(err:find("crop.z must be {first, last} with 1 <= first <= last <= 48, got {1, 100}", 1, true))
  end)
end)
