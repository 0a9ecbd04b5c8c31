-- tg.io.write_png (lua/tortuga/io.lua) and core.sha256_file. Pixel values are checked by the C test (test_png.c,
-- decoded with libpng); here: the PNG structure read from the bytes, the options and errors, and SHA-256
-- against the FIPS 180-2 vectors and coreutils' sha256sum.
local tg = require "tortuga"
local core = require "tortuga.core"
local png = require "tortuga.io"
local H = test_helper

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

-- The chunks of a PNG: { {type=, data=}, ... } (checks the 8-byte signature first).
local function chunks(bytes)
  assert.are.equal("\137PNG\r\n\26\n", bytes:sub(1, 8))
  local out, pos = {}, 9
  while pos <= #bytes do
    local len, typ = string.unpack(">I4c4", bytes, pos)
    out[#out + 1] = { type = typ, data = bytes:sub(pos + 8, pos + 7 + len) }
    pos = pos + 12 + len
  end
  return out
end

local function find_chunk(cs, typ)
  for _, c in ipairs(cs) do
    if c.type == typ then return c end
  end
end

local function ihdr(bytes)
  local cs = chunks(bytes)
  assert.are.equal("IHDR", cs[1].type)
  local w, h, depth, colour = string.unpack(">I4I4BB", cs[1].data)
  return { width = w, height = h, depth = depth, colour = colour }, cs
end

describe("tg.io.write_png", function()
  local dir = H.tmpdir("png_spec")

  it("is tg.io.write_png", function()
    assert.are.equal(png.write_png, tg.io.write_png)
    assert.is_function(png.write_png)
  end)

  it("writes an 8-bit greyscale PNG of nx x ny with the PNG signature", function()
    local v = tg.volume.new{7, 5, 1, dtype = "f32", spacing = 1e-7}
    v:set(3, 2, 1, 4.5)
    local p = dir .. "/grey.png"
    assert.are.equal(p, png.write_png(p, v))
    local h, cs = ihdr(read_all(p))
    assert.are.same({ width = 7, height = 5, depth = 8, colour = 0 }, h)
    assert.are.equal("IEND", cs[#cs].type)
  end)

  it("writes RGB for labels and viridis", function()
    local v = tg.volume.new{4, 3, 2, dtype = "u8"}
    for _, cm in ipairs({ "labels", "viridis" }) do
      local p = dir .. "/" .. cm .. ".png"
      png.write_png(p, v, { colormap = cm })
      local h = ihdr(read_all(p))
      assert.are.same({ width = 4, height = 3, depth = 8, colour = 2 }, h)
    end
  end)

  it("records the pixel size in pHYs (pixels per metre) and none when the spacing is unknown", function()
    local v = tg.volume.new{3, 3, 1, spacing = { 2e-7, 5e-8, 1e-6 }}
    local p = dir .. "/phys.png"
    png.write_png(p, v)
    local c = find_chunk(chunks(read_all(p)), "pHYs")
    assert.is_not_nil(c)
    local px, py, unit = string.unpack(">I4I4B", c.data)
    assert.are.equal(5000000, px)
    assert.are.equal(20000000, py)
    assert.are.equal(1, unit) -- metre
    local u = tg.volume.new{3, 3, 1}
    png.write_png(p, u)
    assert.is_nil(find_chunk(chunks(read_all(p)), "pHYs"))
  end)

  it("takes the middle slice by default and z (1-based) when given", function()
    local v = tg.volume.new{6, 4, 5, dtype = "u8"}
    for z = 1, 5 do
      for x = 1, 6 do v:set(x, 1 + (z % 4), z, 40 * z + x) end
    end
    local function bytes_of(opts, name)
      local p = dir .. "/" .. name
      png.write_png(p, v, opts)
      return read_all(p)
    end
    local default = bytes_of(nil, "mid.png")
    assert.are.equal(bytes_of({ z = 3 }, "z3.png"), default)
    assert.are_not.equal(bytes_of({ z = 2 }, "z2.png"), default)
    assert.are.equal(bytes_of({ z = 2 }, "z2b.png"), bytes_of({ z = 2.0 }, "z2c.png"))
    -- a one-slice view is a slice: the same file as z = 2
    png.write_png(dir .. "/v.png", v:slice(2))
    assert.are.equal(bytes_of({ z = 2 }, "z2d.png"), read_all(dir .. "/v.png"))
  end)

  it("honours range and labels overrides", function()
    local v = tg.volume.new{8, 1, 1, dtype = "u16"}
    for x = 1, 8 do v:set(x, 1, 1, 100 * x) end
    local p = dir .. "/r.png"
    png.write_png(p, v)
    local a = read_all(p)
    png.write_png(p, v, { range = { 0, 1000 } })
    assert.are_not.equal(a, read_all(p))
    png.write_png(p, v, { range = { 100, 800 } }) -- 100..800 is the slice's min..max: the default
    assert.are.equal(a, read_all(p))

    local l = tg.volume.new{4, 1, 1, dtype = "u8"}
    l:set(2, 1, 1, 1)
    png.write_png(p, l, { colormap = "labels" })
    local d = read_all(p)
    png.write_png(p, l, { colormap = "labels", labels = { [1] = { 255, 127, 14 } } }) -- the default colour of 1
    assert.are.equal(d, read_all(p))
    png.write_png(p, l, { colormap = "labels", labels = { [1] = { 1, 2, 3 } } })
    assert.are_not.equal(d, read_all(p))
    local pal = png.default_palette()
    assert.are.same({ 255, 127, 14 }, pal[1])
    assert.are.same({ 31, 119, 180 }, pal[2])
  end)

  it("overwrites an existing file and leaves no temporary file", function()
    local p = dir .. "/over.png"
    local f = assert(io.open(p, "wb"))
    f:write("not a png")
    f:close()
    png.write_png(p, tg.volume.new{2, 2, 1})
    assert.are.equal("\137PNG", read_all(p):sub(1, 4))
    local ls = io.popen("ls '" .. dir .. "'")
    local names = ls:read("a")
    ls:close()
    assert.is_nil(names:find("%.tmp"))
  end)

  it("raises clear errors", function()
    local v = tg.volume.new{4, 4, 3}
    assert.raises_with(function() png.write_png("/nonexistent-dir-tortuga/a.png", v) end,
                       "/nonexistent-dir-tortuga/a.png")
    assert.raises_with(function() png.write_png(dir .. "/a.png", v, { z = 4 }) end, "outside the volume's slices 1..3")
    assert.raises_with(function() png.write_png(dir .. "/a.png", v, { z = 0 }) end, "z = 0")
    assert.raises_with(function() png.write_png(dir .. "/a.png", v, { z = 1.5 }) end, "integer")
    assert.raises_with(function() png.write_png(dir .. "/a.png", v, { colormap = "virdis" }) end, "did you mean 'viridis'")
    assert.raises_with(function() png.write_png(dir .. "/a.png", v, { rnage = { 0, 1 } }) end, "did you mean 'range'")
    assert.raises_with(function() png.write_png(dir .. "/a.png", v, { range = { 2, 1 } }) end, "lo <= hi")
    assert.raises_with(function() png.write_png(dir .. "/a.png", v, { colormap = "labels", labels = { [1] = { 1, 2 } } }) end,
                       "{r, g, b}")
    assert.raises_with(function() png.write_png(dir .. "/a.png", v, { colormap = "labels", labels = { [300] = { 1, 2, 3 } } }) end,
                       "0..255")
    assert.raises_with(function() png.write_png(dir .. "/a.png", v, { labels = { [1] = { 1, 2, 3 } } }) end,
                       "colormap = 'labels'")
    assert.raises_with(function() png.write_png(dir .. "/a.png", "v") end, "expected a volume")
    assert.raises_with(function() png.write_png(nil, v) end, "file path")
    assert.is_false(exists(dir .. "/a.png"))
  end)
end)

describe("core.sha256_file", function()
  local dir = H.tmpdir("png_spec")

  local function write(path, s)
    local f = assert(io.open(path, "wb"))
    f:write(s)
    f:close()
  end

  it("matches the FIPS 180-2 test vectors", function()
    write(dir .. "/abc", "abc")
    local hex, size = core.sha256_file(dir .. "/abc")
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex)
    assert.are.equal(3, size)
    write(dir .. "/empty", "")
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", core.sha256_file(dir .. "/empty"))
    write(dir .. "/two-blocks", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
    assert.are.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
                     core.sha256_file(dir .. "/two-blocks"))
  end)

  it("agrees with coreutils' sha256sum on a file larger than its 1 MiB read block", function()
    local p = dir .. "/big.bin"
    local parts = {}
    for i = 1, 40000 do parts[i] = string.pack("<I4I4I4I4I4I4I4I4", i, i * 7, i * 13, i * 31, i, i + 1, i + 2, i + 3) end
    write(p, table.concat(parts)) -- 1.28 MB
    local sh = io.popen("sha256sum '" .. p .. "' 2>/dev/null")
    local line = sh and sh:read("l")
    if sh then sh:close() end
    local hex, size = core.sha256_file(p)
    assert.are.equal(40000 * 32, size)
    if line and line:match("^%x+") then assert.are.equal(line:match("^(%x+)"), hex) end
    assert.are.equal(64, #hex)
  end)

  it("returns nil and 'path: reason' for a missing file or a directory", function()
    local hex, err = core.sha256_file(dir .. "/no-such-file")
    assert.is_nil(hex)
    assert.truthy(err:find(dir .. "/no-such-file", 1, true))
    hex, err = core.sha256_file(dir)
    assert.is_nil(hex)
    assert.truthy(err:find("directory", 1, true))
  end)
end)
