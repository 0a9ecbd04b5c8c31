local tg = require "tortuga"

describe("tg.volume", function()
  it("creates zeroed volumes of every dtype with dims and spacing", function()
    for _, t in ipairs{ "u8", "u16", "i32", "f32", "f64" } do
      local v = tg.volume.new{ 4, 3, 2, dtype = t, spacing = { 1e-7, 1e-7, 2e-7 } }
      assert.equal(t, v.dtype)
      local nx, ny, nz = v:dims()
      assert.same({ 4, 3, 2 }, { nx, ny, nz })
      assert.same({ 1e-7, 1e-7, 2e-7 }, v:spacing())
      assert.equal(0, v:stats().max)
    end
  end)

  it("prints what a person needs", function()
    assert.equal("tortuga.Volume(400x300x20 u8, 100 nm)", tostring(tg.volume.new{ 400, 300, 20, spacing = 1e-7 }))
    assert.equal("tortuga.Volume(2x2x2 f32, 100x100x200 nm)",
      tostring(tg.volume.new{ 2, 2, 2, dtype = "f32", spacing = { 1e-7, 1e-7, 2e-7 } }))
    assert.equal("tortuga.Volume(4x3x2 u8, uncalibrated)", tostring(tg.volume.new{ 4, 3, 2 }))
  end)

  it("gets and sets with 1-based indices, saturating to the dtype", function()
    local v = tg.volume.new{ 3, 3, 3 }
    v:set(3, 2, 1, 300)
    assert.equal(255, v:get(3, 2, 1))
    v:set(1, 1, 1, -4)
    assert.equal(0, v:get(1, 1, 1))
    assert.raises_with(function() v:get(4, 1, 1) end, "index x = 4 is outside 1..3")
    assert.raises_with(function() v:get(1, 0, 1) end, "index y = 0")
    local f = tg.volume.new{ 1, 1, 1, dtype = "f64" }
    f:set(1, 1, 1, 0.1)
    assert.equal(0.1, f:get(1, 1, 1))
  end)

  it("makes zero-copy views with 1-based inclusive ranges", function()
    local v = tg.volume.new{ 10, 8, 6, dtype = "u16" }
    for z = 1, 6 do for y = 1, 8 do for x = 1, 10 do v:set(x, y, z, x + 10 * y + 100 * z) end end end
    local w = v:view{ x = { 2, 4 }, y = { 3, 3 }, z = { 5, 6 } }
    assert.same({ 3, 1, 2 }, { w:dims() })
    assert.equal(2 + 30 + 500, w:get(1, 1, 1))
    assert.equal(4 + 30 + 600, w:get(3, 1, 2))
    w:set(1, 1, 1, 9)
    assert.equal(9, v:get(2, 3, 5)) -- shares the data
    local s = v:slice(6)
    assert.same({ 10, 8, 1 }, { s:dims() })
    assert.equal(1 + 10 + 600, s:get(1, 1, 1))
    assert.is_false(w:layout().contiguous)
    assert.is_true(w:copy():layout().contiguous)
    assert.raises_with(function() v:view{ z = { 0, 3 } } end, "view z: range {0, 3} is outside 1..6")
    assert.raises_with(function() v:view{ x = { 5, 4 } } end, "is outside 1..10 or empty")
    assert.raises_with(function() v:view{ zz = { 1, 2 } } end, "unknown option 'zz' (did you mean 'z'?)")
  end)

  it("copies and converts types with rounding and saturation", function()
    local v = tg.volume.new{ 3, 1, 1, dtype = "f32" }
    v:set(1, 1, 1, 2.5); v:set(2, 1, 1, -1); v:set(3, 1, 1, 1000)
    local u = v:astype("u8")
    assert.same({ 3, 0, 255 }, { u:get(1, 1, 1), u:get(2, 1, 1), u:get(3, 1, 1) })
    local c = v:copy()
    c:set(1, 1, 1, 7)
    assert.equal(2.5, v:get(1, 1, 1))
    assert.raises_with(function() v:astype("u12") end, "unknown dtype 'u12'")
  end)

  it("computes stats, histograms and label counts", function()
    local v = tg.volume.new{ 4, 1, 1, dtype = "f64" }
    for i, x in ipairs{ 1, 2, 3, 4 } do v:set(i, 1, 1, x) end
    local s = v:stats()
    assert.same({ 1, 4, 2.5 }, { s.min, s.max, s.mean })
    assert.near(math.sqrt(1.25), s.std, 1e-12)
    local h = v:histogram{ bins = 2 }
    assert.same({ 2, 2 }, h.counts)
    assert.same({ 1, 2.5, 4 }, h.edges)
    local l = tg.volume.new{ 5, 2, 1 }
    for x = 1, 5 do l:set(x, 1, 1, 1); l:set(x, 2, 1, x <= 2 and 2 or 0) end
    assert.same({ [0] = 3, [1] = 5, [2] = 2 }, l:counts())
    assert.raises_with(function() v:counts() end, "counts: needs an integer volume")
  end)

  it("maps labels and builds masks", function()
    local l = tg.volume.new{ 3, 1, 1 }
    l:set(1, 1, 1, 1); l:set(2, 1, 1, 2); l:set(3, 1, 1, 3)
    local m = l:map{ [1] = 2, [2] = 1 }
    assert.same({ 2, 1, 3 }, { m:get(1, 1, 1), m:get(2, 1, 1), m:get(3, 1, 1) })
    local e = l:eq(2)
    assert.same({ 0, 1, 0 }, { e:get(1, 1, 1), e:get(2, 1, 1), e:get(3, 1, 1) })
    local t = l:threshold(2)
    assert.same({ 0, 1, 1 }, { t:get(1, 1, 1), t:get(2, 1, 1), t:get(3, 1, 1) })
    assert.equal("u8", t.dtype)
    assert.equal("f32", l:map({ [1] = 0.5 }, { dtype = "f32" }).dtype)
  end)

  it("releases idempotently, through <close>, and refuses use after release", function()
    local v = tg.volume.new{ 2, 2, 2 }
    v:release()
    v:release()
    assert.equal("tortuga.Volume(released)", tostring(v))
    assert.raises_with(function() v:dims() end, "released")
    local w
    do
      local c <close> = tg.volume.new{ 2, 2, 2 }
      w = c
    end
    assert.is_true(w:released())
  end)

  it("round-trips raw bytes", function()
    local v = tg.volume.from_bytes(string.pack("<I2I2I2I2", 1, 2, 3, 65535), { 2, 2, 1, dtype = "u16" })
    assert.equal(65535, v:get(2, 2, 1))
    assert.equal(string.pack("<I2I2I2I2", 1, 2, 3, 65535), v:bytes())
    assert.equal(string.pack("<I2", 2), v:view{ x = { 2, 2 }, y = { 1, 1 } }:bytes())
    assert.raises_with(function() tg.volume.from_bytes("abc", { 2, 2, 1 }) end, "got 3 bytes")
  end)

  it("gives the same results with 1 and N threads", function()
    local v = tg.volume.new{ 33, 17, 9, dtype = "f32" }
    for z = 1, 9 do for y = 1, 17 do for x = 1, 33 do v:set(x, y, z, math.sin(x * y + z)) end end end
    local n = tg.threads()
    tg.threads(1)
    local s1, h1 = v:stats(), v:histogram{ bins = 16 }
    tg.threads(math.max(2, n))
    local s2, h2 = v:stats(), v:histogram{ bins = 16 }
    tg.threads(n)
    assert.same(s1, s2)
    assert.same(h1.counts, h2.counts)
    assert.raises_with(function() tg.threads(0) end, "positive integer")
  end)
end)

describe("tg.measure.fractions", function()
  it("gives the fraction of every label, with names", function()
    local l = tg.volume.new{ 10, 10, 1 }
    for y = 1, 10 do for x = 1, 10 do l:set(x, y, 1, x <= 7 and 1 or (x == 8 and 2 or 0)) end end
    local f = tg.measure.fractions(l, { phases = { pore = 0, cam = 1, ise = 2 } })
    assert.near(0.7, f[1], 1e-15)
    assert.near(0.1, f[2], 1e-15)
    assert.near(0.2, f[0], 1e-15)
    assert.equal("1", f.units)
    assert.near(0.7, f.by_name.cam, 1e-15)
    assert.raises_with(function() tg.measure.fractions(l:astype("f32")) end, "integer volume")
  end)
end)
