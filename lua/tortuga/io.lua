--- tg.io — reading and writing TIFF stacks, and writing PNG slices, VTK volumes and meshes.
--
--   local v = tg.io.read("stack.tif")                 -- multi-page TIFF (pages are z)
--   local v = tg.io.read("slices/")                   -- a folder of single-page slices, natural order
--   local v = tg.io.read("run1/slice_*.tif")          -- a glob (wildcards * ? [..] in the file name only)
--   local v = tg.io.read(src, {z = {10, 20}, dtype = "f32"})
--       z      1-based inclusive range of pages (or of files); only those are decoded
--       dtype  convert while reading (round to nearest, saturate, NaN -> 0), no second copy in memory
--   tg.io.info(src)  --> {width, height, pages, dims = {nx, ny, nz}, dtype, spacing = {sx, sy, sz}, units = "m",
--                         calibrated, z_calibrated, unit, compression, bigtiff, tiled, imagej, rgb, bits,
--                         sample_format, samples, photometric, note, files (folders and globs),
--                         pages_complete, truncated}   (no pixels read)
--       A file cut short (or whose ImageJ header / tifffile description claims more pages than it holds) has
--       pages = the pages claimed, pages_complete < pages and `truncated` saying what is missing; reading all
--       of it raises naming the first missing page, and a z range within the complete pages still reads.
--   local st = tg.io.open(src [, {dtype = "f32"}])   -- a stack on disk (tortuga.Stack): nothing decoded yet
--       src as for tg.io.read (a multi-page TIFF, a folder or a glob of slices). For stacks larger than memory:
--       every streamed operation (tg.filter.gaussian(st, 2, {out = "g.tif"}), ...) takes a Stack where it takes
--       a volume, and reads it slab by slab within the memory budget (tg.memory).
--       st:dims() --> nx, ny, nz     st.dtype     #st --> nz     tostring(st) --> tortuga.Stack(2048x2048x768 u8,
--       100 nm, on disk)     st:spacing([s]) --> {sx, sy, sz} (sets it: reads and streamed outputs carry it)
--       st:info() --> {dims, pages, dtype, spacing, spacing_source = "file"|"file (z = x)"|"none"|"set", units,
--                      format = "tiff", path (the file, or the first slice file), files (1, or the number of slice
--                      files), compression, bytes (of the whole stack in memory), note}
--       st:read{z = {a, b}} --> volume of slices a..b (1-based inclusive; default all), only those pages decoded
--       st:close()  (also when collected, or at the end of a `local st <close> = ...` block)
--       A page whose size or type differs from page 1, or that fails to decode, raises naming the file and page.
--   tg.io.is_stack(x) --> true for a tortuga.Stack
--   local w = tg.io.writer("out.tif", {dims = {nx, ny}, dtype = "u8", spacing = 1e-7, compress = false, bigtiff = nil})
--       A stack written slab by slab (tortuga.Writer): w:write(volume) appends its slices as the next pages (a volume
--       of another dtype is converted as v:astype does), w:close() --> path publishes the file: fsync, then an
--       atomic rename from a short hidden temporary in the same folder (.tg-<pid>-<k>.tmp). Until then nothing is
--       under the final name; on an error (disk full, a slab of the wrong size), a cancel (Ctrl-C), w:abort(), or a
--       writer that is garbage-collected or leaves a `local w <close>` block unclosed, the temporary is removed and
--       nothing appears there (an older file under the name is kept). The file is tg.io.write's: ImageJ-calibrated,
--       uncompressed in ImageJ's contiguous layout (IFDs written at close) or compressed page by page.
--       Options (all optional: by default from the first slab): dims = {nx, ny} or {nx, ny, nz} (nz announces the
--       page count, checked at close), dtype, spacing (metres: a number or {sx, sy, sz}), compress = "deflate" |
--       "lzw" | "packbits" | false, bigtiff = nil (automatic: uncompressed files decide at close; compressed ones
--       from dims[3], else classic TIFF, which fails past 4 GiB with a message) | true | false.
--       w:pages() --> pages written; tostring(w) --> tortuga.Writer(out.tif, 12 pages written)
--   tg.io.is_writer(x) --> true for a tortuga.Writer
--   tg.io.write("out.tif", v [, {compress = "deflate"|"lzw"|"packbits"|false, bigtiff = nil|true|false}])
--       ImageJ-compatible stack that Fiji opens calibrated; BigTIFF automatically past ~4 GiB; written to a short
--       hidden temporary in the same folder, synced (fsync) and renamed when complete. A name whose extension
--       says another format (.vtk, .png, .ply, .stl, .raw, ...) is refused, naming the function that writes it.
--
-- File types: 8/16-bit unsigned -> u8/u16; 32-bit unsigned -> i32 (an error if a value exceeds 2^31-1: read
-- with dtype = "f64"); 8/16/32-bit signed -> i32; 32/64-bit float -> f32/f64. RGB is converted to grey
-- (ITU-R BT.601 luma, a note on stderr). 1/4/12-bit, 16-bit float and complex files are refused.
-- Spacing is read as Fiji reads it (ImageJ unit=, spacing=, X/YResolution) and given in metres, except that a
-- file with no slice spacing gets z = x (Fiji would assume 1 unit: 1 inch for a 72 dpi file) and info.note says
-- so; a file without a unit gives spacing 1 (unitless). Set the true spacing with v:spacing{sx, sy, sz}. Slices of a folder take the spacing of the first file.
-- Errors name the file (and the page or slice) and the reason.
--
--   tg.io.write_png(path, v [, {z=, colormap="grey"|"labels"|"viridis", range={lo, hi},
--                                labels={[0]={r,g,b}, ...}, compression=0..9}])  --> path
--     One z slice of `v` as an 8-bit PNG: `z` is 1-based (default: the middle slice, nz // 2 + 1; a volume with
--     nz == 1 is a slice). Colour maps:
--       grey     greyscale, linear from range (default: 0..255 for u8, i.e. written as is; the slice's
--                min..max otherwise), clamped;
--       labels   RGB, one fixed colour per label value (0 pore: near black, 1: orange, 2: blue, then the rest
--                of matplotlib's tab20 and golden-ratio hues; values wrap modulo 256); `labels` overrides
--                entries, e.g. labels = {[1] = {200, 0, 0}};
--       viridis  RGB, the viridis map over range (polynomial fit of matplotlib's table, within 4 levels).
--     The pixel size goes into the PNG's pHYs chunk (pixels per metre from the x and y spacing) when the
--     spacing is known. Written to a temporary name and renamed when complete. Errors name the path
--     (unwritable, missing folder) or the bad option (z outside 1..nz, unknown colour map).
--   tg.io.default_palette() --> {[0] = {r, g, b}, ..., [255] = {r, g, b}}, the palette of colormap = "labels".
--
--   tg.io.write_vtk(path, volume) or tg.io.write_vtk(path, {name = volume, ...})  --> path
--     A VTK legacy binary STRUCTURED_POINTS file for ParaView (point data: one value per voxel centre, spacing in
--     metres from the first field), fields written in name order; u8, f32 and f64 volumes of equal dims; names
--     without whitespace. Written to a temporary name and renamed when complete.
--
--   tg.io.write_mesh(path, mesh [, {format = "ply" | "stl"}])  --> path
--     A tortuga.Mesh (tg.measure.mesh) as binary PLY or STL (from the extension by default); written to a
--     temporary name and renamed. Raises "tg.io.write_mesh: path: reason" on failure.
local core = require "tortuga.core"
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local volume = require "tortuga.volume"

local cio = core.io
local NIL = util.NIL
local M = {}

local TIFF_EXT = { tif = true, tiff = true }

local function lfs()
  local ok, mod = pcall(require, "lfs")
  if not ok then error("tg.io: reading a folder or a glob needs LuaFileSystem (Debian: lua-filesystem)", 3) end
  return mod
end

--- "Natural" order: digit runs compare as numbers, so slice2 < slice10 (ties broken by plain order).
function M.natural_less(a, b)
  local i, j = 1, 1
  while i <= #a and j <= #b do
    local da, db = a:match("^%d+", i), b:match("^%d+", j)
    if da and db then
      local na, nb = da:gsub("^0+", ""), db:gsub("^0+", "")
      if #na ~= #nb then return #na < #nb end
      if na ~= nb then return na < nb end
      i, j = i + #da, j + #db
    else
      local ca, cb = a:sub(i, i), b:sub(j, j)
      if ca ~= cb then
        local la, lb = ca:lower(), cb:lower()
        if la ~= lb then return la < lb end
        return ca < cb
      end
      i, j = i + 1, j + 1
    end
  end
  if #a - i ~= #b - j then return #a - i < #b - j end
  return a < b
end

-- a shell glob (*, ?, [abc], [a-z], [!x]) as an anchored Lua pattern
local function glob_pattern(g)
  local out, i = { "^" }, 1
  while i <= #g do
    local c = g:sub(i, i)
    if c == "*" then out[#out + 1] = ".*"
    elseif c == "?" then out[#out + 1] = "."
    elseif c == "[" then
      local close = g:find("]", i + 2, true)
      if not close then error("tg.io.read: unclosed '[' in the glob '" .. g .. "'", 4) end
      local set = g:sub(i + 1, close - 1):gsub("^!", "^"):gsub("%%", "%%%%")
      out[#out + 1] = "[" .. set .. "]"
      i = close
    else
      out[#out + 1] = c:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

local function is_glob(s) return s:find("[%*%?%[]") ~= nil end

local function list_dir(dir, accept)
  local fs = lfs()
  local names = {}
  local ok, iter, state = pcall(fs.dir, dir)
  if not ok then error(string.format("tg.io: cannot list the folder '%s': %s", dir, tostring(iter)), 4) end
  for name in iter, state do
    if name ~= "." and name ~= ".." and accept(name) then
      local path = (dir == "" and name) or (dir:sub(-1) == "/" and dir .. name) or (dir .. "/" .. name)
      if fs.attributes(path, "mode") == "file" then names[#names + 1] = name end
    end
  end
  table.sort(names, M.natural_less)
  local paths = {}
  for k, name in ipairs(names) do
    paths[k] = (dir:sub(-1) == "/" and dir .. name) or (dir .. "/" .. name)
  end
  return paths
end

--- The files a source names: nil for a single file, else the sorted list of slice files (raises when empty).
local function slice_files(src, where)
  if is_glob(src) then
    local dir, pat = src:match("^(.*)/([^/]*)$")
    if not dir then dir, pat = ".", src end
    if dir == "" then dir = "/" end
    if is_glob(dir) then error(where .. ": wildcards are only supported in the file name, not in '" .. dir .. "'", 3) end
    local lp = glob_pattern(pat)
    local files = list_dir(dir, function(n) return n:match(lp) ~= nil end)
    if #files == 0 then error(where .. ": no file matches '" .. src .. "'", 3) end
    return files
  end
  local ok, fs = pcall(require, "lfs")
  if ok and fs.attributes(src, "mode") == "directory" then
    local files = list_dir(src, function(n)
      local ext = n:match("%.([%w]+)$")
      return ext ~= nil and TIFF_EXT[ext:lower()] and n:sub(1, 1) ~= "."
    end)
    if #files == 0 then error(where .. ": the folder '" .. src .. "' has no .tif/.tiff files", 3) end
    return files
  end
  return nil
end

local function check_source(src, where)
  if type(src) ~= "string" or src == "" then
    error(string.format("%s: expected a file, folder or glob (string), got %s", where, type(src)), 3)
  end
end

--- Read a stack: a multi-page TIFF, a folder of slices or a glob.
function M.read(src, opts)
  local where = "tg.io.read"
  check_source(src, where)
  local o = util.options(opts, { z = util.NIL, dtype = util.NIL }, where)
  local files = slice_files(src, where)
  local first = files and files[1] or src
  local info = cio.info(first)
  if info and info.rgb then
    io.stderr:write(string.format("%s: %s: RGB converted to grey (ITU-R BT.601 luma)\n", where, first))
  end
  local ok, v, err = pcall(files and cio.read_slices or cio.read_tiff, files or src, o)
  if not ok then error(where .. ": " .. tostring(v), 2) end -- misuse: bad dtype, z outside the stack
  if not v then error(where .. ": " .. err, 2) end
  return v
end

--- Describe a stack without reading its pixels.
function M.info(src)
  local where = "tg.io.info"
  check_source(src, where)
  local files = slice_files(src, where)
  local t, err = cio.info(files and files[1] or src)
  if not t then error(where .. ": " .. err, 2) end
  if files then
    t.files = files
    t.pages = #files
    t.dims[3] = #files
  end
  return t
end

--- True if x is a stack on disk (tg.io.open).
function M.is_stack(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return type(mt) == "table" and rawget(mt, "__name") == "tortuga.Stack"
end

local stack_methods = cio.stack_methods
local cstack_read = stack_methods.read

--- st:read{z = {a, b}}: slices a..b (1-based inclusive) as a volume; only those pages are decoded.
function stack_methods.read(st, opts)
  local where = "st:read"
  local o = util.options(opts, { z = NIL }, where)
  local z = o.z
  local ok, v, err
  if z == nil then ok, v, err = pcall(cstack_read, st)
  elseif math.type(z) == "integer" then ok, v, err = pcall(cstack_read, st, z, z)
  elseif type(z) == "table" then ok, v, err = pcall(cstack_read, st, z[1], z[2])
  else error(where .. ": z must be {first, last} or a slice index, got " .. type(z), 2) end
  if not ok then error(where .. ": " .. tostring(v), 2) end
  if not v then error(where .. ": " .. err, 2) end
  return v
end

--- Open a stack on disk without reading its pixels (see the header).
function M.open(src, opts)
  local where = "tg.io.open"
  check_source(src, where)
  local o = util.options(opts, { dtype = NIL }, where)
  local files = slice_files(src, where)
  local ok, st, err = pcall(cio.open, files or src, o.dtype)
  if not ok then error(where .. ": " .. tostring(st), 2) end -- misuse: a bad dtype
  if not st then error(where .. ": " .. err, 2) end
  return st
end

local COMPRESS = { deflate = true, zip = true, lzw = true, packbits = true, none = true }

local function check_compress(c, where)
  if c ~= false and not COMPRESS[c] then
    local hint = type(c) == "string" and util.suggest(c, { "deflate", "lzw", "packbits" })
    error(string.format("%s: compress must be \"deflate\", \"lzw\", \"packbits\" or false, got %s%s", where,
      tostring(c), hint and string.format(" (did you mean '%s'?)", hint) or ""), 3)
  end
end

--- True if x is a writer (tg.io.writer).
function M.is_writer(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return type(mt) == "table" and rawget(mt, "__name") == "tortuga.Writer"
end

-- Extensions of formats other than TIFF, and the function that writes each (nil: none does).
local NOT_TIFF = { vtk = "tg.io.write_vtk", png = "tg.io.write_png", ply = "tg.io.write_mesh",
                   stl = "tg.io.write_mesh", vti = false, raw = false, npy = false, h5 = false, hdf5 = false,
                   jpg = false, jpeg = false, mrc = false, nrrd = false, nii = false, csv = false, json = false }

-- A TIFF writer given a name whose extension says another format would write a TIFF under it: refuse.
local function check_tiff_name(path, where)
  local ext = path:match("%.([%w]+)$")
  local other = ext and NOT_TIFF[ext:lower()]
  if other ~= nil then
    error(string.format("%s: %s: this writes TIFF stacks (.tif, .tiff), not .%s%s", where, path, ext,
      other and "; use " .. other or ""), 3)
  end
end

--- A stack written slab by slab and published atomically on w:close() (see the header).
function M.writer(path, opts)
  local where = "tg.io.writer"
  if type(path) ~= "string" or path == "" then
    error(string.format("%s: expected a file path, got %s", where, type(path)), 2)
  end
  check_tiff_name(path, where)
  local o = util.options(opts, { dims = NIL, dtype = NIL, spacing = NIL, compress = false, bigtiff = NIL }, where)
  check_compress(o.compress, where)
  if o.bigtiff ~= nil and type(o.bigtiff) ~= "boolean" then
    error(where .. ": bigtiff must be true, false or nil (automatic)", 2)
  end
  if o.dims ~= nil and type(o.dims) ~= "table" then error(where .. ": dims must be {nx, ny} or {nx, ny, nz}", 2) end
  local ok, w, err = pcall(cio.writer, path, o.dims, o.dtype, o.spacing, o.compress, o.bigtiff)
  if not ok then error(where .. ": " .. tostring(w), 2) end -- misuse: bad dims, dtype, spacing
  if not w then error(where .. ": " .. err, 2) end
  return w
end

local writer_methods = cio.writer_methods
local cwrite, cclose = writer_methods.write, writer_methods.close

--- w:write(volume): append its slices. An error removes the temporary and closes the writer.
function writer_methods.write(w, v)
  if not volume.is_volume(v) then error("w:write: expected a volume, got " .. type(v), 2) end
  local ok, res, err = pcall(cwrite, w, v)
  if not ok then error("w:write: " .. tostring(res), 2) end
  if not res then error("w:write: " .. err, 2) end
  return w
end

--- w:close() --> path: finish, sync and rename the file into place.
function writer_methods.close(w)
  local ok, res, err = pcall(cclose, w)
  if not ok then error("w:close: " .. tostring(res), 2) end
  if not res then error("w:close: " .. err, 2) end
  return res
end

--- Write a volume as an ImageJ-compatible (Fiji opens it calibrated) multi-page TIFF.
function M.write(path, v, opts)
  local where = "tg.io.write"
  if type(path) ~= "string" or path == "" then
    error(string.format("%s: expected a file path, got %s", where, type(path)), 2)
  end
  if not volume.is_volume(v) then
    error(string.format("%s: expected a volume as the second argument, got %s", where, type(v)), 2)
  end
  check_tiff_name(path, where)
  local o = util.options(opts, { compress = false, bigtiff = util.NIL }, where)
  check_compress(o.compress, where)
  if o.bigtiff ~= nil and type(o.bigtiff) ~= "boolean" then
    error(where .. ": bigtiff must be true, false or nil (automatic)", 2)
  end
  local ok, err = cio.write_tiff(path, v, o)
  if not ok then error(where .. ": " .. err, 2) end
  return path
end

local COLORMAPS = { grey = true, gray = true, labels = true, viridis = true }

--- Write one z slice as an 8-bit PNG (see the header).
function M.write_png(path, v, opts)
  local where = "tg.io.write_png"
  if type(path) ~= "string" or path == "" then
    error(where .. ": expected a file path as the first argument, got " .. type(path), 2)
  end
  if not volume.is_volume(v) then error(where .. ": expected a volume as the second argument, got " .. type(v), 2) end
  local o = util.options(opts, { z = util.NIL, colormap = "grey", range = util.NIL, labels = util.NIL,
                                 compression = util.NIL }, where)
  if type(o.colormap) ~= "string" or not COLORMAPS[o.colormap] then
    local hint = type(o.colormap) == "string" and util.suggest(o.colormap, { "grey", "labels", "viridis" })
    error(string.format("%s: colormap must be 'grey', 'labels' or 'viridis', got '%s'%s", where,
      tostring(o.colormap), hint and string.format(" (did you mean '%s'?)", hint) or ""), 2)
  end
  local _, _, nz = v:dims()
  local z = o.z
  if z == nil then
    z = nz // 2 + 1
  else
    z = math.tointeger(z)
    if not z then error(where .. ": z must be an integer slice index, got " .. tostring(o.z), 2) end
    if z < 1 or z > nz then
      error(string.format("%s: z = %d is outside the volume's slices 1..%d", where, z, nz), 2)
    end
  end
  if o.range ~= nil then
    local r = o.range
    if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number" or not (r[1] <= r[2])
       or r[1] ~= r[1] or math.abs(r[1]) == math.huge or math.abs(r[2]) == math.huge then
      error(where .. ": range must be {lo, hi} with finite numbers lo <= hi", 2)
    end
  end
  if o.labels ~= nil and o.colormap ~= "labels" then
    error(where .. ": option 'labels' needs colormap = 'labels'", 2)
  end
  local ok, res, err = pcall(cio.write_png, path, v, { z = z, colormap = o.colormap, range = o.range,
                                                        labels = o.labels, compression = o.compression })
  if not ok then error(where .. ": " .. tostring(res), 2) end
  if not res then error(where .. ": cannot write " .. tostring(err), 2) end
  return path
end

--- The built-in label palette: {[0] = {r, g, b}, ..., [255] = {r, g, b}}.
function M.default_palette()
  return cio.default_palette()
end

--- Write volumes for ParaView: tg.io.write_vtk(path, volume) or tg.io.write_vtk(path, {name = volume, ...}).
-- A VTK legacy binary STRUCTURED_POINTS file (point data: one value per voxel centre, spacing in metres from the
-- first field), fields written in name order; u8, f32 and f64 volumes of equal dims; names without whitespace.
-- Written to a temporary name and renamed when complete. Returns path; raises with the reason on failure.
function M.write_vtk(path, fields)
  local where = "tg.io.write_vtk"
  if type(path) ~= "string" or path == "" then error(where .. ": path must be a non-empty string", 2) end
  local list = {}
  if volume.is_volume(fields) then
    list[1] = { "values", fields }
  elseif type(fields) == "table" then
    local names = {}
    for k, v in pairs(fields) do
      if type(k) ~= "string" then error(where .. ": field names must be strings, got " .. type(k), 2) end
      if not volume.is_volume(v) then error(where .. ": field '" .. k .. "' is not a volume", 2) end
      names[#names + 1] = k
    end
    table.sort(names)
    for i, k in ipairs(names) do list[i] = { k, fields[k] } end
    if #list == 0 then error(where .. ": no fields to write", 2) end
  else
    error(where .. ": expected a volume or a table {name = volume, ...}, got " .. type(fields), 2)
  end
  local ok, err = cio.write_vtk(path, list) -- misuse raises with the engine's message; the outside world returns it
  if not ok then error(where .. ": " .. err, 2) end
  return path
end

--- Write a tortuga.Mesh as binary PLY or STL (see the header).
function M.write_mesh(path, mesh, opts)
  local where = "tg.io.write_mesh"
  if type(path) ~= "string" then error(where .. ": path must be a string", 2) end
  if getmetatable(mesh) == nil or tostring(mesh):sub(1, 13) ~= "tortuga.Mesh(" then
    error(string.format("%s: expected a tortuga.Mesh, got %s", where, type(mesh)), 2)
  end
  local o = util.options(opts, { format = util.NIL }, where)
  local ok, err = cio.write_mesh(path, mesh, o.format)
  if not ok then error(where .. ": " .. err, 2) end
  return path
end

return M
