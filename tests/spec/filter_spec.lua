-- tg.filter: scipy/pywt fixtures (bench/filter_ref.py, stored in tests/fixtures/filter), generated FIB-SEM stacks
-- with known drift, real images with known translations, option checking and errors.
local tg = require "tortuga"
local H = test_helper

local FIX = "tests/fixtures/filter/"
local cases = dofile(FIX .. "cases.lua")

local function load_raw(name, dims)
  local f = assert(io.open(FIX .. name .. ".f32", "rb"))
  local s = f:read("a")
  f:close()
  return tg.volume.from_bytes(s, { dims[1], dims[2], dims[3], dtype = "f32" })
end

local function max_rel(a, b)
  local nx, ny, nz = b:dims()
  local num, den = 0, 0
  for z = 1, nz do for y = 1, ny do for x = 1, nx do
    local va, vb = a:get(x, y, z), b:get(x, y, z)
    num = math.max(num, math.abs(va - vb))
    den = math.max(den, math.abs(vb))
  end end end
  return num / den
end

local function rms_error(shifts, truth)
  local s = 0
  for z = 1, #truth do
    s = s + (shifts[z].x - truth[z].x) ^ 2 + (shifts[z].y - truth[z].y) ^ 2
  end
  return math.sqrt(s / #truth)
end

describe("tg.filter against scipy and pywt", function()
  for _, c in ipairs(cases) do
    it(c.op .. " " .. c.name, function()
      local dims = c.dims or cases.dims
      local v, ref = load_raw(c.input, dims), load_raw(c.name, dims)
      local out
      if c.op == "gaussian" then
        out = tg.filter.gaussian(v, c.sigma, { order = c.order })
        assert.is_true(max_rel(out, ref) <= 1e-5)
      elseif c.op == "median" then
        out = tg.filter.median(v, c.radius, { per_slice = c.per_slice })
        assert.are.equal(0, max_rel(out, ref))
      elseif c.op == "mean" then
        out = tg.filter.mean(v, c.radius, { per_slice = c.per_slice })
        assert.is_true(max_rel(out, ref) <= 1e-6)
      elseif c.op == "destripe" then
        out = tg.filter.destripe(v, { levels = c.levels, wavelet = c.wavelet, sigma = c.sigma, direction = c.direction })
        assert.is_true(max_rel(out, ref) <= 2e-6)
      end
      assert.are.equal("f32", out.dtype)
    end)
  end

  it("takes sigma in metres through the spacing, per axis", function()
    local v = load_raw("random", cases.dims)
    v:spacing({ 1e-7, 1e-7, 2e-7 })
    local a = tg.filter.gaussian(v, "150nm")                        -- 1.5, 1.5, 0.75 voxels
    local b = tg.filter.gaussian(v, { 1.5, 1.5, 0.75 })
    local c = tg.filter.gaussian(v, 1.5e-7, { units = "m" })
    assert.are.equal(b:bytes(), a:bytes())
    assert.are.equal(b:bytes(), c:bytes())
  end)

  it("gives the same result with 1 and 2 threads", function()
    local v = load_raw("random", cases.dims)
    local old = tg.threads()
    tg.threads(1)
    local a = tg.filter.gaussian(v, { 1.2, 2, 0.8 }, { order = { 0, 1, 0 } })
    local m1 = tg.filter.median(v, 1)
    tg.threads(2)
    local b = tg.filter.gaussian(v, { 1.2, 2, 0.8 }, { order = { 0, 1, 0 } })
    local m2 = tg.filter.median(v, 1)
    tg.threads(old)
    assert.are.equal(a:bytes(), b:bytes())
    assert.are.equal(m1:bytes(), m2:bytes())
  end)
end)

describe("tg.filter.register and shift", function()
  -- the microstructure changes from slice to slice, which real registration also sees; with a z-invariant
  -- structure every difference between slices is drift, curtaining, illumination and noise
  local function extruded(n, nz, seed)
    local one = tg.generate.cathode { size = { n, n, 1 }, spacing = 1e-7, seed = seed }
    local labels = tg.volume.new { n, n, nz, dtype = "u8", spacing = 1e-7 }
    for z = 1, nz do for y = 1, n do for x = 1, n do labels:set(x, y, z, one:get(x, y, 1)) end end end
    return labels
  end

  it("recovers tg.generate.sem's drift (noise, curtaining, illumination on) within 0.1 px RMS", function()
    local labels = extruded(128, 12, 3)
    local bse, se, info = tg.generate.sem(labels, { drift = 0.6, seed = 2 })
    local sb = tg.filter.register(bse)
    local ss = tg.filter.register(se)
    assert.is_true(rms_error(sb, info.drift) <= 0.1)
    assert.is_true(rms_error(ss, info.drift) <= 0.1)
    -- shifting by the estimate aligns the stack: registering again finds (almost) nothing
    local aligned = tg.filter.shift(bse:astype("f32"), sb, { interpolation = "cubic", fill = "nearest" })
    local again = tg.filter.register(aligned)
    local zero = {}
    for z = 1, #again do zero[z] = { x = 0, y = 0 } end
    assert.is_true(rms_error(again, zero) <= 0.1)
    -- each slice against the previous 3, absolute shifts by least squares: as accurate here, the same for any
    -- thread count, and the reference keeps shift 0
    local old = tg.threads()
    tg.threads(1)
    local k1 = tg.filter.register(bse, { neighbours = 3, reference = 5 })
    tg.threads(2)
    local k2 = tg.filter.register(bse, { neighbours = 3, reference = 5 })
    tg.threads(old)
    assert.are.same(k1, k2)
    assert.are.same({ x = 0, y = 0 }, k1[5])
    local rel = {}
    for z = 1, #info.drift do
      rel[z] = { x = info.drift[z].x - info.drift[5].x, y = info.drift[z].y - info.drift[5].y }
    end
    assert.is_true(rms_error(k1, rel) <= 0.1, string.format("RMS %.3f px", rms_error(k1, rel)))
  end)

  local function binned_stack(img, offsets, size, bin)
    -- slice k is the mean of bin x bin blocks of the window at (ox + dx_k, oy + dy_k): a shift of d / bin px, exactly
    local st = tg.volume.new { size, size, #offsets, dtype = "f32" }
    local ox, oy = 20, 20
    for z, d in ipairs(offsets) do
      for y = 1, size do for x = 1, size do
        local s = 0
        for j = 0, bin - 1 do for i = 0, bin - 1 do
          s = s + img:get(ox + d[1] + (x - 1) * bin + i, oy + d[2] + (y - 1) * bin + j, 1)
        end end
        st:set(x, y, z, s / (bin * bin))
      end end
    end
    return st
  end

  for _, rel in ipairs { "nmc-holotomo-slice-gray/example_xy.tif", "fibsem-cathode-slice-roi/4_phase.tif" } do
    it("recovers a pure subpixel translation of a real image within 0.05 px: " .. rel .. " #shared", function()
      local path = H.need_shared(rel)
      local img = tg.io.read(path)
      local offsets = { { 0, 0 }, { 1, 0 }, { 2, -1 }, { 4, 2 }, { -2, 5 }, { 7, -3 } }   -- fine pixels; bin 3
      local st = binned_stack(img, offsets, 128, 3)
      local shifts = tg.filter.register(st, { mode = "fixed" })
      -- content at the reference's (x, y) appears at (x - d / 3) in slice k: the window moved by +d
      local truth = {}
      for z, d in ipairs(offsets) do truth[z] = { x = -d[1] / 3, y = -d[2] / 3 } end
      local err = 0
      for z = 1, #truth do
        err = math.max(err, math.abs(shifts[z].x - truth[z].x), math.abs(shifts[z].y - truth[z].y))
      end
      assert.is_true(err <= 0.05, string.format("max error %.3f px", err))
    end)
  end

  it("applies shifts with the documented sign and crops to the common region", function()
    local v = tg.volume.new { 20, 10, 2, dtype = "u16" }
    for y = 1, 10 do for x = 1, 20 do v:set(x, y, 1, x * 100 + y); v:set(x, y, 2, x * 100 + y) end end
    local s = { { x = 0, y = 0 }, { x = 2, y = -1 } }
    local out = tg.filter.shift(v, s)
    assert.are.equal("u16", out.dtype)
    assert.are.equal(v:get(7, 5, 2), out:get(5, 6, 2))     -- out(x, y) = in(x + dx, y + dy)
    assert.are.equal(0, out:get(20, 5, 2))                  -- outside: fill 0
    local c = tg.filter.shift(v, s, { crop = true })
    local nx, ny = c:dims()
    assert.are.same({ 18, 9 }, { nx, ny })
    assert.are.same({ x = { 1, 18 }, y = { 2, 10 } }, tg.filter.valid_region(v, s))
    assert.are.equal(v:get(3, 1, 2), c:get(1, 1, 2))     -- (1, 1) of the crop is (1, 2): in(1 + 2, 2 - 1)
  end)

  it("raises clear errors on bad input", function()
    local v = tg.volume.new { 16, 16, 3, dtype = "u8" }
    assert.raises_with(function() tg.filter.shift(v, { { x = 0, y = 0 } }) end, "1 shifts for 3 slices")
    assert.raises_with(function() tg.filter.shift(v, { { x = 0, y = 0 }, { x = 0 / 0, y = 0 }, { x = 0, y = 0 } }) end,
      "finite")
    assert.raises_with(function() tg.filter.shift(v, { {}, {}, {} }, { interpolation = "sinc" }) end, "interpolation")
    assert.raises_with(function() tg.filter.register(v, { roi = { x = { 5, 40 } } }) end, "outside")
    assert.raises_with(function() tg.filter.register(v, { reference = 4 }) end, "reference")
    assert.raises_with(function() tg.filter.register(v, { refrence = 1 }) end, "did you mean 'reference'")
    assert.raises_with(function() tg.filter.register(v, { neighbours = 0 }) end, "neighbours must be")
  end)
end)

describe("tg.filter preprocessing of a generated stack", function()
  local labels = tg.generate.cathode { size = { 96, 96, 4 }, spacing = 1e-7, seed = 5 }

  it("flatten removes the illumination field (<= 1 % left) and keeps each slice's mean", function()
    -- the blur must be much wider than the particles: small particles (12 px) on 192 px slices, sigma 40 px
    local fine = tg.generate.cathode { size = { 192, 192, 2 }, spacing = 1e-7, cam_d50 = 1.2e-6, ise_d50 = 1.2e-6, seed = 5 }
    local clean = tg.generate.sem(fine, { seed = 1, illumination = 0, noise = 0, curtaining = 0, drift = 0 })
    local lit = tg.generate.sem(fine, { seed = 1, illumination = 0.4, noise = 0, curtaining = 0, drift = 0 })
    -- order 2: the local quadratic fit (the default Gaussian blur leaves ~9.5 % of this curved spot, see tg_flatten.h)
    local flat = tg.filter.flatten(lit, { sigma = 40, order = 2 })
    local flat_clean = tg.filter.flatten(clean, { sigma = 40, order = 2 })
    assert.are.equal("f32", flat.dtype)
    local function block_dev(v, ref)
      -- max deviation of the 32x32 block means of v / ref from their average
      local r, n = {}, 0
      for by = 1, 6 do for bx = 1, 6 do
        local s = 0
        for y = (by - 1) * 32 + 1, by * 32 do for x = (bx - 1) * 32 + 1, bx * 32 do
          s = s + v:get(x, y, 2) / math.max(ref:get(x, y, 2), 1)
        end end
        n = n + 1
        r[n] = s / 1024
      end end
      local m = 0
      for i = 1, n do m = m + r[i] / n end
      local d = 0
      for i = 1, n do d = math.max(d, math.abs(r[i] / m - 1)) end
      return d
    end
    -- the illumination is lit / clean; what flatten leaves of it is flat / flatten(clean): flatten also divides out
    -- the sample's own large-scale composition changes, in both, so they cancel and only the illumination remains
    local before, after = block_dev(lit, clean), block_dev(flat, flat_clean)
    print(string.format("flatten: illumination %.2f %% -> %.2f %% left (edges included; %.2f %% against the unflattened "
      .. "clean image, which counts the composition changes flatten removes too)", 100 * before, 100 * after,
      100 * block_dev(flat, clean)))
    assert.is_true(before > 0.05)
    assert.is_true(after <= 0.01, string.format("%.3f %% left", 100 * after))
    assert.relnear(lit:view { z = { 2, 2 } }:stats().mean, flat:view { z = { 2, 2 } }:stats().mean, 1e-4)
    local plain = tg.filter.flatten(lit, { sigma = 40 })   -- order 0, the blur: keeps the mean too
    assert.relnear(lit:view { z = { 2, 2 } }:stats().mean, plain:view { z = { 2, 2 } }:stats().mean, 1e-4)
    assert.raises_with(function() tg.filter.flatten(lit, { order = 3 }) end, "order must be 0, 1 or 2")
  end)

  it("destripe removes generated curtaining: stripe band -90 %, PSNR +6 dB, a clean image kept at >= 40 dB", function()
    -- tg.generate.sem's curtains are narrow tilt-contrast streaks (1-4 px, constant along y) on a 512x512 slice; the
    -- stripe band is the row ky = 0 of the 2D spectrum of (image - clean), i.e. the variance of the column means of
    -- the difference (Parseval). It also counts the image's own column structure that the filter removes.
    local lab = tg.generate.cathode { size = { 512, 512, 1 }, spacing = 1e-7, seed = 5 }
    local off = { seed = 1, noise = 0, drift = 0, illumination = 0 }
    local clean = tg.generate.sem(lab, setmetatable({ curtaining = 0 }, { __index = off }))
    local striped = tg.generate.sem(lab, setmetatable({ curtaining = 20, curtain_width = 2 }, { __index = off }))
    local function values(v)
      local b = v:astype("f32"):bytes()
      local t = {}
      for i = 1, #b // 4 do t[i] = string.unpack("<f", b, 4 * i - 3) end
      return t
    end
    local c = values(clean)
    local function band_and_psnr(v)
      local a, n = values(v), 512
      local cm, m, se = {}, 0, 0
      for x = 1, n do cm[x] = 0 end
      for i = 1, n * n do
        local d = a[i] - c[i]
        local x = (i - 1) % n + 1
        cm[x] = cm[x] + d / n
        se = se + d * d
      end
      for x = 1, n do m = m + cm[x] / n end
      local p = 0
      for x = 1, n do p = p + (cm[x] - m) ^ 2 end
      return p / n, 10 * math.log(255 ^ 2 / (se / (n * n)), 10)
    end
    local p0, q0 = band_and_psnr(striped)
    local p1, q1 = band_and_psnr(tg.filter.destripe(striped))
    local _, qc = band_and_psnr(tg.filter.destripe(clean))
    print(string.format("destripe: stripe band %.3g -> %.3g (%.1f %% removed), PSNR %.1f -> %.1f dB, clean image %.1f dB",
      p0, p1, 100 * (1 - p1 / p0), q0, q1, qc))
    assert.is_true(p1 <= 0.1 * p0, string.format("stripe band %.4g -> %.4g", p0, p1))
    assert.is_true(q1 >= q0 + 6, string.format("PSNR %.2f -> %.2f dB", q0, q1))
    assert.is_true(qc >= 40, string.format("clean image PSNR %.2f dB", qc))
  end)

  it("normalize maps the ImageJ percentiles exactly", function()
    local bse = tg.generate.sem(labels, { seed = 1 })
    local out, ranges = tg.filter.normalize(bse, { saturated = 1 })
    assert.are.equal("u8", out.dtype)
    assert.are.equal(4, #ranges)
    local vals = {}
    local nx, ny = bse:dims()
    for y = 1, ny do for x = 1, nx do vals[#vals + 1] = bse:get(x, y, 3) end end
    table.sort(vals)
    local t = math.floor(#vals * 1 / 200)
    assert.are.equal(vals[t + 1], ranges[3].lo)
    assert.are.equal(vals[#vals - t], ranges[3].hi)
    local f = tg.filter.normalize(bse:astype("f32"), { per_slice = false })
    local s = f:stats()
    assert.are.equal(0, s.min)
    assert.are.equal(1, s.max)
  end)

  it("rejects bad options with the reason", function()
    local v = tg.volume.new { 16, 16, 2, dtype = "u8" }
    assert.raises_with(function() tg.filter.gaussian(v, 0) end, "sigma must be > 0")
    assert.raises_with(function() tg.filter.gaussian(v, -1) end, "sigma must be > 0")
    assert.raises_with(function() tg.filter.gaussian(v, "abc") end, "not a length")
    assert.raises_with(function() tg.filter.gaussian(v, 1, { order = { 3, 0, 0 } }) end, "order[1]")
    assert.raises_with(function() tg.filter.gaussian(v, 1, { orders = 1 }) end, "did you mean 'order'")
    assert.raises_with(function() tg.filter.median(v, 0) end, "radius must be an integer >= 1")
    assert.raises_with(function() tg.filter.mean(v, 1.5) end, "radius")
    assert.raises_with(function() tg.filter.flatten(v, { sigma = 0 }) end, "sigma must be > 0")
    assert.raises_with(function() tg.filter.destripe(v, { levels = 1, wavelet = 6 }) end, "too small for db6")
    assert.raises_with(function() tg.filter.destripe(tg.volume.new { 64, 64, 1 }, { levels = 9 }) end, "levels must be")
    assert.raises_with(function() tg.filter.destripe(v, { direction = "diagonal" }) end, "direction")
    assert.raises_with(function() tg.filter.normalize(v, { saturated = 150 }) end, "saturated")
    assert.raises_with(function() tg.filter.gaussian("v", 1) end, "expected a volume")
    local r = tg.volume.new { 4, 4, 1 }
    r:release()
    assert.raises_with(function() tg.filter.gaussian(r, 1) end, "released")
  end)
end)

describe("tg.filter.correct_drift", function()
  it("follows an accumulated drift of ~19 px with the ROI on the cap: subpixel in both modes (issue 14)", function()
    -- drift = 2.5 px per slice over 40 slices: the content leaves a fixed ROI (3.7 px RMS in fixed mode before)
    local labels = tg.generate.cathode { size = { 96, 96, 40 }, spacing = 1e-7, seed = 4 }
    local bse, _, info = tg.generate.sem(labels, { drift = 2.5, cap = 40, seed = 3 })
    local far = 0
    for z = 1, 40 do far = math.max(far, math.abs(info.drift[z].x), math.abs(info.drift[z].y)) end
    assert.is_true(far > 18)
    for mode, tol in pairs { fixed = 0.1, sequential = 0.2 } do
      local _, shifts, ainfo = tg.filter.correct_drift({ bse }, { roi = { y = { 1, 40 } }, mode = mode, rows = { 41, 136 } })
      local e = rms_error(shifts, info.drift)
      assert.is_true(e <= tol, string.format("%s: %.3f px RMS", mode, e))
      assert.is_true(ainfo.register.passes >= 2)
    end
  end)

  it("recovers the drift of a truly 3D sample from the fiducial cap within 0.1 px RMS, for both stacks alike", function()
    local labels = tg.generate.cathode { size = { 96, 96, 40 }, spacing = 1e-7, seed = 4 }
    local cap = 40
    local bse, se, info = tg.generate.sem(labels, { drift = 0.5, cap = cap, seed = 3 })
    -- the specimen alone cannot tell its changing structure from drift; the cap, the same in every slice, can
    local own = tg.filter.register(bse:view { y = { cap + 1, cap + 96 } }:copy())
    local aligned, shifts, ainfo = tg.filter.correct_drift({ bse, se }, { roi = { y = { 1, cap } }, mode = "fixed",
                                                                         rows = { cap + 1, cap + 96 } })
    local e = rms_error(shifts, info.drift)
    print(string.format("correct_drift: %.3f px RMS on the cap, %.3f px registering the specimen", e, rms_error(own, info.drift)))
    assert.is_true(e <= 0.1, string.format("%.3f px", e))
    assert.is_true(rms_error(own, info.drift) > e)
    local r = ainfo.region
    assert.is_true(r.y[1] >= cap + 1 and r.y[2] <= cap + 96)
    local nx, ny, nz = aligned[1]:dims()
    assert.are.same({ r.x[2] - r.x[1] + 1, r.y[2] - r.y[1] + 1, 40 }, { nx, ny, nz })
    assert.are.same({ nx, ny, nz }, { aligned[2]:dims() })
    -- the SE stack got the same correction: shifting it by hand gives the same voxels
    local by_hand = tg.filter.shift(se, shifts, { interpolation = "cubic", crop = true })
    local full = tg.filter.valid_region(se, shifts)
    local cut = by_hand:view { y = { r.y[1] - full.y[1] + 1, r.y[2] - full.y[1] + 1 } }:copy()
    assert.are.equal(cut:bytes(), aligned[2]:bytes())
  end)

  it("refuses stacks of different shapes and rows outside the valid region", function()
    local a = tg.volume.new { 32, 32, 4, dtype = "f32" }
    local b = tg.volume.new { 32, 30, 4, dtype = "f32" }
    assert.raises_with(function() tg.filter.correct_drift({ a, b }) end, "stack 2 is 32x30x4")
    assert.raises_with(function() tg.filter.correct_drift({ a }, { rows = { 40, 50 } }) end, "rows 40..50 are outside")
    -- constant slices hold no shift to measure: zero shifts with quality 0, never an invented drift
    local shifts, info = tg.filter.register(a)
    for z = 1, 4 do
      assert.are.same({ 0, 0 }, { shifts[z].x, shifts[z].y })
      if z > 1 then assert.are.equal(0, info.quality[z]) end
    end
    assert.raises_with(function() tg.filter.correct_drift({}) end, "expected a list of stacks")
    assert.raises_with(function() tg.filter.correct_drift({ a }, { rowz = { 1, 2 } }) end, "unknown option 'rowz'")
  end)
end)
