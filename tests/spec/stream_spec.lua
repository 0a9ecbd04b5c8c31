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

-- The offset of the first strip of page `page` (1-based) of a TIFF file: the IFD chain read by hand.
local function strip_offset(path, page)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  local e = data:sub(1, 2) == "II" and "<" or ">"
  local big = string.unpack(e .. "I2", data, 3) == 43
  local ifd = big and string.unpack(e .. "I8", data, 9) or string.unpack(e .. "I4", data, 5)
  for _ = 2, page do
    local n = big and string.unpack(e .. "I8", data, ifd + 1) or string.unpack(e .. "I2", data, ifd + 1)
    local at = ifd + 1 + (big and 8 or 2) + n * (big and 20 or 12)
    ifd = big and string.unpack(e .. "I8", data, at) or string.unpack(e .. "I4", data, at)
  end
  local n = big and string.unpack(e .. "I8", data, ifd + 1) or string.unpack(e .. "I2", data, ifd + 1)
  for i = 0, n - 1 do
    local at = ifd + 1 + (big and 8 or 2) + i * (big and 20 or 12)
    local tag, typ = string.unpack(e .. "I2I2", data, at)
    if tag == 273 then
      local val = at + (big and 12 or 8)
      if typ == 16 then return (string.unpack(e .. "I8", data, val)) end
      if typ == 4 then return (string.unpack(e .. "I4", data, val)) end
      return (string.unpack(e .. "I2", data, val))
    end
  end
end

