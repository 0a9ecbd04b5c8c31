-- tg.io: TIFF stacks. Truth: closed-form pixel values (round trips, and the tifffile-written fixtures of
-- tests/fixtures/tiff, whose formulas are in make_fixtures.py), and error messages that name the file.
local tg = require "tortuga"
local H = test_helper

local FIX = (debug.getinfo(1, "S").source:match("^@(.*)/spec/io_spec%.lua$") or "tests") .. "/fixtures/tiff/"
local TMP = H.tmpdir("io_spec")

local function fx(name) return FIX .. name end

-- the fixtures' formulas (1-based x, y, z here; the script is 0-based)
local function u8v(x, y, z) return ((x - 1) + 3 * (y - 1) + 7 * (z - 1)) % 256 end
local function u16v(x, y, z) return (x - 1) * 1000 + (y - 1) * 17 + (z - 1) * 3 end

local function filled(dtype, nx, ny, nz, f)
  local v = tg.volume.new{nx, ny, nz, dtype = dtype, spacing = {1e-7, 2e-7, 5e-7}}
  for z = 1, nz do for y = 1, ny do for x = 1, nx do v:set(x, y, z, f(x, y, z)) end end end
  return v
end

local FORMULA = {
  u8 = function(x, y, z) return (x * 7 + y * 3 + z * 11) % 256 end,
  u16 = function(x, y, z) return (x * 1000 + y * 37 + z * 5003) % 65536 end,
  i32 = function(x, y, z) return x * 100000 - y * 7000 - z * 1234567 end,
  f32 = function(x, y, z) return (x - 2.5 * y) * 0.37 + z * 1e-3 end,
  f64 = function(x, y, z) return math.sin(x) * 1e6 + y * 1e-9 - z end,
}

describe("tg.io.write then tg.io.read", function()
  for _, dtype in ipairs{ "u8", "u16", "i32", "f32", "f64" } do
    for _, compress in ipairs{ false, "deflate", "lzw", "packbits" } do
      it(string.format("gives back %s bit for bit (compress=%s)", dtype, tostring(compress)), function()
        local v = filled(dtype, 9, 6, 4, FORMULA[dtype])
        local path = string.format("%s/rt_%s_%s.tif", TMP, dtype, tostring(compress))
        assert.equal(path, tg.io.write(path, v, {compress = compress}))
        local r = tg.io.read(path)
        assert.equal(dtype, r.dtype)
        assert.same({9, 6, 4}, {r:dims()})
        assert.is_true(r:bytes() == v:bytes())
        local s = r:spacing()
        assert.relnear(1e-7, s[1], 1e-6)
        assert.relnear(2e-7, s[2], 1e-6)
        assert.relnear(5e-7, s[3], 1e-12)
        local info = tg.io.info(path)
        assert.equal(compress and (compress == "deflate" and "deflate" or compress) or "none", info.compression)
        assert.is_true(info.imagej and info.calibrated and info.z_calibrated)
        assert.equal("micron", info.unit)
      end)
    end
  end

  it("writes views (non-contiguous volumes) correctly", function()
    local v = filled("u16", 10, 9, 6, FORMULA.u16)
    local view = v:view{x = {3, 8}, y = {2, 7}, z = {2, 5}}
    for _, c in ipairs{ false, "deflate" } do
      tg.io.write(TMP .. "/view.tif", view, {compress = c})
      local r = tg.io.read(TMP .. "/view.tif")
      assert.same({6, 6, 4}, {r:dims()})
      assert.is_true(r:bytes() == view:bytes())
      assert.equal(FORMULA.u16(3, 2, 2), r:get(1, 1, 1))
    end
  end)

  it("writes BigTIFF when asked, and reads it back", function()
    local v = filled("f32", 7, 5, 3, FORMULA.f32)
    tg.io.write(TMP .. "/big.tif", v, {bigtiff = true})
    assert.is_true(tg.io.info(TMP .. "/big.tif").bigtiff)
    assert.is_true(tg.io.read(TMP .. "/big.tif"):bytes() == v:bytes())
    tg.io.write(TMP .. "/small.tif", v)
    assert.is_false(tg.io.info(TMP .. "/small.tif").bigtiff)
  end)

  it("uses nm below 100 nm pixels", function()
    local v = tg.volume.new{4, 4, 2, dtype = "u8", spacing = {5e-9, 5e-9, 2e-8}}
    tg.io.write(TMP .. "/nm.tif", v)
    local info = tg.io.info(TMP .. "/nm.tif")
    assert.equal("nm", info.unit)
    assert.relnear(5e-9, info.spacing[1], 1e-6)
    assert.relnear(2e-8, info.spacing[3], 1e-12)
  end)

  it("writes no calibration for spacing 1 (unknown)", function()
    local v = tg.volume.new{4, 4, 2, dtype = "u8"}
    tg.io.write(TMP .. "/nocal.tif", v)
    local info = tg.io.info(TMP .. "/nocal.tif")
    assert.is_false(info.calibrated)
    assert.same({1, 1, 1}, info.spacing)
  end)
end)

