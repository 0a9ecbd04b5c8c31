-- tg.measure: chords and their distribution, components, percolation, distance transform, local thickness,
-- fraction profiles. Truth: slabs and balls, brute-force flood fills, and the peers' numbers on the shared
-- volumes (tests/fixtures/measure/*.txt: PoreSpy's chord counts copied from anchor-values.json, scipy's label
-- counts and distance transforms computed once by bench/measure_ref.py).
local tg = require "tortuga"
local H = test_helper

local FIXTURES = "tests/fixtures/measure/"
local SHARED = {
  synth_3phase_100 = { "synth-3phase-100/synth_3phase_100.tif", 1 },
  synth_3phase_200 = { "synth-3phase-200/synth_3phase_200.tif", 1 },
  real_electrode = { "taufactor-nmc-electrode-3phase/electrode.tiff", 85 },
}

local cache = {}
local function shared(name)
  if cache[name] ~= nil then return cache[name] end
  local path = H.shared_data(SHARED[name][1])
  if not path or not tg.io then cache[name] = false return false end
  local v = tg.io.read(path)
  if SHARED[name][2] ~= 1 then v = v:map({ [85] = 1, [170] = 2 }) end
  cache[name] = v
  return v
end

local function fixture_lines(file)
  local out = {}
  for line in io.lines(FIXTURES .. file) do
    if line:sub(1, 1) ~= "#" then
      local f = {}
      for w in line:gmatch("%S+") do f[#f + 1] = w end
      out[#out + 1] = f
    end
  end
  return out
end

-- phase 1 fills z in [6, 15] (1-based) of a 21 x 17 x 30 volume
local function slab(spacing)
  local v = tg.volume.new { 21, 17, 30, dtype = "u8", spacing = spacing }
  v:view { z = { 6, 15 } }:fill(1)
  return v
end

local function random_volume(nx, ny, nz, nphases, seed)
  local v = tg.volume.new { nx, ny, nz, dtype = "u8" }
  local s = seed
  for z = 1, nz do
    for y = 1, ny do
      for x = 1, nx do
        s = (s * 1103515245 + 12345) % 2147483648
        v:set(x, y, z, (s >> 16) % nphases)
      end
    end
  end
  return v
end

describe("tg.measure.fractions", function()
  it("gives per-slice profiles along an axis", function()
    local v = slab()
    local p = tg.measure.fractions(v, { profile = "z", phases = { solid = 1, pore = 0, other = 5 } })
    assert.equal("z", p.axis)
    assert.equal(30, #p[1])
    for k = 1, 30 do
      local want = (k >= 6 and k <= 15) and 1.0 or 0.0
      assert.equal(want, p[1][k])
      assert.equal(1.0 - want, p[0][k])
    end
    assert.equal(p[1], p.by_name.solid)
    assert.equal(30, #p.by_name.other)
    assert.equal(0.0, p.by_name.other[3])
    local px = tg.measure.fractions(v, { profile = "x" })
    assert.equal(21, #px[1])
    assert.near(10 / 30, px[1][7], 1e-15)
    assert.raises_with(function() tg.measure.fractions(v, { profile = "w" }) end, "profile must be")
  end)
end)

describe("tg.measure.chords", function()
  it("finds slab chords of the slab's length, scaled by the spacing along the axis", function()
    local c = tg.measure.chords(slab(), { phase = 1, axis = "z" })
    assert.equal(20, c.n)
    assert.equal(20, #c.lengths)
    for _, l in ipairs(c.lengths) do assert.equal(10, l) end
    assert.same({ "m", "z", 2, "faces", 1 }, { c.units, c.axis, c.spacing, c.trim, c.phase })
    local a = tg.measure.chords(slab({ 1e-7, 2e-7, 3e-7 }), { phase = 1, axis = "z" })
    for _, l in ipairs(a.lengths) do assert.near(3e-6, l, 1e-18) end
    assert.equal(20, a.histogram[10])
    local e = tg.measure.chords(slab(), { phase = 1, axis = "z", trim = "ends" })
    assert.equal(42, e.n)
    local none = tg.measure.chords(slab(), { phase = 0, axis = "z", trim = false })
    assert.equal(84, none.n)
    assert.same({ 5, 15 }, { none.lengths[1], none.lengths[2] })
  end)

  it("gives one table per axis with axis = 'all'", function()
    local c = tg.measure.chords(slab(), { phase = 1, axis = "all", trim = false, spacing = 0 })
    assert.equal(21 * 17, c.z.n)
    assert.equal(17 * 10, c.x.n)
    assert.equal(21 * 10, c.y.n)
    assert.equal("all", c.axis)
  end)

  it("counts chords by length exactly as PoreSpy does on the shared volumes", function()
    local cases = 0
    for _, f in ipairs(fixture_lines("porespy_chords.txt")) do
      local v = shared(f[1])
      if v then
        local c = tg.measure.chords(v, { phase = tonumber(f[2]) // 1, axis = f[3], spacing = 2 })
        assert.equal(tonumber(f[4]), c.n)
        assert.equal(tonumber(f[6]), #c.histogram)
        local total = 0
        for l = 1, #c.histogram do
          assert.equal(tonumber(f[6 + l]), c.histogram[l])
          total = total + l * c.histogram[l]
        end
        assert.equal(tonumber(f[5]), total)
        cases = cases + 1
      end
    end
    assert.is_true(cases > 0, "no volume to compare on (tests/fixtures/data holds synth_3phase_100)")
  end)

  it("gives no chords for an absent phase", function()
    local c = tg.measure.chords(slab(), { phase = 9 })
    assert.equal(0, c.n)
    assert.same({}, c.lengths)
    local d = tg.measure.cld(c)
    assert.equal(0, d.n)
    assert.equal(0.0, d.mean)
    assert.same({}, d.pdf)
  end)

  it("does not depend on the thread count", function()
    local v = random_volume(30, 25, 28, 3, 7)
    local n0 = tg.threads()
    tg.threads(1)
    local a = tg.measure.chords(v, { phase = 2, axis = "y", spacing = 1 })
    tg.threads(2)
    local b = tg.measure.chords(v, { phase = 2, axis = "y", spacing = 1 })
    tg.threads(n0)
    assert.same(a.lengths, b.lengths)
    assert.is_true(a.n > 0)
  end)

  it("rejects bad input with clear errors", function()
    local v = slab()
    assert.raises_with(function() tg.measure.chords(v:astype("f32"), { phase = 1 }) end, "integer volume")
    assert.raises_with(function() tg.measure.chords(v, {}) end, "'phase'")
    assert.raises_with(function() tg.measure.chords(v, { phase = 1, axis = "w" }) end, "axis must be")
    assert.raises_with(function() tg.measure.chords(v, { phase = 1, spacing = -1 }) end, "spacing")
    assert.raises_with(function() tg.measure.chords(v, { phase = 1, trim = "edges" }) end, "trim must be")
    assert.raises_with(function() tg.measure.chords(v, { phase = 1, axes = "x" }) end, "unknown option")
  end)
end)

describe("tg.measure.cld", function()
  local c = { histogram = { 2, 1, 0, 1 }, voxel_length = 1, phase = 1, axis = "x" } -- chords 1, 1, 2, 4

  it("follows PoreSpy's chord_length_distribution with bins = None", function()
    local d = tg.measure.cld(c)
    assert.same({ 0, 1, 2, 3, 4, 5 }, d.bin_edges)
    assert.same({ 0.5, 1.5, 2.5, 3.5, 4.5 }, d.bin_centers)
    assert.same({ 0, 0.5, 0.25, 0, 0.25 }, d.pdf)
    assert.same({ 0, 0.5, 0.25, 0, 0.25 }, d.relfreq)
    assert.same({ 1, 1, 0.5, 0.25, 0.25 }, d.cdf)
    assert.same({ 4, 2.0, 1.5 }, { d.n, d.mean, d.median })
    assert.near((1 + 1 + 4 + 16) / 8, d.mean_length_weighted, 1e-15)
  end)

  it("weights by length and bins linearly or logarithmically", function()
    local d = tg.measure.cld(c, { weight = "length" })
    assert.near(3 / 10, d.pdf[2], 1e-15)
    assert.near(2.5 / 10, d.pdf[3], 1e-15)
    assert.near(4.5 / 10, d.pdf[5], 1e-15)
    local b = tg.measure.cld({ lengths = { 1, 1, 2, 4 } }, { bins = 3 })
    assert.same({ 1, 2, 3, 4 }, b.bin_edges)
    assert.same({ 0.5, 0.25, 0.25 }, b.pdf)
    local l = tg.measure.cld({ lengths = { 1, 10, 100 } }, { log = true, bins = 2 })
    assert.same({ 0, 1, 2 }, l.bin_edges)
    assert.near(2 / 3, l.relfreq[2], 1e-15)
    assert.equal(l.bin_centers, l.LogL)
    assert.raises_with(function() tg.measure.cld(c, { weight = "volume" }) end, "weight must be")
    assert.raises_with(function() tg.measure.cld({ lengths = { 1, 2 } }) end, "bins = nil")
  end)
end)

-- brute force: flood fill (6-connectivity) of the phase, then which clusters touch the first/last z slice
local function brute_percolation(v, phase)
  local nx, ny, nz = v:dims()
  local seen, kinds, total = {}, { spanning = 0, inlet = 0, outlet = 0, isolated = 0 }, 0
  local function key(x, y, z) return x + nx * (y - 1 + ny * (z - 1)) end
  for z = 1, nz do for y = 1, ny do for x = 1, nx do
    if v:get(x, y, z) == phase and not seen[key(x, y, z)] then
      local stack, size, lo, hi = { { x, y, z } }, 0, false, false
      seen[key(x, y, z)] = true
      while #stack > 0 do
        local p = table.remove(stack)
        size = size + 1
        lo = lo or p[3] == 1
        hi = hi or p[3] == nz
        for _, d in ipairs { { 1, 0, 0 }, { -1, 0, 0 }, { 0, 1, 0 }, { 0, -1, 0 }, { 0, 0, 1 }, { 0, 0, -1 } } do
          local X, Y, Z = p[1] + d[1], p[2] + d[2], p[3] + d[3]
          if X >= 1 and Y >= 1 and Z >= 1 and X <= nx and Y <= ny and Z <= nz and not seen[key(X, Y, Z)]
              and v:get(X, Y, Z) == phase then
            seen[key(X, Y, Z)] = true
            stack[#stack + 1] = { X, Y, Z }
          end
        end
      end
      local k = (lo and hi) and "spanning" or lo and "inlet" or hi and "outlet" or "isolated"
      kinds[k] = kinds[k] + size
      total = total + size
    end
  end end end
  return kinds, total
end

describe("tg.measure.components and percolation", function()
  it("agree with a brute-force flood fill on small random volumes", function()
    for seed = 1, 6 do
      local v = random_volume(9, 8, 10, 2 + seed % 2, seed)
      local kinds, total = brute_percolation(v, 1)
      local p = tg.measure.percolation(v, { phase = 1, axis = "z" })
      for k, n in pairs(kinds) do
        assert.equal(n, p.voxels[k])
        assert.near(n / total, p.fractions[k], 1e-15)
      end
      local c = tg.measure.components(v, { phase = 1 })
      assert.equal(p.n_clusters, c.n)
      local sum = 0
      for _, s in ipairs(c.sizes) do sum = sum + s end
      assert.equal(total, sum)
    end
  end)

  it("label in raster order with sizes and 1-based bounding boxes", function()
    local v = tg.volume.new { 10, 8, 6 }
    v:view { x = { 1, 4 }, y = { 3, 5 }, z = { 2, 3 } }:fill(1)
    v:view { x = { 10, 10 }, z = { 5, 6 } }:fill(1)
    local c = tg.measure.components(v, { connectivity = 26 })
    assert.equal(2, c.n)
    assert.same({ 24, 16 }, c.sizes)
    assert.same({ { 1, 3, 2, 4, 5, 3 }, { 10, 1, 5, 10, 8, 6 } }, c.bboxes)
    assert.equal(1, c.labels:get(1, 3, 2))
    assert.equal(2, c.labels:get(10, 8, 6))
    assert.equal("i32", c.labels.dtype)
    local p = tg.measure.percolation(v, { phase = 1, axis = "y" })
    assert.same({ spanning = 16 / 40, inlet = 0.0, outlet = 0.0, isolated = 24 / 40 }, p.fractions)
  end)

  it("count components exactly as scipy.ndimage.label on the shared volumes (6, 18, 26)", function()
    local cases = 0
    for _, f in ipairs(fixture_lines("scipy_components.txt")) do
      local v = f[1] ~= "real_electrode" and shared(f[1])
      if v then
        local c = tg.measure.components(v, { phase = tonumber(f[2]) // 1, connectivity = tonumber(f[3]) // 1 })
        assert.equal(tonumber(f[4]), c.n)
        local big = 0
        for _, s in ipairs(c.sizes) do big = math.max(big, s) end
        assert.equal(tonumber(f[5]), big)
        cases = cases + 1
      end
    end
    assert.is_true(cases > 0, "no volume to compare on (tests/fixtures/data holds synth_3phase_100)")
  end)

  it("report an absent phase as zeros, never NaN", function()
    local p = tg.measure.percolation(slab(), { phase = 4 })
    assert.same({ spanning = 0.0, inlet = 0.0, outlet = 0.0, isolated = 0.0 }, p.fractions)
    assert.equal(0, p.n_clusters)
    assert.equal(0, tg.measure.components(slab(), { phase = 4 }).n)
  end)

  it("reject float labels and other connectivities", function()
    local v = slab()
    assert.raises_with(function() tg.measure.components(v, { connectivity = 8 }) end, "6, 18 or 26")
    assert.raises_with(function() tg.measure.percolation(v, { phase = 1, connectivity = 4 }) end, "6, 18 or 26")
    assert.raises_with(function() tg.measure.components(v:astype("f64")) end, "integer volume")
    assert.raises_with(function() tg.measure.percolation(v:astype("f32"), { phase = 1 }) end, "integer volume")
    assert.raises_with(function() tg.measure.percolation(v, { phase = 1, axis = 3 }) end, "axis must be")
  end)
end)

describe("tg.measure.distance and thickness", function()
  local function ball(r, spacing)
    local n = 2 * r + 5
    local v = tg.volume.new { n, n, n, spacing = spacing }
    local c = r + 3
    for z = 1, n do for y = 1, n do for x = 1, n do
      if (x - c) ^ 2 + (y - c) ^ 2 + (z - c) ^ 2 < r * r then v:set(x, y, z, 1) end
    end end end
    return v
  end

  it("gives the radius at the centre of a ball, in metres", function()
    local v = ball(12, 1e-7)
    local d = tg.measure.distance(v)
    assert.near(12e-7, d:stats().max, 1e-18)
    assert.equal("f64", d.dtype)
    local t = tg.measure.thickness(v)
    assert.near(24e-7, t.d10, 1e-12)
    assert.near(24e-7, t.d90, 1e-12)
    assert.near(24e-7, t.mean, 1e-12)
    assert.near(1.0, t.distribution.fraction[32], 1e-12)
  end)

  it("scales with anisotropic spacing like scipy's sampling", function()
    local cases = 0
    for _, f in ipairs(fixture_lines("scipy_edt.txt")) do
      local v = f[1] == "synth_3phase_100" and shared(f[1])
      if v then
        local m = v:eq(tonumber(f[2]) // 1)
        m:spacing { tonumber(f[3]), tonumber(f[4]), tonumber(f[5]) }
        local d = tg.measure.distance(m)
        local s = d:stats()
        assert.near(tonumber(f[6]), s.max, 1e-6)
        local inside = m:counts()[1]
        assert.near(tonumber(f[7]), s.mean * s.count / inside, 1e-6)
        cases = cases + 1
      end
    end
    assert.is_true(cases > 0, "no volume to compare on (tests/fixtures/data holds synth_3phase_100)")
  end)

  it("gives a slab its thickness, scaled by the spacing across it", function()
    local v = slab({ 1, 1, 2.5 })
    local t = tg.measure.thickness(v, { phase = 1 })
    assert.same({ 25, 25, 25, 25 }, { t.d10, t.d50, t.d90, t.max })
    assert.equal(0.0, t.map:get(1, 1, 1))
    local d = tg.measure.distance(v, { phase = 0, dtype = "f32", squared = true })
    assert.equal("f32", d.dtype)
    assert.equal(12.5 * 12.5, d:get(1, 1, 20)) -- 5 slices of 2.5 to the slab, squared
  end)

  it("does not depend on the thread count", function()
    local v = random_volume(24, 20, 22, 2, 3)
    local n0 = tg.threads()
    tg.threads(1)
    local a, ta = tg.measure.distance(v), tg.measure.thickness(v)
    tg.threads(2)
    local b, tb = tg.measure.distance(v), tg.measure.thickness(v)
    tg.threads(n0)
    assert.equal(a:bytes(), b:bytes())
    assert.equal(ta.map:bytes(), tb.map:bytes())
  end)

  it("rejects masks without background and float masks", function()
    local v = tg.volume.new { 4, 4, 4 }
    v:fill(1)
    assert.raises_with(function() tg.measure.distance(v) end, "no zero")
    assert.raises_with(function() tg.measure.thickness(v:astype("f32")) end, "integer volume")
    assert.raises_with(function() tg.measure.distance(v, { dtype = "u8" }) end, "dtype must be")
    local empty = tg.measure.thickness(tg.volume.new { 4, 4, 4 }, { phase = 1 })
    assert.same({ 0, 0, 0, 0.0 }, { empty.d10, empty.d50, empty.d90, empty.mean })
  end)
end)

describe("tg.measure surfaces", function()
  it("has mesh and surfaces (tests/spec/mesh_spec.lua tests them)", function()
    assert.is_function(tg.measure.mesh)
    assert.is_function(tg.measure.surfaces)
  end)
end)
