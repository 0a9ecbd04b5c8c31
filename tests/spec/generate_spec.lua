-- tg.generate: the built-in cathode sample and its synthetic FIB-SEM images, checked from truth
-- (targets reached by construction, geometry of the particle list, exact grey levels, a bilinear shift
-- computed here, measured noise, identical results for 1 and 2 threads).
local tg = require "tortuga"

local function opts(extra)
  local o = { size = { 72, 64, 60 }, spacing = 2e-7, seed = 1 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function counts3(v)
  local c = v:counts()
  return c[0] or 0, c[1] or 0, c[2] or 0
end

local function with_threads(n, fn)
  local old = tg.threads()
  tg.threads(n)
  local ok, a, b, c = pcall(fn)
  tg.threads(old)
  if not ok then error(a, 0) end
  return a, b, c
end

local function same_volume(a, b)
  local nx, ny, nz = a:dims()
  for z = 1, nz do
    for y = 1, ny do
      for x = 1, nx do
        if a:get(x, y, z) ~= b:get(x, y, z) then return false end
      end
    end
  end
  return true
end

describe("tg.generate.cathode", function()
  it("reaches the phase fractions by construction and returns the labels with their spacing", function()
    local labels, info = tg.generate.cathode(opts { size = { 120, 120, 120 }, cam_fraction = 0.5, porosity = 0.08 })
    local nx, ny, nz = labels:dims()
    assert.are.same({ 120, 120, 120 }, { nx, ny, nz })
    assert.are.equal("u8", labels.dtype)
    assert.are.same({ 2e-7, 2e-7, 2e-7 }, labels:spacing())
    local p, c, i = counts3(labels)
    local n = nx * ny * nz
    assert.are.equal(n, p + c + i)
    assert.is_true(math.abs(c / n - 0.5) <= 0.01)
    assert.is_true(math.abs(p / n - 0.08) <= 0.01)
    assert.is_true(math.abs(i / n - 0.42) <= 0.01)
    assert.are.equal(math.floor(0.08 * n + 0.5), p) -- pores exact to the voxel
    assert.near(c / n, info.fractions.cam, 1e-12)
    assert.near(p / n, info.fractions.pore, 1e-12)
    assert.are.equal(1, info.seed)
    assert.is_true(info.particles.cam > 10 and info.particles.ise > 10)
    assert.are.equal(info.particles.cam, #info.cam_particles)
    assert.are.equal(0.5, info.targets.cam)
  end)

  it("gives the same volume for 1 and 2 threads, and another one for another seed", function()
    local o = opts { seed = 7 }
    local a = with_threads(1, function() return tg.generate.cathode(o) end)
    local b = with_threads(2, function() return tg.generate.cathode(o) end)
    assert.is_true(same_volume(a, b))
    local c = tg.generate.cathode(opts { seed = 8 })
    assert.is_false(same_volume(a, c))
  end)

  it("places CAM particles with the requested median diameter", function()
    local _, info = tg.generate.cathode(opts { size = { 120, 120, 120 }, spacing = 2.5e-7, cam_d50 = 4e-6, seed = 3 })
    local d = {}
    for k = 1, #info.cam_particles - 1 do d[k] = info.cam_particles[k].d end -- the last one was shrunk to fit
    table.sort(d)
    local median = d[(#d + 1) // 2]
    assert.is_true(math.abs(median / 4e-6 - 1) < 0.12, "median diameter " .. median)
    -- larger particles at the same fraction: fewer of them, roughly as (d50)^-3
    local _, big = tg.generate.cathode(opts { size = { 120, 120, 120 }, spacing = 2.5e-7, cam_d50 = 6e-6, seed = 3 })
    local ratio = info.particles.cam / big.particles.cam
    assert.is_true(ratio > 1.8 and ratio < 5, "count ratio " .. ratio)
  end)

  it("puts pores nearer to CAM than the ISE is", function()
    local labels, info = tg.generate.cathode(opts { size = { 64, 64, 64 }, seed = 4 })
    local sum, cnt = { [0] = 0, [2] = 0 }, { [0] = 0, [2] = 0 }
    local s = 2e-7
    for z = 2, 64, 3 do
      for y = 2, 64, 3 do
        for x = 2, 64, 3 do
          local l = labels:get(x, y, z)
          if l ~= 1 then
            local px, py, pz = (x - 0.5) * s, (y - 0.5) * s, (z - 0.5) * s
            local best = math.huge
            for _, b in ipairs(info.cam_particles) do
              local dd = math.sqrt((px - b.x) ^ 2 + (py - b.y) ^ 2 + (pz - b.z) ^ 2) - b.d / 2
              if dd < best then best = dd end
            end
            sum[l], cnt[l] = sum[l] + best, cnt[l] + 1
          end
        end
      end
    end
    assert.is_true(cnt[0] > 20 and cnt[2] > 100)
    assert.is_true(sum[0] / cnt[0] < 0.8 * (sum[2] / cnt[2]), string.format("pore %g m, ISE %g m", sum[0] / cnt[0], sum[2] / cnt[2]))
  end)

  it("returns the ISE grain ids on request", function()
    local labels, info = tg.generate.cathode(opts { size = { 40, 40, 40 }, grains = true })
    assert.are.equal("i32", info.grains.dtype)
    local ok = true
    for z = 1, 40, 3 do
      for y = 1, 40, 3 do
        for x = 1, 40, 3 do
          if (labels:get(x, y, z) == 2) ~= (info.grains:get(x, y, z) > 0) then ok = false end
        end
      end
    end
    assert.is_true(ok)
  end)

  it("accepts lengths with units and anisotropic spacing", function()
    local labels = tg.generate.cathode { size = { 30, 30, 20 }, spacing = { "200nm", "200nm", "300nm" }, cam_d50 = "3um" }
    local s = labels:spacing()
    assert.near(2e-7, s[1], 1e-20)
    assert.near(2e-7, s[2], 1e-20)
    assert.near(3e-7, s[3], 1e-20)
  end)

  it("rejects bad options with a message naming the option", function()
    local cases = {
      { { cam_fraction = 1.2 }, "cam_fraction" },
      { { porosity = -0.1 }, "porosity" },
      { { cam_fraction = 0.7, porosity = 0.3 }, "cam_fraction + porosity" },
      { { cam_d50 = 0 }, "cam_d50" },
      { { ise_d50 = -1e-6 }, "ise_d50" },
      { { size = { 10, 0, 10 } }, "size[2]" },
      { { size = { 10, 10 } }, "size" },
      { { spacing = 0 }, "spacing" },
      { { spacing = "abc" }, "spacing" },
      { { seed = 1.5 }, "seed" },
      { { cam_sigma = "x" }, "cam_sigma" },
      { { porositty = 0.1 }, "did you mean 'porosity'" },
    }
    for _, c in ipairs(cases) do
      assert.raises_with(function() tg.generate.cathode(opts(c[1])) end, c[2])
    end
  end)
end)

describe("tg.generate.sem", function()
  local labels = tg.generate.cathode(opts { size = { 64, 56, 12 } })
  local OFF = { noise = 0, drift = 0, curtaining = 0, illumination = 0, blur = 0, edge = 0 }
  local function off(extra)
    local o = {}
    for k, v in pairs(OFF) do o[k] = v end
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  it("with every artefact off gives exactly the phase grey levels", function()
    local bse, se, info = tg.generate.sem(labels, off())
    local lev = { [0] = 30, [1] = 200, [2] = 120 }
    local sev = { [0] = 20, [1] = 95, [2] = 115 }
    local bad = 0
    for z = 1, 12, 2 do
      for y = 1, 56 do
        for x = 1, 64 do
          local l = labels:get(x, y, z)
          if bse:get(x, y, z) ~= lev[l] or se:get(x, y, z) ~= sev[l] then bad = bad + 1 end
        end
      end
    end
    assert.are.equal(0, bad)
    assert.are.equal(12, #info.drift)
    assert.are.same({ x = 0, y = 0 }, info.drift[1])
    assert.are.same(labels:spacing(), bse:spacing())
    local b16 = tg.generate.sem(labels, off { dtype = "u16" })
    assert.are.equal("u16", b16.dtype)
    assert.are.equal(lev[labels:get(5, 5, 1)] * 257, b16:get(5, 5, 1))
  end)

  it("orders the BSE phase means CAM > ISE > pore with the default artefacts", function()
    local bse = tg.generate.sem(labels, { drift = 0, seed = 2 })
    local sum, cnt = { [0] = 0, 0, 0 }, { [0] = 0, 0, 0 }
    local nx, ny, nz = labels:dims()
    for z = 1, nz do
      for y = 1, ny do
        for x = 1, nx do
          local l = labels:get(x, y, z)
          sum[l], cnt[l] = sum[l] + bse:get(x, y, z), cnt[l] + 1
        end
      end
    end
    local m = { [0] = sum[0] / cnt[0], sum[1] / cnt[1], sum[2] / cnt[2] }
    assert.is_true(m[1] > m[2] and m[2] > m[0], string.format("%g %g %g", m[0], m[1], m[2]))
  end)

  it("drifts each slice by info.drift: content at (x, y) appears at (x + dx, y + dy)", function()
    local b0 = tg.generate.sem(labels, off())
    local b1, s1, info = tg.generate.sem(labels, off { drift = 1.5, seed = 9 })
    local nx, ny, nz = labels:dims()
    local maxerr, moved = 0, 0
    for z = 1, nz do
      local dx, dy = info.drift[z].x, info.drift[z].y
      moved = moved + math.abs(dx) + math.abs(dy)
      for y = 10, ny - 10 do
        for x = 10, nx - 10 do
          -- 0-based pixel coordinates: sample the undrifted slice at (x - dx, y - dy)
          local sx, sy = (x - 1) - dx, (y - 1) - dy
          if sx >= 0 and sy >= 0 and sx <= nx - 2 and sy <= ny - 2 then
            local x0, y0 = math.floor(sx), math.floor(sy)
            local wx, wy = sx - x0, sy - y0
            local function g(i, j) return b0:get(i + 1, j + 1, z) end
            local v = (1 - wy) * ((1 - wx) * g(x0, y0) + wx * g(x0 + 1, y0)) + wy * ((1 - wx) * g(x0, y0 + 1) + wx * g(x0 + 1, y0 + 1))
            maxerr = math.max(maxerr, math.abs(v - b1:get(x, y, z)))
          end
        end
      end
    end
    assert.is_true(moved > 2)
    assert.is_true(maxerr <= 0.5 + 1e-9, "max error " .. maxerr)
    assert.is_string(info.drift_convention)
  end)

  it("makes vertical curtains: column means vary with curtaining on and not with it off", function()
    local flat = tg.volume.new { 96, 40, 3, dtype = "u8" }
    for z = 1, 3 do for y = 1, 40 do for x = 1, 96 do flat:set(x, y, z, 2) end end end
    local function column_std(v)
      local m, s, s2 = {}, 0, 0
      for x = 1, 96 do
        local c = 0
        for y = 1, 40 do c = c + v:get(x, y, 2) end
        m[x] = c / 40
        s, s2 = s + m[x], s2 + m[x] ^ 2
      end
      return math.sqrt(math.max(0, s2 / 96 - (s / 96) ^ 2))
    end
    assert.are.equal(0, column_std((tg.generate.sem(flat, off()))))
    assert.is_true(column_std((tg.generate.sem(flat, off { curtaining = 10 }))) > 3)
    assert.are.equal(0, column_std((tg.generate.sem(flat, off { curtaining = false }))))
  end)

  it("makes narrow curtain streaks that persist from slice to slice and change slowly", function()
    local flat = tg.volume.new { 256, 8, 12, dtype = "u8" }
    for z = 1, 12 do for y = 1, 8 do for x = 1, 256 do flat:set(x, y, z, 2) end end end
    local v = tg.generate.sem(flat, off { curtaining = 20, curtain_depth = 20 })
    local function profile(z)
      local p, m = {}, 0
      for x = 1, 256 do p[x] = v:get(x, 1, z) - 120; m = m + p[x] / 256 end   -- BSE level of ISE: 120
      return p, m
    end
    local function corr(a, b, lag)
      local s, sa, sb = 0, 0, 0
      for x = 1, 256 - lag do s, sa, sb = s + a[x] * b[x + lag], sa + a[x] ^ 2, sb + b[x + lag] ^ 2 end
      return s / math.sqrt(sa * sb)
    end
    local p1, m1 = profile(1)
    local p2 = profile(2)
    local p12 = profile(12)
    -- tilt contrast: bright and dark flanks, no net offset; narrow: uncorrelated 6 px apart
    assert.is_true(math.abs(m1) < 1.5, "mean " .. m1)
    assert.is_true(math.abs(corr(p1, p1, 6)) < 0.3)
    -- the same streaks one slice on, weaker or stronger over many slices
    assert.is_true(corr(p1, p2, 0) > 0.9)
    assert.is_true(corr(p1, p12, 0) < corr(p1, p2, 0))
  end)

  it("adds noise of the requested standard deviation", function()
    local flat = tg.volume.new { 128, 128, 4, dtype = "u8" }
    for z = 1, 4 do for y = 1, 128 do for x = 1, 128 do flat:set(x, y, z, 2) end end end
    local bse = tg.generate.sem(flat, off { noise = 12 })
    local st = bse:stats()
    assert.near(12, st.std, 0.3)
    assert.near(120, st.mean, 0.15)
  end)

  it("gives the same images for 1 and 2 threads", function()
    local o = { seed = 5, drift = 1 }
    local a1, s1 = with_threads(1, function() return tg.generate.sem(labels, o) end)
    local a2, s2 = with_threads(2, function() return tg.generate.sem(labels, o) end)
    assert.is_true(same_volume(a1, a2))
    assert.is_true(same_volume(s1, s2))
  end)

  it("rejects bad options and labels outside the phase map", function()
    assert.raises_with(function() tg.generate.sem(labels, { noize = 1 }) end, "did you mean 'noise'")
    assert.raises_with(function() tg.generate.sem(labels, { illumination = 1 }) end, "illumination")
    assert.raises_with(function() tg.generate.sem(labels, { dtype = "f32" }) end, "dtype")
    assert.raises_with(function() tg.generate.sem(labels, { phases = { pore = 0, cam = 1, ise = 5 } }) end, "label 2")
    assert.raises_with(function() tg.generate.sem(labels, { blur = -1 }) end, "blur")
    assert.raises_with(function() tg.generate.sem(nil) end, "label volume")
  end)
end)

describe("tg.generate.sem with a protective cap", function()
  local labels = tg.generate.cathode(opts { size = { 40, 30, 6 } })
  it("adds cap rows above the specimen, the same in every slice, and leaves the specimen rows as they were", function()
    local off = { noise = 0, drift = 0, curtaining = 0, illumination = 0, blur = 0, edge = 0 }
    local plain = tg.generate.sem(labels, off)
    local o = { cap = 10 }
    for k, v in pairs(off) do o[k] = v end
    local bse, se, info = tg.generate.sem(labels, o)
    assert.are.same({ 40, 40, 6 }, { bse:dims() })
    assert.are.same({ 40, 40, 6 }, { se:dims() })
    assert.are.equal(10, info.cap)
    assert.are.equal(plain:bytes(), bse:view { y = { 11, 40 } }:copy():bytes())
    local first = bse:view { y = { 1, 10 }, z = { 1, 1 } }:copy():bytes()
    for z = 2, 6 do assert.are.equal(first, bse:view { y = { 1, 10 }, z = { z, z } }:copy():bytes()) end
    -- a fiducial: the cap holds dark pixels (the cross) and a grainy deposit around them
    local s = bse:view { y = { 1, 10 }, z = { 1, 1 } }:stats()
    assert.is_true(s.min <= 45 and s.max >= 150, string.format("cap grey levels %g..%g", s.min, s.max))
    assert.raises_with(function() tg.generate.sem(labels, { cap = -1 }) end, "cap must be an integer")
    assert.raises_with(function() tg.generate.sem(labels, { cap = 2.5 }) end, "cap must be an integer")
  end)
end)