describe("tg.io.read of files other programs wrote", function()
  it("reads tifffile's ImageJ stacks with their calibration", function()
    local v = tg.io.read(fx("u8_imagej.tif"))
    assert.same({24, 20, 5}, {v:dims()})
    assert.equal("u8", v.dtype)
    for _, p in ipairs{ {1, 1, 1}, {24, 20, 5}, {7, 3, 2}, {13, 17, 4} } do
      assert.equal(u8v(p[1], p[2], p[3]), v:get(p[1], p[2], p[3]))
    end
    local s = v:spacing()
    assert.relnear(1e-7, s[1], 1e-6)
    assert.relnear(2.5e-7, s[3], 1e-12)
    local w = tg.io.read(fx("u16_imagej_nm.tif"))
    assert.equal("u16", w.dtype)
    assert.equal(u16v(24, 20, 5), w:get(24, 20, 5))
    s = w:spacing()
    assert.relnear(20e-9, s[1], 1e-6)
    assert.relnear(25e-9, s[2], 1e-6)
    assert.relnear(50e-9, s[3], 1e-12)
  end)

  it("reads tiles, LZW, deflate with predictors, PackBits, big-endian, BigTIFF", function()
    for _, f in ipairs{ "u8_tiled_lzw.tif", "u8_packbits.tif", "u8_bigtiff.tif" } do
      local v = tg.io.read(fx(f))
      assert.same({24, 20, 5}, {v:dims()})
      for z = 1, 5 do for y = 1, 20, 3 do for x = 1, 24, 5 do
        assert.equal(u8v(x, y, z), v:get(x, y, z))
      end end end
    end
    for _, f in ipairs{ "u16_deflate_pred.tif", "u16_be.tif" } do
      local v = tg.io.read(fx(f))
      assert.equal(u16v(17, 19, 5), v:get(17, 19, 5))
    end
    local f = tg.io.read(fx("f32_tiled_deflate_fpred.tif"))
    assert.equal("f32", f.dtype)
    assert.equal((20 - 3) * 0.5 + 2 * 0.25, f:get(21, 4, 3))
    local info = tg.io.info(fx("u8_tiled_lzw.tif"))
    assert.is_true(info.tiled)
    assert.equal("lzw", info.compression)
    assert.is_true(tg.io.info(fx("u8_bigtiff.tif")).bigtiff)
  end)

  it("maps signed and 32-bit unsigned samples to i32, and converts on request", function()
    local v = tg.io.read(fx("i16.tif"))
    assert.equal("i32", v.dtype)
    assert.equal(1 * 100 - 19 * 50 - 4 * 1000, v:get(2, 20, 5))
    assert.raises_with(function() tg.io.read(fx("u32_big.tif")) end, "read with dtype f64")
    local w = tg.io.read(fx("u32_big.tif"), {dtype = "f64"})
    assert.equal(3000000000, w:get(4, 3, 2))
    local c = tg.io.read(fx("u16_imagej_nm.tif"), {dtype = "u8"})
    assert.equal("u8", c.dtype)
    assert.equal(255, c:get(2, 1, 1))
    assert.equal(34, c:get(1, 3, 1))
  end)

  it("converts RGB to grey with the BT.601 luma and says so", function()
    local info = tg.io.info(fx("rgb_contig.tif"))
    assert.is_true(info.rgb)
    assert.matches("luma", info.note)
    for _, f in ipairs{ "rgb_contig.tif", "rgb_planar.tif" } do
      local v = tg.io.read(fx(f))
      for _, p in ipairs{ {1, 1}, {24, 20}, {10, 5} } do
        local x, y = p[1] - 1, p[2] - 1
        local R, G, B = x * 6, y * 7, (x + y) * 3 % 256
        assert.equal(math.floor(0.299 * R + 0.587 * G + 0.114 * B + 0.5), v:get(p[1], p[2], 1))
      end
    end
  end)

  it("reads only the pages of a z range", function()
    local v = tg.io.read(fx("u8_tiled_lzw.tif"), {z = {2, 4}})
    assert.same({24, 20, 3}, {v:dims()})
    assert.equal(u8v(5, 6, 2), v:get(5, 6, 1))
    assert.equal(u8v(5, 6, 4), v:get(5, 6, 3))
    local w = tg.io.read(fx("u16_deflate_pred.tif"), {z = {5, 5}})
    assert.equal(u16v(3, 3, 5), w:get(3, 3, 1))
  end)
end)