describe("streamed filters on a 256 x 256 x 200 stack #heavy", function()
  local dir = tmpdir("filters")
  local threads
  local bse, st

  setup(function()
    threads = tg.threads()
    tg.threads(2) -- the budgets below are sized for two threads' scratch
    local labels = tg.generate.cathode { size = { 256, 256, 200 }, spacing = 1e-7, seed = 3 }
    bse = tg.generate.sem(labels, { seed = 3 })
    tg.io.write(dir .. "/bse.tif", bse)
    st = tg.io.open(dir .. "/bse.tif")
  end)
  teardown(function() tg.threads(threads) end)

  -- the streamed result equals the in-memory one, bit for bit, in at least 20 slabs within the budget
  local function same(expected, result, info, budget)
    assert.equal(expected:sha256(), result:read():sha256())
    local s = info.streamed
    assert.is_true(s.slabs >= 20, "only " .. s.slabs .. " slabs")
    assert.equal(budget, s.memory)
    assert.is_true(s.peak <= s.memory, string.format("peak %d above the budget %d", s.peak, s.memory))
    assert.equal(0, hidden_files(dir))
  end

  it("gaussian and a Gaussian derivative", function()
    local g, info = tg.filter.gaussian(st, 1.5, { out = dir .. "/g.tif", memory = "7MB" })
    same(tg.filter.gaussian(bse, 1.5), g, info, 7e6)
    assert.equal(6, info.streamed.halo)
    assert.equal(dir .. "/g.tif", info.out)
    local d, dinfo = tg.filter.gaussian(st, { 1, 1, 2 }, { order = { 0, 0, 1 }, out = dir .. "/d.tif", memory = "8MB" })
    same(tg.filter.gaussian(bse, { 1, 1, 2 }, { order = { 0, 0, 1 } }), d, dinfo, 8e6)
  end)

  it("median and mean in 3D", function()
    local m, info = tg.filter.median(st, 1, { out = dir .. "/m.tif", memory = "1.6MB" })
    same(tg.filter.median(bse, 1), m, info, 1.6e6)
    local a, ainfo = tg.filter.mean(st, 2, { out = dir .. "/a.tif", memory = "5MB" })
    same(tg.filter.mean(bse, 2), a, ainfo, 5e6)
  end)

  it("flatten and destripe", function()
    local f, info = tg.filter.flatten(st, { sigma = 8, out = dir .. "/f.tif", memory = "3.6MB" })
    same(tg.filter.flatten(bse, { sigma = 8 }), f, info, 3.6e6)
    local d, dinfo = tg.filter.destripe(st, { out = dir .. "/s.tif", memory = "5MB" })
    same(tg.filter.destripe(bse), d, dinfo, 5e6)
  end)

  it("normalize per slice and over the whole stack (two passes)", function()
    local n, ranges, info = tg.filter.normalize(st, { out = dir .. "/n.tif", memory = "2.4MB" })
    local en, eranges = tg.filter.normalize(bse)
    same(en, n, info, 2.4e6)
    assert.same(eranges, ranges)
    local g, granges, ginfo = tg.filter.normalize(st, { per_slice = false, out = dir .. "/ng.tif", memory = "1.8MB" })
    local eg, egranges = tg.filter.normalize(bse, { per_slice = false })
    same(eg, g, ginfo, 1.8e6)
    assert.same(egranges, granges)
    assert.equal(2, ginfo.streamed.passes)
    -- f32 data: exact percentiles by radix selection (2 passes), then the stretch
    local sm = tg.filter.gaussian(bse, 1)
    tg.io.write(dir .. "/smooth.tif", sm)
    local fst = tg.io.open(dir .. "/smooth.tif")
    local fg, franges, finfo = tg.filter.normalize(fst, { per_slice = false, out = dir .. "/nf.tif", memory = "3MB" })
    local efg, efranges = tg.filter.normalize(sm, { per_slice = false })
    same(efg, fg, finfo, 3e6)
    assert.same(efranges, franges)
    assert.equal(3, finfo.streamed.passes)
  end)

  it("shift and correct_drift: the same shifts and the same aligned stacks", function()
    local labels = tg.generate.cathode { size = { 256, 256, 200 }, spacing = 1e-7, seed = 4 }
    local drifted, se = tg.generate.sem(labels, { seed = 4, drift = 6 })
    tg.io.write(dir .. "/drifted.tif", drifted)
    tg.io.write(dir .. "/se.tif", se)
    local dst, sst = tg.io.open(dir .. "/drifted.tif"), tg.io.open(dir .. "/se.tif")
    local aligned, shifts, info = tg.filter.correct_drift({ drifted, se }, { rows = { 20, 240 } })
    local saligned, sshifts, sinfo = tg.filter.correct_drift({ dst, sst }, {
      rows = { 20, 240 }, out = { dir .. "/al1.tif", dir .. "/al2.tif" }, memory = "3.6MB" })
    assert.same(shifts, sshifts)
    assert.same(info.region, sinfo.region)
    assert.equal(aligned[1]:sha256(), saligned[1]:read():sha256())
    assert.equal(aligned[2]:sha256(), saligned[2]:read():sha256())
    assert.is_true(sinfo.streamed.register.slabs >= 20)
    assert.is_true(sinfo.streamed.register.peak <= 3.6e6)
    -- the shift pass alone with a budget for 20 slabs or more
    local s, shinfo = tg.filter.shift(dst, shifts, { interpolation = "cubic", crop = false, out = dir .. "/sh.tif",
                                                     memory = "1.2MB" })
    same(tg.filter.shift(drifted, shifts, { interpolation = "cubic" }), s, shinfo, 1.2e6)
    -- fixed mode registers each slice to the reference, read once
    local fshifts = tg.filter.register(drifted, { mode = "fixed", reference = 50 })
    local sfshifts, finfo = tg.filter.register(dst, { mode = "fixed", reference = 50, memory = "4MB" })
    assert.same(fshifts, sfshifts)
    assert.is_true(finfo.streamed.slabs >= 20)
  end)

  it("writes into a writer the caller closes, converting to its dtype", function()
    local w = tg.io.writer(dir .. "/w.tif", { dtype = "u16", compress = "deflate" })
    local res, info = tg.filter.gaussian(st, 1, { out = w, memory = "7MB" })
    assert.equal(w, res)
    assert.equal(200, w:pages())
    w:close()
    assert.equal(tg.filter.gaussian(bse, 1):astype("u16"):sha256(), tg.io.read(dir .. "/w.tif"):sha256())
    assert.is_true(info.streamed.peak <= 7e6, "peak " .. info.streamed.peak)
  end)

  it("names the budget that cannot hold a slab, and leaves nothing", function()
    assert.raises_with(function() tg.filter.gaussian(st, 1.5, { out = dir .. "/x.tif", memory = "300kB" }) end,
      "gaussian: a memory budget of 293 KiB cannot hold one slab")
    assert.is_false(exists(dir .. "/x.tif"))
    assert.equal(0, hidden_files(dir))
    assert.raises_with(function() tg.filter.gaussian(st, 1.5) end, "needs out = a path or a writer")
    assert.raises_with(function() tg.filter.gaussian(bse, 1.5, { out = dir .. "/x.tif" }) end, "for stacks on disk")
    assert.raises_with(function() tg.filter.gaussian(st, 1.5, { out = dir .. "/x.tif", memory = "lots" }) end,
      "'lots' is not a size")
  end)
end)

