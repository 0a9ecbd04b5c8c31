--- tortuga.display — values as Jupyter MIME bundles: what the kernel sends and `tortuga notebook run` puts on its
-- page (every bundle also carries text/plain).
--
--   a volume   the PNG of its middle z slice (label images with few values in the label colour map, others in
--              grey scaled to the slice's min..max) and its shape, type and spacing as text;
--   a table    an HTML table: a list of records as rows and columns, anything else as key | value rows (nested
--              tables nested, long lists cut);
--   any value whose metatable has __display(x) returning a bundle {["image/svg+xml"] = ..., ...};
--   display.image(path) (tg.kernel.image) wraps a PNG, JPEG, GIF or SVG file (figures written by plotting code).
--
--   display.bundle(x [, {z = slice}]) --> data, metadata    (a value that fails to show shows as text, with why)
--   display.value_bundles(table.pack(...)) --> {{data =, metadata =}, ...}: the outputs of a cell's values
--   display.limits   what is shown at most: text (bytes of text/plain per value), rows and columns (of an HTML
--                    table), labels (integer values for the label colour map), and, for the runners' streams,
--                    stream_chunk (bytes per stream message) and stream_total (bytes of output per cell)
--   display.html_escape(s), display.utf8_clean(s), display.clip(s, max), display.is_volume(x)
-- The applications' C half (app/lkernel.c) is linked into the tortuga host; it is required when first used, so
-- this module loads in stock lua5.4 too (there only what needs it fails, naming tortuga.app.core).
local function wire() return require "tortuga.app.core" end
local repl = require "tortuga.repl"

local M = {}

M.limits = {
  stream_chunk = 64 * 1024, -- bytes per stream message
  stream_total = 4 * 1024 * 1024, -- bytes of stream output sent per cell
  text = 256 * 1024, -- bytes of text/plain per value
  rows = 50, -- rows of an HTML table
  columns = 20, -- columns of an HTML table
  labels = 32, -- a slice with at most this many integer values is shown as labels
}

local function tg_lib() return require "tortuga" end

-- Replace bytes that are not UTF-8 with U+FFFD, so the frontend's JSON decoder accepts the text.
local function utf8_clean(s)
  if utf8.len(s) then return s end
  local out, i = {}, 1
  while i <= #s do
    local n, bad = utf8.len(s, i)
    if n then
      out[#out + 1] = s:sub(i)
      break
    end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = "\u{FFFD}"
    i = bad + 1
    while i <= #s and s:byte(i) >= 0x80 and s:byte(i) < 0xC0 do i = i + 1 end
  end
  return table.concat(out)
end

-- At most `max` bytes of s, cut at a character boundary, with a note of what was left out.
local function clip(s, max)
  if #s <= max then return s end
  local cut = max
  while cut > 0 and s:byte(cut + 1) and s:byte(cut + 1) >= 0x80 and s:byte(cut + 1) < 0xC0 do cut = cut - 1 end
  return s:sub(1, cut) .. string.format("\n... (%d more bytes not shown)", #s - cut)
end

-- One volume test for the library and the applications (no metamethod is called).
M.is_volume = require("tortuga.volume").is_volume
local is_volume = M.is_volume

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end
M.utf8_clean = utf8_clean
M.clip = clip

local function html_escape(s)
  return (s:gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end
M.html_escape = html_escape

local function number_text(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  return repl.format(x)
end

local function is_plain_table(x)
  if type(x) ~= "table" then return false end
  local mt = getmetatable(x)
  return not (type(mt) == "table" and (rawget(mt, "__tostring") or rawget(mt, "__display")))
end

local key_rank = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return (key_rank[ta] or 4) < (key_rank[tb] or 4) end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function sorted_keys(t)
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  table.sort(keys, key_less)
  return keys
end

local function seq_length(t)
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  return n
end

local table_html

local function cell_html(v, depth, seen)
  if is_plain_table(v) then
    if seen[v] then return "<i>&lt;cycle&gt;</i>" end
    if depth < 2 and next(v) ~= nil then return table_html(v, depth + 1, seen) end
    return "<code>" .. html_escape(repl.format(v)) .. "</code>"
  end
  if type(v) == "number" then return number_text(v) end
  if type(v) == "string" then return html_escape(v) end
  return html_escape(repl.format(v))
end

-- Columns of a list of records (tables with string keys only), or nil when t is not such a list.
local function record_columns(t, n)
  if n == 0 then return nil end
  local cols, seen = {}, {}
  for i = 1, n do
    local r = rawget(t, i)
    if not is_plain_table(r) or next(r) == nil or seq_length(r) > 0 then return nil end
    for k in next, r do
      if type(k) ~= "string" then return nil end
      if not seen[k] then
        seen[k] = true
        cols[#cols + 1] = k
      end
    end
  end
  local first = {}
  for k in next, rawget(t, 1) do first[k] = true end
  table.sort(cols, function(a, b) -- the first record's keys first, then the others, each sorted
    if first[a] ~= first[b] then return first[a] == true end
    return a < b
  end)
  return cols
end

local function more_row(n, span)
  return string.format('<tr><td colspan="%d"><i>... %d more</i></td></tr>', span, n)
end

table_html = function(t, depth, seen)
  seen[t] = true
  local L = M.limits
  local n, out = seq_length(t), {}
  local count = 0
  for _ in next, t do count = count + 1 end
  local cols = count == n and record_columns(t, n)
  if cols then
    local shown = math.min(#cols, L.columns)
    out[#out + 1] = "<table><thead><tr><th></th>"
    for c = 1, shown do out[#out + 1] = "<th>" .. html_escape(cols[c]) .. "</th>" end
    if #cols > shown then out[#out + 1] = string.format("<th>... %d more</th>", #cols - shown) end
    out[#out + 1] = "</tr></thead><tbody>"
    for i = 1, math.min(n, L.rows) do
      out[#out + 1] = "<tr><th>" .. i .. "</th>"
      for c = 1, shown do
        local v = t[i][cols[c]]
        out[#out + 1] = "<td>" .. (v == nil and "" or cell_html(v, depth, seen)) .. "</td>"
      end
      out[#out + 1] = "</tr>"
    end
    if n > L.rows then out[#out + 1] = more_row(n - L.rows, shown + 1) end
  else
    local keys = sorted_keys(t)
    out[#out + 1] = "<table><tbody>"
    for i = 1, math.min(#keys, L.rows) do
      local k = keys[i]
      local kt = type(k) == "string" and html_escape(k) or html_escape(repl.format(k))
      out[#out + 1] = "<tr><th>" .. kt .. "</th><td>" .. cell_html(t[k], depth, seen) .. "</td></tr>"
    end
    if #keys > L.rows then out[#out + 1] = more_row(#keys - L.rows, 2) end
  end
  out[#out + 1] = "</tbody></table>"
  seen[t] = nil
  return table.concat(out)
end

local function spacing_text(sp)
  local function unit(x)
    if x == 1 then return "1 (unknown unit)" end
    if x >= 1e-3 then return string.format("%.4g mm", x * 1e3) end
    if x >= 1e-6 then return string.format("%.4g µm", x * 1e6) end
    return string.format("%.4g nm", x * 1e9)
  end
  if sp[1] == sp[2] and sp[2] == sp[3] then return unit(sp[1]) end
  return unit(sp[1]) .. " x " .. unit(sp[2]) .. " x " .. unit(sp[3])
end

local INTEGER_TYPES = { u8 = true, u16 = true, i32 = true }

local function volume_bundle(v, opts)
  local tg = tg_lib()
  local nx, ny, nz = v:dims()
  local z = opts and opts.z or nz // 2 + 1
  local slice = v:slice(z)
  local png_opts, what = { z = z }, nil
  if INTEGER_TYPES[v.dtype] then
    local counts, labels = slice:counts(), {}
    for label in pairs(counts) do labels[#labels + 1] = label end
    table.sort(labels)
    if #labels <= M.limits.labels and labels[1] >= 0 and labels[#labels] <= 255 then
      png_opts.colormap = "labels"
      local parts = {}
      for i, label in ipairs(labels) do
        parts[i] = string.format("%d (%.1f %%)", label, 100 * counts[label] / (nx * ny))
      end
      what = "labels in this slice: " .. table.concat(parts, ", ")
    end
  end
  if not png_opts.colormap then
    local s = slice:stats()
    local lo, hi = s.min, s.max
    if not (lo < hi) then hi = lo + 1 end
    png_opts.colormap, png_opts.range = "grey", { lo, hi }
    what = string.format("grey from %s (black) to %s (white)", repl.format(lo), repl.format(hi))
  end
  local text = string.format("%s\n%d x %d x %d voxels (x, y, z), %s, spacing %s\nshown: slice z = %d of %d, %s",
    tostring(v), nx, ny, nz, v.dtype, spacing_text(v:spacing()), z, nz, what)
  local tmp = os.tmpname()
  local path = tmp .. ".png"
  local ok, err = pcall(tg.io.write_png, path, v, png_opts)
  local bytes = ok and read_file(path)
  os.remove(path)
  os.remove(tmp)
  if not bytes then
    return { ["text/plain"] = text .. "\n(no image: " .. tostring(err) .. ")" }
  end
  local meta = {}
  if nx < 256 then meta["image/png"] = { width = nx * math.max(1, 256 // nx) } end
  return { ["text/plain"] = text, ["image/png"] = wire().base64(bytes) }, meta
end

local bundle

--- The MIME bundle of a value: data, metadata. opts (volumes): {z = slice}. A value that fails to show
-- (a __display that raises) shows as text with the reason.
function M.bundle(x, opts)
  local ok, data, meta = pcall(bundle, x, opts)
  if ok then return data, meta end
  return { ["text/plain"] = utf8_clean(clip(repl.show(x), M.limits.text) .. "\n(cannot display it: " ..
                                       tostring(data) .. ")") }, {}
end

bundle = function(x, opts)
  local mt = getmetatable(x)
  local data, meta
  if type(mt) == "table" and type(rawget(mt, "__display")) == "function" then
    data, meta = rawget(mt, "__display")(x, opts)
    if type(data) ~= "table" then error("__display must return a table of MIME type -> data", 0) end
  elseif is_volume(x) then
    data, meta = volume_bundle(x, opts)
  elseif is_plain_table(x) and next(x) ~= nil then
    data = { ["text/html"] = table_html(x, 0, {}) }
  else
    data = {}
  end
  if data["text/plain"] == nil then data["text/plain"] = repl.show(x) end
  for k, v in pairs(data) do -- base64 images are ASCII; text (and SVG) must be UTF-8
    if type(v) == "string" and (k == "image/svg+xml" or not k:match("^image/")) then
      data[k] = utf8_clean(k == "text/plain" and clip(v, M.limits.text) or v)
    end
  end
  return data, meta or {}
end

local IMAGE_TYPES = { png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", svg = "image/svg+xml",
                      gif = "image/gif" }
local image_mt = {
  __name = "tortuga.kernel.image",
  __tostring = function(img) return "image: " .. img.path end,
  __display = function(img)
    local bytes, err = read_file(img.path)
    if not bytes then return { ["text/plain"] = "image: cannot read " .. tostring(err) } end
    local mime = img.mime
    local data = { ["text/plain"] = "image: " .. img.path }
    data[mime] = mime == "image/svg+xml" and bytes or wire().base64(bytes)
    return data
  end,
}

--- An image file (PNG, JPEG, GIF or SVG) to show: tg.display(tg.kernel.image("figure.svg")).
function M.image(path)
  if type(path) ~= "string" then error("tg.kernel.image: expected a file path, got " .. type(path), 2) end
  local ext = (path:match("%.(%w+)$") or ""):lower()
  local mime = IMAGE_TYPES[ext]
  if not mime then error("tg.kernel.image: '" .. path .. "' is not a .png, .jpg, .gif or .svg file", 2) end
  return setmetatable({ path = path, mime = mime }, image_mt)
end

local function is_rich(x)
  local mt = getmetatable(x)
  return is_volume(x) or (type(x) == "table" and next(x) ~= nil and is_plain_table(x)) or
         (type(mt) == "table" and type(rawget(mt, "__display")) == "function")
end

--- The outputs that show the values a cell returned (v = table.pack(...), v.n >= 1): a list of
-- {data =, metadata =} bundles, the last being the cell's result. Several values give one bundle each
-- when any of them is rich (a volume, a table, a __display value), else one line of text.
function M.value_bundles(v)
  local rich = false
  for i = 1, v.n do rich = rich or is_rich(v[i]) end
  local out = {}
  if v.n == 1 or rich then
    for i = 1, v.n do
      local data, meta = M.bundle(v[i])
      out[i] = { data = data, metadata = meta }
    end
  else
    out[1] = { data = { ["text/plain"] = utf8_clean(clip(repl.show(table.unpack(v, 1, v.n)), M.limits.text)) },
               metadata = {} }
  end
  return out
end

return M