describe("folders and globs of slices", function()
  local dir = TMP .. "/slices"
  os.execute("rm -rf '" .. dir .. "' && mkdir -p '" .. dir .. "/empty'")
  -- slice k holds the value k everywhere, so the order can be read back
  for _, k in ipairs{ 10, 2, 1, 33, 3 } do
    local s = tg.volume.new{6, 5, 1, dtype = "u16", spacing = {2e-7, 2e-7, 1e-6}}
    s:fill(k)
    tg.io.write(string.format("%s/slice%d.tif", dir, k), s)
  end
  local order = {1, 2, 3, 10, 33}

  it("sorts naturally (slice2 before slice10)", function()
    assert.is_true(tg.io.natural_less("slice2.tif", "slice10.tif"))
    assert.is_false(tg.io.natural_less("slice10.tif", "slice2.tif"))
    assert.is_true(tg.io.natural_less("a_002", "a_3"))
    assert.is_true(tg.io.natural_less("img9_z1", "img10_z0"))
  end)

  it("reads a folder in natural order with the first slice's spacing", function()
    local v = tg.io.read(dir)
    assert.same({6, 5, 5}, {v:dims()})
    for z, k in ipairs(order) do assert.equal(k, v:get(3, 3, z)) end
    assert.relnear(2e-7, v:spacing()[1], 1e-6)
    local info = tg.io.info(dir)
    assert.equal(5, info.pages)
    assert.equal(5, #info.files)
    assert.matches("slice1%.tif$", info.files[1])
  end)

  it("reads a glob and a z range of files", function()
    local v = tg.io.read(dir .. "/slice?.tif")
    assert.same({6, 5, 3}, {v:dims()})
    assert.equal(3, v:get(1, 1, 3))
    local w = tg.io.read(dir .. "/slice*.tif", {z = {4, 5}})
    assert.same({6, 5, 2}, {w:dims()})
    assert.equal(10, w:get(1, 1, 1))
    assert.equal(33, w:get(1, 1, 2))
  end)

  it("names the slice that differs", function()
    local odd = tg.volume.new{7, 5, 1, dtype = "u16"}
    local d2 = TMP .. "/slices_bad"
    os.execute("rm -rf '" .. d2 .. "' && mkdir -p '" .. d2 .. "'")
    tg.io.write(d2 .. "/s1.tif", tg.volume.new{6, 5, 1, dtype = "u16"})
    tg.io.write(d2 .. "/s2.tif", odd)
    assert.raises_with(function() tg.io.read(d2) end, "s2.tif: slice 2 is 7x5")
    os.remove(d2 .. "/s2.tif")
    tg.io.write(d2 .. "/s2.tif", tg.volume.new{6, 5, 1, dtype = "f32"})
    assert.raises_with(function() tg.io.read(d2) end, "s2.tif: slice 2 is 6x5 32-bit float")
  end)

  it("refuses an empty folder and a glob that matches nothing", function()
    assert.raises_with(function() tg.io.read(dir .. "/empty") end, "has no .tif/.tiff files")
    assert.raises_with(function() tg.io.read(dir .. "/nothing*.tif") end, "no file matches")
  end)
end)

describe("bad input", function()
  it("names the file and the reason", function()
    assert.raises_with(function() tg.io.read(TMP .. "/missing.tif") end, TMP .. "/missing.tif: No such file")
    assert.raises_with(function() tg.io.read(fx("not_a_tiff.tif")) end, "not_a_tiff.tif: not a readable TIFF")
    assert.raises_with(function() tg.io.read(fx("truncated.tif")) end, "truncated.tif: page 5")
    assert.raises_with(function() tg.io.read(fx("complex64.tif")) end, "complex samples are not supported")
    assert.raises_with(function() tg.io.read(fx("mixed_sizes.tif")) end, "page 2 is 15x10")
    assert.raises_with(function() tg.io.info(TMP .. "/missing.tif") end, "missing.tif")
  end)

  it("refuses unsupported bit depths", function()
    -- a 12-bit file: our own 16-bit file with BitsPerSample patched to 12 (tag 258, value inline)
    local v = tg.volume.new{4, 3, 1, dtype = "u16"}
    tg.io.write(TMP .. "/b16.tif", v)
    local f = assert(io.open(TMP .. "/b16.tif", "rb"))
    local bytes = f:read("a")
    f:close()
    local entry = string.pack("<I2I2I4I2", 258, 3, 1, 16)
    local at = bytes:find(entry, 1, true)
    assert.is_not_nil(at)
    local patched = bytes:sub(1, at - 1) .. string.pack("<I2I2I4I2", 258, 3, 1, 12) .. bytes:sub(at + 10)
    f = assert(io.open(TMP .. "/b12.tif", "wb"))
    f:write(patched)
    f:close()
    assert.raises_with(function() tg.io.read(TMP .. "/b12.tif") end, "b12.tif: page 1: 12-bit unsigned samples")
  end)

  it("refuses a z range outside the stack, naming the file", function()
    assert.raises_with(function() tg.io.read(fx("u8_imagej.tif"), {z = {4, 6}}) end, "u8_imagej.tif (5 pages)")
    assert.raises_with(function() tg.io.read(fx("u8_imagej.tif"), {z = {0, 2}}) end, "outside")
  end)

  it("checks options", function()
    assert.raises_with(function() tg.io.read(fx("u8_imagej.tif"), {dtyp = "u8"}) end, "did you mean 'dtype'")
    assert.raises_with(function() tg.io.read(fx("u8_imagej.tif"), {dtype = "u7"}) end, "unknown dtype")
    local v = tg.volume.new{2, 2, 2}
    assert.raises_with(function() tg.io.write(TMP .. "/x.tif", v, {compress = "deflat"}) end, "did you mean 'deflate'")
    assert.raises_with(function() tg.io.write(TMP .. "/x.tif", {}) end, "expected a volume")
    assert.raises_with(function() tg.io.read(42) end, "expected a file, folder or glob")
  end)

  it("reports an unwritable path and leaves no temporary file", function()
    local v = tg.volume.new{3, 3, 3}
    assert.raises_with(function() tg.io.write(TMP .. "/no/such/dir/out.tif", v) end, "no/such/dir/out.tif")
    for name in require("lfs").dir(TMP) do assert.is_nil(name:find("%.tmp")) end
  end)

  it("reads from memory too", function()
    local f = assert(io.open(fx("u8_tiled_lzw.tif"), "rb"))
    local bytes = f:read("a")
    f:close()
    local v = tg._core.io.read_tiff_memory(bytes, {z = {2, 2}})
    assert.equal(u8v(9, 9, 2), v:get(9, 9, 1))
    local r, err = tg._core.io.read_tiff_memory(bytes:sub(1, 100))
    assert.is_nil(r)
    assert.matches("<memory>", err, 1, true)
  end)
end)

describe("ImageJ", function()
  it("reads a stack ImageJ 1.53t wrote (imagej_u16.tif, made by imagej_write.ijm)", function()
    local v = tg.io.read(fx("imagej_u16.tif"))
    assert.same({24, 20, 5}, {v:dims()})
    assert.equal("u16", v.dtype)
    for _, p in ipairs{ {1, 1, 1}, {24, 20, 5}, {4, 3, 2} } do
      assert.equal(1000 * (p[3] - 1) + 10 * (p[2] - 1) + (p[1] - 1), v:get(p[1], p[2], p[3]))
    end
    local s = v:spacing()
    assert.relnear(1e-7, s[1], 1e-6)
    assert.relnear(1e-7, s[2], 1e-6)
    assert.relnear(2.5e-7, s[3], 1e-12)
    assert.equal("micron", tg.io.info(fx("imagej_u16.tif")).unit)
  end)

  -- runs only where ImageJ is installed (Debian: imagej, xvfb): ImageJ opens OUR files with their calibration
  local have_imagej = os.execute("command -v imagej >/dev/null 2>&1 && command -v xvfb-run >/dev/null 2>&1")
  local it_ij = have_imagej and it or pending
  it_ij("opens our stacks calibrated, raw and compressed", function()
    local cases = {
      {dtype = "u16", compress = false, spacing = {1e-7, 1e-7, 2.5e-7}, unit = "micron", depth = 16},
      {dtype = "u8", compress = "lzw", spacing = {2e-7, 3e-7, 1e-6}, unit = "micron", depth = 8},
      {dtype = "u16", compress = "deflate", spacing = {1e-7, 1e-7, 2.5e-7}, unit = "micron", depth = 16},
      {dtype = "f32", compress = false, spacing = {5e-9, 5e-9, 1e-8}, unit = "nm", depth = 32},
      {dtype = "f32", compress = "packbits", spacing = {5e-9, 5e-9, 1e-8}, unit = "nm", depth = 32},
    }
    local paths = {}
    for i, c in ipairs(cases) do
      local v = tg.volume.new{12, 7, 3, dtype = c.dtype, spacing = c.spacing}
      for z = 1, 3 do for y = 1, 7 do for x = 1, 12 do v:set(x, y, z, x + 10 * y + 50 * z) end end end
      paths[i] = string.format("%s/ij_%d.tif", TMP, i)
      tg.io.write(paths[i], v, {compress = c.compress})
    end
    local cmd = string.format("xvfb-run -a imagej -b '%simagej_check.ijm' '%s' 2>&1", FIX, table.concat(paths, ","))
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    for i, c in ipairs(cases) do
      local line = out:match("RESULT " .. (i - 1) .. " ([^\n]*)")
      assert.is_not_nil(line, "ImageJ printed nothing for " .. paths[i] .. ":\n" .. out)
      local f = {}
      for k, val in line:gmatch("(%w+)=(%S+)") do f[k] = val end
      assert.equal(3, tonumber(f.nSlices))
      assert.equal(c.depth, tonumber(f.bitDepth))
      local scale = c.unit == "nm" and 1e-9 or 1e-6
      assert.relnear(c.spacing[1] / scale, tonumber(f.pixelWidth), 1e-6)
      assert.relnear(c.spacing[2] / scale, tonumber(f.pixelHeight), 1e-6)
      assert.relnear(c.spacing[3] / scale, tonumber(f.voxelDepth), 1e-9)
      if c.unit == "nm" then assert.equal("nm", f.unit) else assert.matches("^micron", f.unit) end
      assert.equal(12 + 70 + 150, tonumber(f.last))
    end
  end)
end)