describe("streamed filters on bad input", function()
  local dir = tmpdir("bad")
  local v = pattern(64, 48, 30, "u8")

  it("names the slice whose size or type changes midway, and writes nothing", function()
    for _, case in ipairs { { "size", pattern(63, 48, 1, "u8"), "slice 17 is 63x48 8-bit unsigned" },
                            { "type", pattern(64, 48, 1, "u16"), "slice 17 is 64x48 16-bit unsigned" } } do
      local folder = dir .. "/" .. case[1]
      os.execute("mkdir -p '" .. folder .. "'")
      for z = 1, 30 do
        tg.io.write(string.format("%s/s%02d.tif", folder, z), z == 17 and case[2] or v:view { z = { z, z } })
      end
      local st = tg.io.open(folder)
      local out = dir .. "/out_" .. case[1] .. ".tif"
      assert.raises_with(function() tg.filter.median(st, 1, { out = out, max_slab = 4 }) end, case[3])
      assert.raises_with(function() tg.filter.median(st, 1, { out = out, max_slab = 4 }) end, "s17.tif")
      assert.is_false(exists(out))
      assert.equal(0, hidden_files(dir))
    end
  end)

  it("names the page that fails to decode, and writes nothing", function()
    local path = dir .. "/deflate.tif"
    tg.io.write(path, pattern(64, 48, 30, "u16"), { compress = "deflate" })
    local at = strip_offset(path, 23)
    local f = assert(io.open(path, "r+b"))
    f:seek("set", at)
    f:write(string.rep("\xA5\x5A", 40))
    f:close()
    local st = tg.io.open(path)
    local out = dir .. "/out_decode.tif"
    assert.raises_with(function() tg.filter.gaussian(st, 1, { out = out, max_slab = 5 }) end, "deflate.tif: page 23")
    assert.is_false(exists(out))
    assert.equal(0, hidden_files(dir))
  end)

  it("stops on Ctrl-C with the temporary removed", function()
    local src = dir .. "/cancel_src.tif"
    tg.io.write(src, pattern(128, 128, 60, "u8"))
    local out = dir .. "/cancelled.tif"
    local script = dir .. "/cancel.lua"
    local f = assert(io.open(script, "w"))
    f:write(string.format([[
      local tg = require "tortuga"
      local st = tg.io.open("%s")
      tg.filter.median(st, 1, { out = "%s", max_slab = 1 })  -- warm up, then tell the spec we are running
      print("ready")
      io.stdout:flush()
      for i = 1, 100000 do tg.filter.median(st, 2, { out = "%s", max_slab = 1 }) end
    ]], src, dir .. "/warm.tif", out))
    f:close()
    local p = io.popen(string.format("sh -c 'echo $$; exec %s %s' 2>&1", H.exe(), script))
    local pid = p:read("l")
    assert.equal("ready", p:read("l"))
    os.execute("kill -INT " .. pid)
    local rest = p:read("a")
    p:close()
    assert.matches("interrupted", rest)
    assert.is_false(exists(out))
    assert.equal(0, hidden_files(dir))
  end)

  it("fails cleanly when the disk fills up while streaming", function()
    local mnt = dir .. "/full"
    os.execute("mkdir -p '" .. mnt .. "'")
    local mounted = os.execute("mount -t tmpfs -o size=256k tmpfs '" .. mnt .. "' 2>/dev/null")
    local src = dir .. "/full_src.tif"
    tg.io.write(src, pattern(128, 128, 40, "u8"))
    local out = run_script(dir, "fullstream.lua", string.format([[
      local tg = require "tortuga"
      local st = tg.io.open("%s")
      local ok, err = pcall(tg.filter.gaussian, st, 1, { out = "%s/g.tif", max_slab = 4 })
      print(err)
    ]], src, mnt), mounted and "" or "trap '' XFSZ; ulimit -f 256;")
    local left = exists(mnt .. "/g.tif") or hidden_files(mnt) > 0
    if mounted then os.execute("umount '" .. mnt .. "'") end
    assert.matches("g.tif: page %d+: write failed: ", out)
    assert.is_false(left)
  end)
end)
