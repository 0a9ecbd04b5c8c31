-- describe_spec.lua — tg.describe: every part equals the direct call it gathers, analytic columns, provenance
-- (the voxel hash equals the file hash of the same bytes), JSON round trip, the names tg.analysis reads, options
-- and errors; tg.measure.active_cam from Lua.
local tg = require "tortuga"
local H = test_helper

local PHASES = { pore = 0, cam = 1, ise = 2 }

local function sample()
  return tg.generate.cathode { size = { 40, 40, 40 }, spacing = 2.5e-7, cam_d50 = 1.6e-6, ise_d50 = 1.5e-6, seed = 3 }
end

describe("tg.describe", function()
  local labels = sample()
  local d = tg.describe(labels, { walk = { walkers = 300, steps = 600 }, input = "generated" })

  it("gathers the same numbers as the direct calls", function()
    local f = tg.measure.fractions(labels, { phases = PHASES })
    for name, x in pairs(f.by_name) do assert.are.equal(x, d.fractions.by_name[name]) end
    local s = tg.measure.surfaces(labels, { phases = PHASES, density = { cam = 4.7e3, ise = 1.9e3 }, per_gram_of = "cam" })
    assert.are.equal(s.interfaces["1-2"], d.interfaces["cam-ise"].area)
    assert.are.equal(s.specific.per_gram.interfaces["1-2"], d.interfaces["cam-ise"].per_gram)
    assert.are.equal(s.interfaces["1-2"] / s.phases[1], d.coverage.cam_ise)
    local fx = tg.transport.flux(labels, { phase = 2, axis = "y" })
    assert.relnear(fx.tau.y, d.tau.ise.flux.tau.y, 1e-9)
    local w = tg.transport.random_walk(labels, { phase = 1, walkers = 300, steps = 600 })
    assert.are.equal(w.tau.mean, d.tau.cam.walk.tau.mean)
    local filled = tg.transport.flux(labels, { conductivity = { [0] = 1, [1] = 0, [2] = 1 }, axis = "z" })
    assert.relnear(filled.tau.z, d.tau.ise.filled.tau.z, 1e-9)
    local a = tg.measure.active_cam(labels, { reach = "2um" })
    assert.are.equal(a.active, d.active_cam.active)
    local p = tg.measure.percolation(labels, { phase = 2, axis = "x" })
    assert.are.equal(p.fractions.spanning, d.percolation.ise.x.spanning)
    local ch = tg.measure.chords(labels, { phase = 1, axis = "z" })
    assert.are.equal(#ch.lengths, d.chords.cam.z.n)
    local t = tg.measure.thickness(labels, { phase = 2 })
    assert.are.equal(t.d50, d.thickness.ise.d50)
    -- the filled pores conduct: the ISE alone is at least as tortuous
    assert.is_true(d.tau.ise.filled.tau.z <= d.tau.ise.flux.tau.z)
  end)

  it("records provenance: the voxel hash is the SHA-256 of the voxel bytes", function()
    local path = H.tmpdir("describe") .. "/bytes.raw"
    local f = assert(io.open(path, "wb"))
    f:write(labels:bytes())
    f:close()
    local hex = tg._core.sha256_file(path)
    assert.are.equal(hex, d.provenance.sha256)
    assert.are.equal("generated", d.provenance.input)
    assert.are.equal(tg.version, d.provenance.tortuga_version)
    assert.are.same({ 40, 40, 40 }, d.provenance.dims)
    assert.are.equal(2.5e-7, d.provenance.spacing[3])
    assert.are.equal(300, d.provenance.parameters.walk.walkers)
    assert.is_truthy(d.provenance.time:match("^%d%d%d%d%-%d%d%-%d%dT"))
    -- a view hashes as its contiguous copy
    local v = labels:view { x = { 1, 40 } }
    assert.are.equal(d.provenance.sha256, v:sha256())
    local part = labels:view { x = { 2, 39 } }
    assert.are_not.equal(d.provenance.sha256, part:sha256())
    assert.are.equal(part:copy():sha256(), part:sha256())
    -- an input that is a file is hashed too, with its size
    local r = tg.describe(labels, { input = path, surfaces = false, chords = false, percolation = false, thickness = false,
                                    transport = false, active = false })
    assert.are.equal(hex, r.provenance.file_sha256)
    assert.are.equal(#labels:bytes(), r.provenance.file_bytes)
  end)

  it("writes JSON that reads back, and gives tg.analysis its dotted names", function()
    local path = H.tmpdir("describe") .. "/d.json"
    assert.are.equal(path, d:write_json(path))
    local back = assert(tg.json.read(path))
    assert.are.equal(d.provenance.sha256, back.provenance.sha256)
    assert.are.equal(d.interfaces["cam-ise"].per_gram, back.interfaces["cam-ise"].per_gram)
    assert.are.equal(d.tau.ise.walk.tau.mean, back.tau.ise.walk.tau.mean)
    local flat = d:flat()
    assert.are.equal(d.tau.ise.walk.tau.mean, flat["tau.ise.walk.tau.mean"])
    assert.are.equal(d.surfaces.specific.per_gram.interfaces["1-2"], flat["surfaces.specific.per_gram.interfaces.1-2"])
    assert.are.equal(d.active_cam.active, flat["active_cam.active"])
    local S = tg.analysis.samples { { name = "A", descriptors = d } }
    local derived = S:get("A").derived
    assert.relnear(d.coverage.cam_ise, derived.coverage_geometric, 1e-12)
    local text = tostring(d)
    assert.is_truthy(text:find("active CAM", 1, true))
    assert.is_truthy(text:find("interface cam-ise", 1, true))
    assert.is_truthy(text:find(d.provenance.sha256, 1, true))
  end)

  it("gives tau = 1 and full activity for straight columns along z", function()
    -- CAM and ISE columns side by side, a pore column: every conductor spans z in a straight line
    local v = tg.volume.new { 12, 6, 10, dtype = "u8", spacing = 1e-6 }
    for z = 1, 10 do for y = 1, 6 do for x = 1, 12 do
      local band = (x - 1) // 4
      v:set(x, y, z, band == 0 and 1 or band == 1 and 2 or 0)
    end end end
    local r = tg.describe(v, { walk = { walkers = 50, steps = 50 }, axes = { "z" }, thickness = false,
                               active = { reach = "1.5um" } })
    assert.relnear(1, r.tau.cam.flux.tau.z, 1e-6)
    assert.relnear(1, r.tau.ise.flux.tau.z, 1e-6)
    assert.relnear(1, r.tau.ise.filled.tau.z, 1e-6)
    assert.are.equal(1, r.percolation.cam.z.spanning)
    assert.are.equal(0, r.chords.cam.z.n)                     -- every chord along z touches both faces
    -- CAM x = 1..4 touches ISE at x = 5: the contact layer is x = 4; reach 1.5 µm covers x = 3..4
    assert.are.equal(0.25, r.active_cam.fractions.contact)
    assert.are.equal(0.5, r.active_cam.active)
    assert.are.equal(1, r.active_cam.fractions.cluster)
    assert.is_nil(r.tau.cam.flux.tau.x)
  end)

  it("leaves transport out on request and keeps the caller's spacing", function()
    local before = labels:spacing()
    local r = tg.describe(labels, { transport = false, spacing = "100nm", active = false, thickness = false })
    assert.is_nil(r.tau)
    assert.is_nil(r.active_cam)
    assert.are.equal(1e-7, r.provenance.spacing[1])
    assert.are.equal("option", r.provenance.spacing_source)
    assert.are.same(before, labels:spacing())
    -- areas scale with the square of the spacing
    assert.relnear(d.interfaces["cam-ise"].area * (1e-7 / 2.5e-7) ^ 2, r.interfaces["cam-ise"].area, 1e-9)
  end)

  it("counts the voxels of every label and measures a list of surface conventions", function()
    local r = tg.describe(labels, { surfaces = { "open", "closed" }, transport = false, active = false, thickness = false,
                                    chords = false, percolation = false })
    local counts, nx, ny, nz = labels:counts(), labels:dims()
    assert.are.equal(nx * ny * nz, r.voxels.total)
    for label, n in pairs(counts) do assert.are.equal(n, r.voxels[label]) end
    for name, label in pairs(PHASES) do assert.are.equal(counts[label] or 0, r.voxels.by_name[name]) end
    local closed = tg.measure.surfaces(labels, { phases = PHASES, convention = "closed" })
    assert.are.equal(closed.interfaces["1-2"], r.surfaces_other.closed.interfaces["1-2"])
    assert.are.equal(closed.phases[2], r.surfaces_other.closed.phases[2])
    assert.are.equal(d.interfaces["cam-ise"].area, r.interfaces["cam-ise"].area) -- the first (open) is d.surfaces
    assert.are.same({ "open", "closed" }, r.provenance.parameters.surfaces)
    assert.is_nil(d.surfaces_other)
    assert.raises_with(function() tg.describe(labels, { surfaces = { "open", "round" } }) end, "surfaces[2] = round")
  end)

  it("measures interfaces on class probabilities or smoothed indicators, the labels' numbers kept beside", function()
    local quick = { transport = false, chords = false, thickness = false, active = false, percolation = false }
    local function with(t) local o = {} for k, v in pairs(quick) do o[k] = v end for k, v in pairs(t) do o[k] = v end return o end
    -- the indicators as probabilities are the smoothed indicators: the same numbers exactly
    local prob = {}
    for name, l in pairs(PHASES) do prob[name] = labels:eq(l):astype("f32") end
    local p = tg.describe(labels, with { probabilities = prob })
    local s = tg.describe(labels, with { surface_source = "smoothed" })
    assert.are.equal("probabilities", p.surfaces.source)
    assert.are.equal("smoothed", s.surfaces.source)
    for k, e in pairs(s.interfaces) do assert.are.equal(e.per_gram, p.interfaces[k].per_gram) end
    -- the label-based result is kept (and is what the plain call gives); the TPB comes from it
    local l = tg.describe(labels, quick)
    for k, e in pairs(l.interfaces) do
      local a, b = PHASES[k:match("^(%a+)")], PHASES[k:match("(%a+)$")]
      local key = math.min(a, b) .. "-" .. math.max(a, b)
      assert.are.equal(e.area, p.surfaces_labels.interfaces[key])
    end
    assert.are.equal(l.tpb.length, p.tpb.length)
    -- a staircased surface is longer than the smooth one
    assert.is_true(p.interfaces["cam-ise"].area < l.interfaces["cam-ise"].area)
    assert.matches("sigma 1 voxels", p.conventions.surfaces)
    assert.matches("labels", tostring(p))
    assert.are.equal("probabilities", p.provenance.parameters.surface_source)
  end)

  it("explains a flux tau far from the random walk's: a phase joined through a neck, and not for a uniform block", function()
    local function block(neck)
      local v = tg.volume.new { 16, 16, 40, dtype = "u8", spacing = 1e-7 }
      v:fill(1)
      if neck then -- two slabs of CAM joined through a 2 x 2 voxel hole in a pore wall two voxels thick
        for y = 1, 16 do for x = 1, 16 do
          for z = 20, 21 do if not (x >= 8 and x <= 9 and y >= 8 and y <= 9) then v:set(x, y, z, 0) end end
        end end
      else
        v:set(1, 1, 1, 0)
      end
      return tg.describe(v, { phases = { pore = 0, cam = 1 }, transport_phases = { "cam" }, chords = false, active = false,
                              thickness = false, walk = { walkers = 1000, steps = 3000 } })
    end
    local n = block(true)
    assert.is_true(n.tau.cam.flux.tau.z / n.tau.cam.walk.tau.z > 1.5)
    local note = n.transport_notes.cam
    assert.matches("tau cam along z", note)
    assert.matches("narrow necks", note)
    assert.matches("100.0 %% of the phase percolates", note)
    local found
    for _, t in ipairs(n.notes) do found = found or t == note end
    assert.is_true(found)
    local u = block(false)
    assert.is_nil(u.transport_notes)
    assert.is_true(math.abs(u.tau.cam.flux.tau.z - 1) < 0.01)
  end)

  it("rejects bad input with the reason", function()
    local small = tg.volume.new { 4, 4, 4, dtype = "f32" }
    assert.raises_with(function() tg.describe(labels, { surface_source = "probabilities" }) end, "needs probabilities")
    assert.raises_with(function() tg.describe(labels, { probabilities = small }) end, "got a volume")
    assert.raises_with(function() tg.describe(labels, { probabilities = { cam = small } }) end, "probabilities.cam is 4x4x4")
    assert.raises_with(function() tg.describe(labels, { surface_source = "mesh" }) end, "surface_source must be")
    assert.raises_with(function() tg.describe(labels, { surface_sigma = -1 }) end, "surface_sigma must be")
    assert.raises_with(function() tg.describe(labels:astype("f32")) end, "integer volume")
    assert.raises_with(function() tg.describe("x") end, "expected a label volume")
    assert.raises_with(function() tg.describe(labels, { phase = PHASES }) end, "did you mean 'phases'")
    assert.raises_with(function() tg.describe(labels, { phases = { cam = 1.5 } }) end, "phases.cam must be an integer")
    assert.raises_with(function() tg.describe(labels, { phases = { cam = 1, ise = 1 } }) end, "share label 1")
    assert.raises_with(function() tg.describe(labels, { axes = { "w" } }) end, "axes[1] = w")
    assert.raises_with(function() tg.describe(labels, { spacing = "abc" }) end, "not a length")
    assert.raises_with(function() tg.describe(labels, { surfaces = "both" }) end, "surfaces must be")
    assert.raises_with(function() tg.describe(labels, { density = false, per_gram_of = "cam" }) end, "needs density.cam")
    assert.raises_with(function() tg.describe(labels, { walk = { walker = 10 } }) end, "did you mean 'walkers'")
  end)
end)

describe("tg.measure.active_cam", function()
  it("counts the connected CAM and its reach, and maps the distance", function()
    local v = tg.volume.new { 3, 3, 10, dtype = "u8", spacing = { 1e-6, 1e-6, 2e-6 } }
    for z = 1, 10 do v:set(2, 2, z, 1) end
    v:set(2, 3, 10, 2)
    v:set(1, 1, 6, 1)                                         -- CAM off the collector
    local r = tg.measure.active_cam(v, { reach = "4um", distance = true, reaches = { 0, "2um", math.huge } })
    assert.are.equal(11, r.voxels.cam)
    assert.are.equal(10 / 11, r.fractions.electronic)
    assert.are.equal(3 / 11, r.active)
    assert.are.same({ 1 / 11, 2 / 11, 10 / 11 }, r.by_reach.fraction)
    assert.are.equal(1, r.fractions.ionic)
    assert.relnear(18e-6, r.distance:get(2, 2, 1), 1e-6)
    assert.are.equal(-1, r.distance:get(1, 1, 6))
    local nan = r.distance:get(1, 1, 1)
    assert.is_true(nan ~= nan)
    -- the collector on the last slice: the only ISE then touches the collector side, not the separator
    local q = tg.measure.active_cam(v, { collector = "last" })
    assert.are.equal(0, q.active)
    assert.are.equal(0, q.fractions.ionic)
  end)

  it("rejects bad options", function()
    local v = tg.volume.new { 4, 4, 4, dtype = "u8" }
    assert.raises_with(function() tg.measure.active_cam(v, { collector = "top" }) end, "collector must be")
    assert.raises_with(function() tg.measure.active_cam(v, { cam = 2, ise = 2 }) end, "must be different")
    assert.raises_with(function() tg.measure.active_cam(v, { reach = "far" }) end, "reach")
    assert.raises_with(function() tg.measure.active_cam(v, { reach = -1 }) end, "reach must be >= 0")
    assert.raises_with(function() tg.measure.active_cam(v, { axis = "w" }) end, "axis")
    assert.raises_with(function() tg.measure.active_cam(v:astype("f32")) end, "integer volume")
    assert.raises_with(function() tg.measure.active_cam(v, { reech = 1 }) end, "did you mean 'reach'")
  end)
end)
