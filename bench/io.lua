-- bench/io.lua — TIFF stack writing and reading: tortuga beside tifffile, same data, same machine, one run.
--   build/tortuga bench/io.lua [--size 512] [--out /tmp/tortuga-bench] [--compress deflate]
-- For u8 and u16 stacks of size^3 voxels (0.1 um voxels): tortuga writes an ImageJ stack (tg.io.write) and reads
-- it back (tg.io.read); bench/io_ref.py (run with /usr/bin/python3) loads the same file with tifffile, then times
-- tifffile.imwrite(..., imagej=True, resolution, spacing) and tifffile.imread of what it wrote. Each figure is
-- the median of 3 runs (warm page cache for both tools). Ratio = tifffile time / tortuga time (> 1: tortuga faster).
local tg = require "tortuga"
local opts = tg.util.script_args(arg, { size = 512, out = "/tmp/tortuga-bench", compress = "none" }, "bench/io")
os.execute("mkdir -p " .. opts.out)
local n = opts.size
local compress = opts.compress ~= "none" and opts.compress or false

local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
local now = B.now

local function median3(f) return B.median_of(3, f) end

-- data: a pseudo-random slice (LCG) with a z-dependent offset, so every page differs
local function make(dtype)
  local bytes = dtype == "u8" and 1 or 2
  local slices = {}
  local x = 12345
  local base = {}
  for i = 1, n * n do
    x = (x * 1103515245 + 12345) % 2147483648
    base[i] = (x >> 8) & (bytes == 1 and 0xff or 0xffff)
  end
  local fmt = bytes == 1 and "B" or "<I2"
  local parts = {}
  for z = 1, n do
    local row = {}
    -- offset the slice pattern by z voxels (cheap way to make pages differ)
    for i = 1, n * n do row[i] = string.pack(fmt, base[(i + z - 2) % (n * n) + 1]) end
    parts[z] = table.concat(row)
    if z % 64 == 0 then collectgarbage() end
  end
  return tg.volume.from_bytes(table.concat(parts), { n, n, n, dtype = dtype, spacing = { 1e-7, 1e-7, 1e-7 } })
end

local dir = arg[0]:match("(.*)/") or "bench"
print(string.format("TIFF I/O, %d^3 stacks, compress=%s, median of 3 (seconds; ratio = tifffile / tortuga)", n,
  tostring(compress)))
for _, dtype in ipairs{ "u8", "u16" } do
  local v = make(dtype)
  local path = string.format("%s/io_%s_tortuga.tif", opts.out, dtype)
  local tw = median3(function() tg.io.write(path, v, { compress = compress }) end)
  local tr = median3(function()
    local r = tg.io.read(path)
    r:release()
  end)
  local check = tg.io.read(path)
  assert(check:bytes() == v:bytes(), "read back differs")
  check:release()
  local cmd = string.format("/usr/bin/python3 %s/io_ref.py %s %s %s 2>&1", dir, path, opts.out, compress or "none")
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local ref = {}
  for k, val in out:gmatch("(%w+)=([%d%.eE%-]+)") do ref[k] = tonumber(val) end
  local mb = n * n * n * (dtype == "u8" and 1 or 2) / 1e6
  print(string.format("  %-3s %5.0f MB  write: tortuga %.3f s (%.0f MB/s)  tifffile %s  ratio %s", dtype, mb, tw, mb / tw,
    ref.write and string.format("%.3f s", ref.write) or "n/a", ref.write and string.format("%.2f", ref.write / tw) or "n/a"))
  print(string.format("  %-3s %5.0f MB  read:  tortuga %.3f s (%.0f MB/s)  tifffile %s  ratio %s", dtype, mb, tr, mb / tr,
    ref.read and string.format("%.3f s", ref.read) or "n/a", ref.read and string.format("%.2f", ref.read / tr) or "n/a"))
  if not ref.write then print("  tifffile: " .. out) end
  if ref.same == 0 then print("  warning: tifffile read different data from tortuga's file") end
  v:release()
  collectgarbage()
end
