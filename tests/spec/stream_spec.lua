-- stream_spec.lua — stacks larger than memory: the memory budget, stacks on disk (tg.io.open), the atomic writer
-- (tg.io.writer) and the streamed filters, each compared with the in-memory call.
local tg = require "tortuga"
local H = test_helper

describe("tg.memory", function()
  after_each(function() tg.memory("default") end)

  it("parses sizes in decimal and binary units and returns bytes", function()
    assert.equal(4000000000, (tg.memory("4GB")))
    assert.equal(512 * 2 ^ 20, (tg.memory("512MiB")))
    assert.equal(3 * 2 ^ 29, (tg.memory("1.5G")))
    assert.equal(123456789, (tg.memory(123456789)))
    local b, default = tg.memory()
    assert.equal(123456789, b)
    assert.is_false(default)
  end)

  it("defaults to half of the physical memory (or less under a cgroup limit)", function()
    local b, default = tg.memory("default")
    assert.is_true(default)
    local f = io.open("/proc/meminfo")
    local total = tonumber(f:read("a"):match("MemTotal:%s+(%d+) kB")) * 1024
    f:close()
    assert.is_true(b <= total / 2 + 4096 and b >= 64 * 2 ^ 20)
  end)

  it("names the bad size", function()
    assert.raises_with(function() tg.memory("4 GX") end, "tg.memory: '4 GX' is not a size")
    assert.raises_with(function() tg.memory(0) end, "tg.memory: expected a size")
    assert.raises_with(function() tg.memory(-1) end, "tg.memory: expected a size")
  end)
end)

local function tmpdir(sub) return H.tmpdir("stream_spec/" .. sub) end

-- a u16 volume whose every voxel is a known function of (x, y, z)
local function pattern(nx, ny, nz, dtype)
  local v = tg.volume.new { nx, ny, nz, dtype = dtype or "u16", spacing = { 1e-7, 1e-7, 2e-7 } }
  for z = 1, nz do for y = 1, ny do for x = 1, nx do
    v:set(x, y, z, (x * 7 + y * 13 + z * 101) % 4000)
  end end end
  return v
end

describe("tg.io.open", function()
  local dir = tmpdir("open")
  local v = pattern(31, 17, 12)
  tg.io.write(dir .. "/multi.tif", v)
  os.execute("mkdir -p '" .. dir .. "/slices'")
  for z = 1, 12 do tg.io.write(string.format("%s/slices/s%d.tif", dir, z), v:view { z = { z, z } }) end

  it("opens a multi-page TIFF without reading pixels and reads page ranges", function()
    local st = tg.io.open(dir .. "/multi.tif")
    assert.is_true(tg.io.is_stack(st))
    assert.is_false(tg.io.is_stack(v))
    assert.same({ 31, 17, 12 }, { st:dims() })
    assert.equal(12, #st)
    assert.equal("u16", st.dtype)
    assert.equal("tortuga.Stack(31x17x12 u16, 100x100x200 nm, on disk)", tostring(st))
    local info = st:info()
    assert.equal("file", info.spacing_source)
    assert.equal("tiff", info.format)
    assert.equal(1, info.files)
    assert.equal(31 * 17 * 12 * 2, info.bytes)
    assert.equal(v:view { z = { 4, 9 } }:sha256(), st:read { z = { 4, 9 } }:sha256())
    assert.equal(v:view { z = { 12, 12 } }:sha256(), st:read { z = 12 }:sha256())
    assert.equal(v:sha256(), st:read():sha256())
    st:close()
    assert.equal("tortuga.Stack(closed)", tostring(st))
    assert.raises_with(function() st:dims() end, "closed")
  end)

  it("opens a folder and a glob of slices in natural order", function()
    for _, src in ipairs { dir .. "/slices", dir .. "/slices/s*.tif" } do
      local st = tg.io.open(src)
      assert.equal(12, #st)
      assert.equal(12, st:info().files)
      assert.equal(v:view { z = { 2, 11 } }:sha256(), st:read { z = { 2, 11 } }:sha256())
    end
  end)

  it("takes a spacing by hand and converts types while reading", function()
    local st = tg.io.open(dir .. "/multi.tif", { dtype = "f32" })
    assert.equal("f32", st.dtype)
    st:spacing { 5e-9, 5e-9, 1e-8 }
    assert.equal("set", st:info().spacing_source)
    local r = st:read { z = { 3, 3 } }
    assert.same({ 5e-9, 5e-9, 1e-8 }, r:spacing())
    assert.equal(v:get(5, 6, 3), r:get(5, 6, 1))
    assert.matches("5x5x10 nm", tostring(st))
  end)

  it("names the file and the page that is bad", function()
    local bad = dir .. "/bad"
    os.execute("mkdir -p '" .. bad .. "'")
    for z = 1, 5 do
      tg.io.write(string.format("%s/s%d.tif", bad, z), z == 4 and pattern(30, 17, 1) or v:view { z = { z, z } })
    end
    local st = tg.io.open(bad)
    assert.equal(5, #st)
    assert.raises_with(function() st:read { z = { 2, 5 } } end, "s4.tif: slice 4 is 30x17 16-bit unsigned but slice 1")
    assert.raises_with(function() st:read { z = { 6, 7 } } end, "outside 1..5")
    assert.raises_with(function() tg.io.open(dir .. "/nothing.tif") end, "nothing.tif")
    assert.raises_with(function() tg.io.open(dir .. "/multi.tif", { dtype = "u7" }) end, "unknown dtype 'u7'")
    assert.raises_with(function() tg.io.open(dir .. "/multi.tif", { dtyp = "u8" }) end, "did you mean 'dtype'")
  end)
end)
