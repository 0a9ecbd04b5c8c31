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

-- entries of a folder whose names start with a dot (the writer's temporaries), "." and ".." aside
local function hidden_files(dir)
  local n = 0
  for name in require("lfs").dir(dir) do
    if name:sub(1, 1) == "." and name ~= "." and name ~= ".." then n = n + 1 end
  end
  return n
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- run a Lua script in the tortuga host; returns its output and whether it succeeded
local function run_script(dir, name, code, prefix)
  local script = dir .. "/" .. name
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local p = io.popen(string.format("%s '%s' '%s' 2>&1", prefix or "", H.exe(), script))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

describe("tg.io.writer", function()
  local dir = tmpdir("writer")

  it("writes slabs that read back as the volume, calibrated", function()
    for _, compress in ipairs { false, "deflate", "lzw" } do
      local v = pattern(40, 24, 11, "f32")
      local path = dir .. "/slabs.tif"
      os.remove(path)
      local w = tg.io.writer(path, { compress = compress })
      assert.is_true(tg.io.is_writer(w))
      w:write(v:view { z = { 1, 4 } })
      w:write(v:view { z = { 5, 5 } })
      assert.is_false(exists(path))
      w:write(v:view { z = { 6, 11 } })
      assert.equal(11, w:pages())
      assert.matches("11 pages written", tostring(w))
      assert.equal(path, w:close())
      assert.equal("tortuga.Writer(closed)", tostring(w))
      local r = tg.io.read(path)
      assert.equal(v:sha256(), r:sha256())
      assert.same(v:spacing(), r:spacing())
      assert.equal(0, hidden_files(dir))
    end
  end)

  it("takes dims, dtype and spacing, converting slabs as astype does", function()
    local v = pattern(20, 10, 4, "f32")
    local w = tg.io.writer(dir .. "/u8.tif", { dims = { 20, 10, 4 }, dtype = "u8", spacing = 5e-9 })
    w:write(v)
    w:close()
    local r = tg.io.read(dir .. "/u8.tif")
    assert.equal(v:astype("u8"):sha256(), r:sha256())
    for a = 1, 3 do assert.relnear(5e-9, r:spacing()[a], 1e-7) end -- X/YResolution are read as floats
  end)

  it("leaves no file when it is not closed", function()
    local path = dir .. "/unclosed.tif"
    do
      local w = tg.io.writer(path)
      w:write(pattern(8, 8, 3))
      assert.equal(1, hidden_files(dir))
    end
    collectgarbage()
    collectgarbage()
    assert.is_false(exists(path))
    assert.equal(0, hidden_files(dir))
    do
      local w <close> = tg.io.writer(path)
      w:write(pattern(8, 8, 3))
    end
    assert.is_false(exists(path))
    assert.equal(0, hidden_files(dir))
    local w = tg.io.writer(path)
    w:write(pattern(8, 8, 3))
    w:abort()
    assert.is_false(exists(path))
    assert.equal(0, hidden_files(dir))
  end)

  it("removes the temporary on an error midway and keeps an older file", function()
    local path = dir .. "/midway.tif"
    local old = pattern(5, 5, 1)
    tg.io.write(path, old)
    local w = tg.io.writer(path)
    w:write(pattern(8, 8, 3))
    assert.raises_with(function() w:write(pattern(9, 8, 1)) end, "page 4: a slab of 9x8 slices, but the pages are 8x8")
    assert.equal(0, hidden_files(dir))
    assert.raises_with(function() w:write(pattern(8, 8, 1)) end, "closed")
    assert.equal(old:sha256(), tg.io.read(path):sha256())
    local w2 = tg.io.writer(dir .. "/announced.tif", { dims = { 8, 8, 5 } })
    w2:write(pattern(8, 8, 3))
    assert.raises_with(function() w2:close() end, "5 pages were announced but 3 written")
    assert.is_false(exists(dir .. "/announced.tif"))
    assert.equal(0, hidden_files(dir))
    assert.raises_with(function() tg.io.writer(dir .. "/no/such/folder/x.tif") end, "no/such/folder/x.tif")
    assert.raises_with(function() tg.io.writer(path, { compress = "zstd" }) end, "compress must be")
    assert.raises_with(function() tg.io.writer(path, { dims = { 8 } }) end, "dims must be {nx, ny}")
    assert.raises_with(function() tg.io.writer(path, { dimz = { 8, 8 } }) end, "did you mean 'dims'")
  end)

  it("fails cleanly when the disk fills up, naming the file and page", function()
    -- a real full file system (a 256 KiB tmpfs) where mounting is allowed, else a file-size limit (the same
    -- failing write(): EFBIG instead of ENOSPC)
    local mnt = dir .. "/full"
    os.execute("mkdir -p '" .. mnt .. "'")
    local mounted = os.execute("mount -t tmpfs -o size=256k tmpfs '" .. mnt .. "' 2>/dev/null")
    local prefix = mounted and "" or "trap '' XFSZ; ulimit -f 256;"
    local out = run_script(dir, "full.lua", string.format([[
      local tg = require "tortuga"
      local w = tg.io.writer("%s/full.tif")
      local v = tg.volume.new{256, 256, 1}
      for z = 1, 20 do
        local ok, err = pcall(w.write, w, v)
        if not ok then print(err) break end
      end
    ]], mnt), prefix)
    local left = exists(mnt .. "/full.tif") or hidden_files(mnt) > 0
    if mounted then os.execute("umount '" .. mnt .. "'") end
    assert.matches("full.tif: page %d+: write failed: ", out)
    assert.matches(mounted and "No space left on device" or "File too large", out)
    assert.is_false(left)
  end)

  it("removes the temporary when Ctrl-C stops the writing", function()
    local path = dir .. "/interrupted.tif"
    local script = dir .. "/interrupt.lua"
    local f = assert(io.open(script, "w"))
    f:write(string.format([[
      local tg = require "tortuga"
      local w = tg.io.writer("%s")
      local v = tg.volume.new{64, 64, 4}
      w:write(v)
      print("ready")
      io.stdout:flush()
      for i = 1, 200000 do w:write(v) end
      w:close()
    ]], path))
    f:close()
    local p = io.popen(string.format("sh -c 'echo $$; exec %s %s' 2>&1", H.exe(), script))
    local pid = p:read("l")
    assert.equal("ready", p:read("l"))
    os.execute("kill -INT " .. pid)
    local rest = p:read("a")
    p:close()
    assert.matches("interrupted", rest)
    assert.is_false(exists(path))
    assert.equal(0, hidden_files(dir))
  end)
end)
