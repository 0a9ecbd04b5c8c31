-- The bad-input catalogue (issue 14): inputs a careful user may give by mistake, and faults from outside.
-- Each case asserts the exact kind of outcome: an error whose message names the file or the argument (a pattern),
-- or a result that flags what it could not do, never a crash, a hang or a silently wrong number.
-- Each describe block is one family of faults and keeps its helpers to itself.
local tg = require "tortuga"

describe("bad input: multi-page TIFFs cut short", function()
  local dir = test_helper.tmpdir("bad_input_tiff")
  local fixtures = "tests/fixtures/tiff/"

  -- 24 x 20 x 6 u8 with a value per voxel that names it
  local function stack()
    local v = tg.volume.new { 24, 20, 6, dtype = "u8" }
    for z = 1, 6 do for y = 1, 20 do for x = 1, 24 do v:set(x, y, z, (x + 3 * y + 29 * z) % 256) end end end
    return v
  end

  -- Copy the first n bytes of src to dst.
  local function cut(src, dst, n)
    local f = assert(io.open(src, "rb"))
    local data = f:read("a")
    f:close()
    assert(n < #data)
    f = assert(io.open(dst, "wb"))
    f:write(data:sub(1, n))
    f:close()
    return dst
  end

  local function file_size(path)
    local f = assert(io.open(path, "rb"))
    local n = f:seek("end")
    f:close()
    return n
  end

  local function raises(fn, pattern)
    local ok, err = pcall(fn)
    assert.is_false(ok, "expected an error matching " .. pattern)
    assert.matches(pattern, tostring(err))
  end

  -- The complete pages of a truncated file read as they were written.
  local function first_pages_read(path, v, n)
    local r = tg.io.read(path, { z = { 1, n } })
    assert.same({ 24, 20, n }, { r:dims() })
    assert.equal(v:view { z = { 1, n } }:sha256(), r:sha256())
  end

  it("tortuga's uncompressed stack cut inside its pixels raises naming the page and the bytes it has", function()
    local v = stack()
    -- ImageJ's layout: the first directory (a few hundred bytes), 6 pages of 480 bytes, the other directories
    local p = cut(tg.io.write(dir .. "/raw.tif", v), dir .. "/raw_cut.tif", 1500)
    local info = tg.io.info(p)
    local k = info.pages_complete
    assert.equal(6, info.pages)
    assert.is_true(k >= 1 and k < 6)
    raises(function() tg.io.read(p) end, "raw_cut%.tif: page " .. k + 1 .. " is missing: the file is truncated: it " ..
      "holds " .. k .. " complete pages? of the 6 its ImageJ header claims %(page " .. k + 1 .. " has %d+ of its 480 bytes%)")
    first_pages_read(p, v, k)
  end)

  it("tortuga's deflate stack cut short raises; a z range inside the intact part reads", function()
    local v = stack()
    local full = tg.io.write(dir .. "/deflate.tif", v, { compress = "deflate" })
    local p = cut(full, dir .. "/deflate_cut.tif", file_size(full) * 2 // 3)
    local info = tg.io.info(p)
    local k = info.pages_complete
    assert.equal(6, info.pages)
    assert.is_true(k >= 1 and k < 6)
    assert.matches("^the file is truncated: it holds " .. k .. " complete pages? of the 6 its ImageJ header claims",
      info.truncated)
    raises(function() tg.io.read(p) end, "deflate_cut%.tif: page " .. k + 1 .. " is missing")
    raises(function() tg.io.read(p, { z = { k, k + 1 } }) end, "deflate_cut%.tif: page " .. k + 1 .. " is missing")
    first_pages_read(p, v, k)
  end)

  it("tortuga's LZW stack cut one byte short raises naming its last page", function()
    local v = stack()
    local full = tg.io.write(dir .. "/lzw.tif", v, { compress = "lzw" })
    local p = cut(full, dir .. "/lzw_cut.tif", file_size(full) - 1)
    raises(function() tg.io.read(p) end, "lzw_cut%.tif: page 6 is missing: the file is truncated: it holds 5 " ..
      "complete pages of the 6 its ImageJ header claims %(the directory of page 6 cannot be read")
    first_pages_read(p, v, 5)
  end)

  it("tifffile's stack cut inside the directory of page 4 raises", function()
    raises(function() tg.io.read(fixtures .. "truncated_tifffile.tif") end, "truncated_tifffile%.tif: page 4 is " ..
      "missing: the file is truncated: it holds 3 complete pages of the 5 its description claims")
    assert.same({ 24, 20, 3 }, { tg.io.read(fixtures .. "truncated_tifffile.tif", { z = { 1, 3 } }):dims() })
  end)

  it("tifffile's ImageJ stack cut inside page 3 raises naming the bytes it has", function()
    raises(function() tg.io.read(fixtures .. "truncated_imagej.tif") end, "truncated_imagej%.tif: page 3 is " ..
      "missing: .*page 3 has 100 of its 480 bytes%); a range within pages 1%-2 still reads")
  end)

  it("tifffile's deflate stack cut inside the data of page 4 raises", function()
    raises(function() tg.io.read(fixtures .. "truncated_deflate.tif") end,
      "truncated_deflate%.tif: page 4 is missing: .*%(the data of page 4 is cut short%)")
    raises(function() tg.io.read(fixtures .. "truncated_deflate.tif", { z = { 4, 4 } }) end, "page 4 is missing")
    assert.same({ 24, 20, 3 }, { tg.io.read(fixtures .. "truncated_deflate.tif", { z = { 1, 3 } }):dims() })
  end)

  it("an ImageJ header claiming 8 images for 5 pages raises; tg.io.info says what is missing", function()
    local p = fixtures .. "imagej_claims_more.tif"
    local info = tg.io.info(p)
    assert.equal(8, info.pages)
    assert.equal(5, info.pages_complete)
    assert.equal("the file holds 5 complete pages of the 8 its ImageJ header claims (its chain of directories ends " ..
      "after page 5)", info.truncated)
    raises(function() tg.io.read(p) end, "imagej_claims_more%.tif: page 6 is missing")
    assert.same({ 24, 20, 5 }, { tg.io.read(p, { z = { 1, 5 } }):dims() })
  end)

  it("an intact stack has nothing missing", function()
    local info = tg.io.info(fixtures .. "u8_imagej.tif")
    assert.equal(5, info.pages_complete)
    assert.is_nil(info.truncated)
  end)
end)
