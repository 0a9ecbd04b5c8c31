--- tg.report — one self-contained HTML page with the slices, tables and plots of a study.
--
--   tg.report.html(path, {
--     title = "Composite cathodes",
--     samples = S,                       -- tg.analysis.samples (or a list of sample specs)
--     correlations = { c1, c2, m },      -- results of tg.analysis.correlate (pairs and/or a matrix)
--     figures = { {title = "...", png = "file.png" | svg = "file.svg", caption = "..."},
--                 {title = "...", gnuplot = "plot $data using 1:2 with lines", data = {{x, y}, ...}} },
--     variables = {"derived.coverage", ...},   -- columns of the sample table (default: derived + measured)
--     timings = { {stage = "generate", seconds = 1.2}, ... },
--     notes = "free text shown under the title",
--     gnuplot = "gnuplot" | false,       -- the gnuplot executable (default: found on PATH); false: no plots
--   })  --> path, info   (info.figures = number of plots made, info.gnuplot = true|false, info.warnings = {...})
--
-- Per sample, each part appears when the sample has the data for it (every part is optional):
--   slices            sample.images = { {title = "BSE", volume = v, z = 100, colormap = "grey" | "labels" | "viridis",
--                     range = {lo, hi}}, {title = "...", png = "path.png"} }
--   phase fractions   sample.results.fractions (tg.measure.fractions with phases = {...}) or the descriptors
--                     fractions.by_name.*
--   chord lengths     sample.results.chords = {cam = tg.measure.chords(...) (one axis or axis = "all"), ise = ...}
--                     or sample.results.cld = {cam = tg.measure.cld(...), ...}: count-weighted pdf vs length
--   interface areas   sample.results.surfaces (tg.measure.surfaces): per gram of CAM when computed, else per volume
--   tau vs experiment sample.results.tau = {ise = {walk = <random_walk result | number>, flux = <flux result | number>,
--                     experiment = number}, cam = {...}}; the experiment defaults to the measured kappa_ion_exp /
--                     kappa_el_exp, else the derived kappa_ion_eq3 / kappa_el_eq3
--   current density   sample.results.current = <volume> (e.g. tg.transport.flux{field = true}.current.z), or the
--                     current map inside results.tau.<phase>.flux
-- Across samples: the sample table (values with units; missing values marked) and, per correlation, a scatter
-- plot with the fit line and a table (r, p, rho, p, slope +- se, n, excluded samples); a matrix as a heat map.
--
-- tg.report.plot(path, {gnuplot = ..., data = ...}) draws one such figure into a PNG file (for notebooks).
--
-- Plots are drawn by gnuplot (Debian package gnuplot-nox, pngcairo terminal) from a temporary script; images are
-- embedded as base64 data URIs, so the page has no external references. Without gnuplot the page says so and
-- keeps the tables. The numbers behind every figure are embedded as JSON in
-- <script type="application/json" id="tortuga-report-data"> (figures[id] = {kind, series...}), so a reader or a
-- test can get them back. The page is written to a temporary name and renamed when complete.
local util = require "tortuga.util"
local json = require "tortuga.json"
local transport = require "tortuga.transport"

local M = {}
local NIL = util.NIL

-- ---------------------------------------------------------------- small helpers

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64T = {}
for i = 1, 64 do B64T[i - 1] = B64:sub(i, i) end

--- Base64 of a byte string (RFC 4648).
function M.base64(s)
  local out, n = {}, #s
  for i = 1, n - 2, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + b * 256 + c
    out[#out + 1] = B64T[v >> 18] .. B64T[(v >> 12) & 63] .. B64T[(v >> 6) & 63] .. B64T[v & 63]
  end
  local rest = n % 3
  if rest == 1 then
    local v = s:byte(n) * 65536
    out[#out + 1] = B64T[v >> 18] .. B64T[(v >> 12) & 63] .. "=="
  elseif rest == 2 then
    local a, b = s:byte(n - 1, n)
    local v = a * 65536 + b * 256
    out[#out + 1] = B64T[v >> 18] .. B64T[(v >> 12) & 63] .. B64T[(v >> 6) & 63] .. "="
  end
  return table.concat(out)
end

local function esc(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

local function is_finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

local function fmt(v, digits)
  if v == nil or v == json.null then return "–" end
  if type(v) ~= "number" then return esc(v) end
  if not is_finite(v) then return v ~= v and "NaN" or (v > 0 and "∞" or "−∞") end
  if math.type(v) == "integer" then return tostring(v) end
  local s = string.format("%." .. (digits or 4) .. "g", v)
  return (s:gsub("e%-0?(%d+)", "×10<sup>−%1</sup>"):gsub("e%+0?(%d+)", "×10<sup>%1</sup>"))
end

local function read_bytes(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local is_volume = require("tortuga.volume").is_volume

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function find_gnuplot(opt)
  if opt == false then return nil, "plots switched off (gnuplot = false)" end
  local exe = type(opt) == "string" and opt or "gnuplot"
  local p = io.popen("command -v " .. shell_quote(exe) .. " 2>/dev/null")
  local found = p and p:read("l")
  if p then p:close() end
  if found and found ~= "" then return found end
  return nil, string.format("gnuplot was not found (%s): install the Debian package gnuplot-nox to get the plots; " ..
    "their numbers are in the tables and in the embedded data", exe)
end

-- ---------------------------------------------------------------- the report state

local PHASE_COLOURS = { cam = "#ff7f0e", ise = "#1f77b4", pore = "#555555" }
local SERIES_COLOURS = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f" }

local Report = {}
Report.__index = Report

function Report:tmpfile(ext)
  self.n = self.n + 1
  local p = string.format("%s/f%03d.%s", self.dir, self.n, ext)
  self.files[#self.files + 1] = p
  return p
end

function Report:cleanup()
  for _, f in ipairs(self.files) do os.remove(f) end
  os.remove(self.dir)
end

function Report:warn(msg) self.warnings[#self.warnings + 1] = msg end

local function data_uri_img(bytes, mime, alt)
  return string.format('<img alt="%s" src="data:%s;base64,%s">', esc(alt or ""), mime, M.base64(bytes))
end

-- Write `rows` (lists of values) as a gnuplot data block file; strings are quoted.
local function data_file(path, blocks)
  local f = assert(io.open(path, "wb"))
  for bi, rows in ipairs(blocks) do
    if bi > 1 then f:write("\n\n") end
    for _, r in ipairs(rows) do
      local parts = {}
      for i, v in ipairs(r) do
        if type(v) == "number" then parts[i] = string.format("%.10g", v)
        else parts[i] = '"' .. tostring(v):gsub('"', "'") .. '"' end
      end
      f:write(table.concat(parts, " "), "\n")
    end
  end
  f:close()
end

-- Run gnuplot on `body` (a script using the data file name through the variable DATA); returns an <img> or a
-- notice. id names the figure in the embedded data; record = the numbers behind it.
function Report:plot(id, title, body, blocks, record, size)
  record.title = title
  self.data.figures[id] = record
  if not self.gnuplot then return nil end
  local dat, png, gp, err = self:tmpfile("dat"), self:tmpfile("png"), self:tmpfile("gp"), self:tmpfile("err")
  data_file(dat, blocks)
  local w, h = (size or {})[1] or 720, (size or {})[2] or 420
  local script = table.concat({
    string.format('set terminal pngcairo size %d,%d noenhanced font "DejaVu Sans,11" background "#ffffff"', w, h),
    string.format('set output "%s"', png),
    string.format('DATA = "%s"', dat),
    'set border lw 1.2 lc rgb "#444444"', "set tics nomirror", 'set grid lc rgb "#dddddd"',
    "set key top right box opaque",
    string.format('set title "%s"', tostring(title):gsub('"', "'")),
    body,
    "unset output",
  }, "\n")
  local f = assert(io.open(gp, "wb"))
  f:write(script, "\n")
  f:close()
  local ok = os.execute(string.format("%s %s 2> %s", shell_quote(self.gnuplot), shell_quote(gp), shell_quote(err)))
  local bytes = read_bytes(png)
  if not ok or not bytes or #bytes < 8 or bytes:sub(1, 8) ~= "\137PNG\r\n\26\n" then
    local msg = (read_bytes(err) or ""):gsub("%s+$", "")
    self:warn(string.format("figure '%s': gnuplot failed: %s", title, msg ~= "" and msg or "no image written"))
    return string.format('<div class="notice">The plot “%s” could not be drawn: %s</div>', esc(title),
      esc(msg ~= "" and msg:sub(1, 400) or "gnuplot wrote no image"))
  end
  self.figures = self.figures + 1
  return string.format('<figure id="%s">%s</figure>', esc(id), data_uri_img(bytes, "image/png", title))
end

function Report:image(title, v, o)
  local png = self:tmpfile("png")
  local ok, err = pcall(require("tortuga.io").write_png, png, v, { z = o.z, colormap = o.colormap or "grey", range = o.range })
  if not ok then
    self:warn(string.format("image '%s': %s", title, tostring(err)))
    return string.format('<div class="notice">%s: %s</div>', esc(title), esc(err))
  end
  return data_uri_img(read_bytes(png), "image/png", title)
end

-- ---------------------------------------------------------------- per-sample parts

local function label_name(names, label)
  return (names and names[label]) or tostring(label)
end

local function sample_phases(s)
  local ph = s.phases or { pore = 0, cam = 1, ise = 2 }
  local names = {}
  for name, label in pairs(ph) do names[label] = name end
  return ph, names
end

function Report:slices(s)
  local items = {}
  for i, im in ipairs(s.images or {}) do
    local title = im.title or ("image " .. i)
    local html
    if is_volume(im.volume or im[1]) then
      local v = im.volume or im[1]
      html = self:image(title, v, im)
    elseif type(im.png) == "string" then
      local bytes = read_bytes(im.png)
      html = bytes and data_uri_img(bytes, "image/png", title) or
        string.format('<div class="notice">%s: cannot read %s</div>', esc(title), esc(im.png))
    end
    if html then
      items[#items + 1] = string.format('<figure class="slice">%s<figcaption>%s</figcaption></figure>', html, esc(title))
    end
  end
  local cur = s.results.current
  if not is_volume(cur) then
    for _, t in pairs(type(s.results.tau) == "table" and s.results.tau or {}) do
      local fl = type(t) == "table" and t.flux
      if type(fl) == "table" and type(fl.current) == "table" then
        for _, a in ipairs { "z", "y", "x" } do
          if is_volume(fl.current[a]) then cur = fl.current[a] break end
        end
      end
      if is_volume(cur) then break end
    end
  end
  if is_volume(cur) then
    local _, _, nz = cur:dims()
    local st = cur:stats()
    local hi = st.mean + 3 * st.std
    local html = self:image("current density", cur, { colormap = "viridis", range = { 0, hi > 0 and hi or 1 }, z = nz // 2 + 1 })
    items[#items + 1] = string.format('<figure class="slice">%s<figcaption>current density |j| / mean (middle slice, ' ..
      '0 to mean + 3 sd)</figcaption></figure>', html)
  end
  if #items == 0 then return "" end
  return '<div class="slices">' .. table.concat(items) .. "</div>"
end

function Report:fractions(s, sid)
  local f = s.results.fractions
  local rows, vals = {}, {}
  local ph = sample_phases(s)
  if type(f) == "table" and type(f.by_name) == "table" then
    for name, v in pairs(f.by_name) do vals[#vals + 1] = { name, v } end
  elseif type(f) == "table" then
    local _, names = sample_phases(s)
    for k, v in pairs(f) do
      if math.type(k) == "integer" and type(v) == "number" then vals[#vals + 1] = { label_name(names, k), v } end
    end
  else
    for k, v in pairs(s.descriptors) do
      local name = k:match("^fractions%.by_name%.(.+)$")
      if name then vals[#vals + 1] = { name, v } end
    end
  end
  if #vals == 0 then return "" end
  table.sort(vals, function(a, b)
    local la, lb = ph[a[1]] or 1e9, ph[b[1]] or 1e9
    if la ~= lb then return la < lb end
    return a[1] < b[1]
  end)
  local rec = {}
  for _, v in ipairs(vals) do
    rows[#rows + 1] = string.format('<tr><td><span class="sw" style="background:%s"></span>%s</td><td>%s</td><td>%.2f %%</td></tr>',
      PHASE_COLOURS[v[1]] or "#999", esc(v[1]), ph[v[1]] and tostring(ph[v[1]]) or "", 100 * v[2])
    rec[v[1]] = v[2]
  end
  self.data.samples[s.name].fractions = rec
  return '<h3>Phase fractions</h3><table class="num"><tr><th>phase</th><th>label</th><th>volume fraction</th></tr>' ..
    table.concat(rows) .. "</table>"
end

-- Long because chords come in three shapes (one axis, every axis, or ready distributions) for each phase, and
-- each shape's series must land in the same figure and the same embedded data.
function Report:chords(s, sid)
  local tm = require "tortuga.measure"
  local src = s.results.cld or s.results.chords
  if type(src) ~= "table" then return "" end
  local series = {}
  local function add_series(ph, axis, d)
    if not (d and d.n and d.n > 0) then return end
    local xs, ys = {}, {}
    local at_edges = d.log == false and d.bin_edges and #d.bin_edges == #d.relfreq + 1 and d.bins_per_voxel
    for i = 1, #d.bin_centers do
      local x = at_edges and d.bin_edges[i] or (d.log and 10 ^ d.bin_centers[i] or d.bin_centers[i])
      if x > 0 then xs[#xs + 1], ys[#ys + 1] = x * 1e6, d.relfreq[i] end
    end
    series[#series + 1] = { phase = tostring(ph), axis = axis, length_um = xs, relfreq = ys, n = d.n, mean_um = d.mean * 1e6 }
  end
  -- one distribution per phase: the chords of the three axes pooled when their voxel lengths agree
  local function cld_of(ph, c)
    local ok, r = pcall(tm.cld, c)
    if not ok then
      self:warn(string.format("sample %s: chords of %s: %s", s.name, ph, tostring(r)))
      return nil
    end
    r.bins_per_voxel = true
    return r
  end
  for _, ph in ipairs(util.sorted_keys(src)) do
    local c = src[ph]
    if type(c) == "table" and c.pdf then
      add_series(ph, c.axis or "", c)
    elseif type(c) == "table" and c.axis == "all" then
      local vl, same, hist = nil, true, {}
      for _, a in ipairs { "x", "y", "z" } do
        local one = c[a]
        if type(one) ~= "table" or type(one.histogram) ~= "table" then same = false break end
        vl = vl or one.voxel_length
        if math.abs(one.voxel_length - vl) > 1e-9 * vl then same = false end
        for l, k in ipairs(one.histogram) do hist[l] = (hist[l] or 0) + k end
      end
      if same then
        for l = 1, #hist do hist[l] = hist[l] or 0 end
        add_series(ph, "x+y+z", cld_of(ph, { histogram = hist, voxel_length = vl, phase = c.phase }))
      else
        for _, a in ipairs { "x", "y", "z" } do
          if type(c[a]) == "table" then add_series(ph, a, cld_of(ph, c[a])) end
        end
      end
    elseif type(c) == "table" then
      add_series(ph, c.axis or "", cld_of(ph, c))
    end
  end
  if #series == 0 then return "" end
  local blocks, plots = {}, {}
  local dash = { x = 1, y = 2, z = 3 }
  for i, sr in ipairs(series) do
    local rows = {}
    for j = 1, #sr.length_um do rows[j] = { sr.length_um[j], sr.relfreq[j] } end
    blocks[i] = rows
    plots[i] = string.format('DATA index %d using 1:2 with linespoints lw 2 pt 7 ps 0.5 dt %d lc rgb "%s" title "%s%s (n = %d)"',
      i - 1, dash[sr.axis] or 1, PHASE_COLOURS[sr.phase] or SERIES_COLOURS[(i - 1) % 8 + 1], sr.phase:upper(),
      sr.axis ~= "" and (" " .. sr.axis) or "", sr.n)
  end
  local body = "set logscale x\nset xlabel 'chord length (µm)'\nset ylabel 'fraction of chords'\nset yrange [0:*]\n" ..
    "plot " .. table.concat(plots, ", \\\n  ")
  local img = self:plot(sid .. "-cld", "Chord length distributions — " .. s.name, body, blocks,
    { kind = "cld", sample = s.name, series = series })
  local rows = {}
  for _, sr in ipairs(series) do
    rows[#rows + 1] = string.format("<tr><td>%s</td><td>%s</td><td>%d</td><td>%s</td></tr>", esc(sr.phase:upper()),
      esc(sr.axis), sr.n, fmt(sr.mean_um, 3))
  end
  return "<h3>Chord length distributions</h3>" .. (img or "") ..
    '<table class="num"><tr><th>phase</th><th>axis</th><th>chords</th><th>mean length (µm)</th></tr>' ..
    table.concat(rows) .. "</table>"
end

function Report:interfaces(s, sid)
  local sf = s.results.surfaces
  if type(sf) ~= "table" or type(sf.interfaces) ~= "table" then return "" end
  local _, names0 = sample_phases(s)
  local names = sf.names or names0
  local pg = sf.specific and sf.specific.per_gram
  local pv = sf.specific and sf.specific.per_volume
  local src, unit, factor
  if pg and pg.interfaces then
    src, unit, factor = pg.interfaces, "m²/g of " .. tostring(pg.of or "CAM"):upper(), 1
  elseif pv and pv.interfaces then
    src, unit, factor = pv.interfaces, "µm²/µm³", 1e-6
  else
    src, unit, factor = sf.interfaces, "µm²", 1e12
  end
  local keys = util.sorted_keys(src)
  local bars = {}
  for _, k in ipairs(keys) do
    local a, b = k:match("^(%d+)%-(%d+)$")
    local label = a and (label_name(names, tonumber(a)):upper() .. "–" .. label_name(names, tonumber(b)):upper()) or k
    if type(src[k]) == "number" then bars[#bars + 1] = { label, src[k] * factor, k } end
  end
  if #bars == 0 then return "" end
  local rows, rec = {}, { kind = "interfaces", sample = s.name, unit = unit, labels = {}, values = {}, keys = {} }
  for i, b in ipairs(bars) do
    rows[i] = { i - 1, b[2], b[1] }
    rec.labels[i], rec.values[i], rec.keys[i] = b[1], b[2], b[3]
  end
  local body = string.format("set style fill solid 0.85 border -1\nset boxwidth 0.6\nunset key\nset yrange [0:*]\n" ..
    "set ylabel '%s'\nset xrange [-0.6:%g]\nplot DATA using 1:2:xtic(3) with boxes lc rgb '#4c72b0', " ..
    "'' using 1:2:(sprintf('%%.3g', $2)) with labels offset 0,0.8 notitle", unit, #bars - 0.4)
  local img = self:plot(sid .. "-interfaces", "Interface areas — " .. s.name, body, { rows }, rec, { 560, 380 })
  local trs = {}
  for _, b in ipairs(bars) do trs[#trs + 1] = string.format("<tr><td>%s</td><td>%s</td></tr>", esc(b[1]), fmt(b[2])) end
  return "<h3>Interface areas</h3>" .. (img or "") ..
    string.format('<table class="num"><tr><th>interface</th><th>%s</th></tr>%s</table>', esc(unit), table.concat(trs))
end

local function tau_values(r)
  if type(r) == "number" then return { mean = r } end
  if type(r) ~= "table" then return nil end
  local t = r.tau or r
  if type(t) == "number" then return { mean = t } end
  local out, sum, n = {}, 0, 0
  for _, a in ipairs { "x", "y", "z" } do
    if is_finite(t[a]) then out[a] = t[a]; sum = sum + t[a]; n = n + 1 end
  end
  if is_finite(t.mean) then out.mean = t.mean elseif n > 0 then out.mean = sum / n end
  return out.mean and out or nil
end

function Report:tau(s, sid)
  local t = s.results.tau
  if type(t) ~= "table" then return "" end
  local m, d = s.measured or {}, s.derived or {}
  local exp_default = {
    ise = m.kappa_ion_exp or d.kappa_ion_eq3, cam = m.kappa_el_exp or d.kappa_el_eq3,
  }
  local phases = util.sorted_keys(t)
  local rows, trs, rec = {}, {}, { kind = "tau", sample = s.name, phases = {}, walk = {}, flux = {}, experiment = {} }
  for i, ph in ipairs(phases) do
    local e = t[ph]
    local w, f = tau_values(e.walk), tau_values(e.flux)
    local x = e.experiment or exp_default[ph]
    rows[#rows + 1] = { tostring(ph):upper(), w and w.mean or "NaN", f and f.mean or "NaN", is_finite(x) and x or "NaN" }
    rec.phases[i], rec.walk[i], rec.flux[i], rec.experiment[i] = tostring(ph), w and w.mean or json.null,
      f and f.mean or json.null, is_finite(x) and x or json.null
    -- r: the result the values come from; a tau that did not converge or cannot be trusted says so beside it
    local function axes(v, r)
      if not v then return "–" end
      local p = {}
      for _, a in ipairs { "x", "y", "z" } do
        if v[a] then
          local why = transport.doubt(r, a)
          p[#p + 1] = a .. " " .. fmt(v[a], 3) .. (why and (' <strong class="warn">(' .. why .. ")</strong>") or "")
        end
      end
      local why = transport.doubt(r, "mean")
      return (#p > 0 and table.concat(p, ", ") .. "; " or "") .. "mean " .. fmt(v.mean, 3) ..
        (why and (' <strong class="warn">(' .. why .. ")</strong>") or "")
    end
    trs[#trs + 1] = string.format("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>", esc(tostring(ph):upper()),
      axes(w, e.walk), axes(f, e.flux), fmt(x, 3))
  end
  -- rows: category, walk, flux, experiment (gnuplot treats "NaN" as missing)
  local data = {}
  for i, r in ipairs(rows) do data[i] = { r[2], r[3], r[4], r[1] } end
  local top = 0
  for _, r in ipairs(data) do
    for k = 1, 3 do if is_finite(r[k]) then top = math.max(top, r[k]) end end
  end
  local body = "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 border -1\n" ..
    string.format("set boxwidth 0.9\nset yrange [0:%.6g]\n", top > 0 and top * 1.3 or 1) ..
    "set ylabel 'tortuosity factor'\nset key inside top center horizontal maxrows 1 samplen 1.5 noopaque nobox\n" ..
    "plot DATA using 1:xtic(4) title 'random walk' lc rgb '#4c72b0', '' using 2 title 'flux' lc rgb '#55a868', " ..
    "'' using 3 title 'experiment' lc rgb '#c44e52'"
  local img = self:plot(sid .. "-tau", "Tortuosity factors — " .. s.name, body, { data }, rec, { 600, 380 })
  return "<h3>Tortuosity: simulations against experiment</h3>" .. (img or "") ..
    '<table class="num"><tr><th>phase</th><th>random walk</th><th>flux</th><th>experiment (Eq. 3)</th></tr>' ..
    table.concat(trs) .. "</table>"
end

-- ---------------------------------------------------------------- across samples

local function var_label(v, S)
  local u = S and S.unit and S:unit(v)
  return tostring(v) .. ((u and u ~= "1") and (" (" .. u .. ")") or "")
end

function Report:sample_table(S, variables)
  if not S or not S.list or #S.list == 0 then return "" end
  local vars = variables
  if not vars then
    vars = {}
    for _, q in ipairs(S:variables()) do
      if q:match("^derived%.") or q:match("^measured%.") then vars[#vars + 1] = q end
    end
  end
  if #vars == 0 then return "" end
  local head = { "<tr><th>variable</th>" }
  for _, s in ipairs(S.list) do head[#head + 1] = "<th>" .. esc(s.name) .. "</th>" end
  head[#head + 1] = "</tr>"
  local rows = {}
  local rec = {}
  for _, v in ipairs(vars) do
    local r = { "<tr><td>" .. esc(var_label(v, S)) .. "</td>" }
    rec[v] = {}
    for _, s in ipairs(S.list) do
      local ok, x = pcall(S.value, S, s, v)
      local short = v:match("^%a+%.(.+)$") or v
      if ok and x ~= nil then
        r[#r + 1] = "<td>" .. fmt(x) .. "</td>"
        rec[v][s.name] = x
      elseif s.missing[short] then
        r[#r + 1] = '<td class="missing" title="missing measurement">missing</td>'
      else
        r[#r + 1] = "<td>–</td>"
      end
    end
    rows[#rows + 1] = table.concat(r) .. "</tr>"
  end
  self.data.table = rec
  return '<h2 id="table">Samples</h2><p class="hint">Measured values in SI units (S/m, m) or as the paper gives them ' ..
    '(m²/g, mAh/g); “missing” = not measured for this sample, left out of the correlations that need it.</p>' ..
    '<div class="wide"><table class="num">' .. table.concat(head) .. table.concat(rows) .. "</table></div>"
end

-- Display units for plots: lengths in µm, conductivities in mS/cm (the data stay SI in the embedded JSON).
local function display(unit, values)
  if unit == "m" then
    local mx = 0
    for _, v in ipairs(values) do mx = math.max(mx, math.abs(v)) end
    if mx < 1e-3 then return 1e6, "µm" end
  elseif unit == "S/m" then
    return 10, "mS/cm"
  end
  return 1, unit
end

-- A "nice" tick step giving about n intervals over [lo, hi].
local function tick_step(lo, hi, n)
  local span = hi - lo
  if not (span > 0) then return nil end
  local raw = span / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  for _, m in ipairs { 1, 2, 2.5, 5, 10 } do
    if m * mag >= raw then return m * mag end
  end
  return 10 * mag
end

local function axis_name(v, unit)
  return tostring(v) .. ((unit and unit ~= "1") and (" (" .. unit .. ")") or "")
end

function Report:correlation(c, i, S)
  local id = "corr-" .. i
  local d = c.data or {}
  local xs, ys, names = d.x or {}, d.y or {}, d.samples or c.samples or {}
  local p, sp, f = c.pearson or {}, c.spearman or {}, c.fit or {}
  local title = string.format("%s vs %s", tostring(c.y), tostring(c.x))
  local ux = (c.units or {}).x or (S and S.unit and type(c.x) == "string" and S:unit(c.x)) or nil
  local uy = (c.units or {}).y or (S and S.unit and type(c.y) == "string" and S:unit(c.y)) or nil
  local fx, dux = display(ux, xs)
  local fy, duy = display(uy, ys)
  local rows, xmin, xmax = {}, math.huge, -math.huge
  for k = 1, #xs do
    rows[k] = { xs[k] * fx, ys[k] * fy, names[k] or "" }
    xmin, xmax = math.min(xmin, xs[k] * fx), math.max(xmax, xs[k] * fx)
  end
  local rec = { kind = "correlation", x = c.x, y = c.y, points = { x = xs, y = ys, samples = names }, r = p.r, p = p.p,
                rho = sp.rho, p_spearman = sp.p, slope = f.slope, intercept = f.intercept, se = f.se, n = c.n,
                units = { x = ux, y = uy }, display = { x = dux, y = duy, x_factor = fx, y_factor = fy } }
  local img
  local stats = {}
  if is_finite(p.r) then
    stats[#stats + 1] = string.format("Pearson r = %.3f, p = %.3g", p.r, p.p)
    stats[#stats + 1] = string.format("Spearman ρ = %.3f, p = %.3g", sp.rho, sp.p)
  end
  if is_finite(f.slope) then
    local unit = (duy and duy ~= "1" and duy or "") .. ((dux and dux ~= "1") and (" per " .. dux) or "")
    stats[#stats + 1] = string.format("fit (red): slope %.3g ± %.2g%s, R² = %s", f.slope * fy / fx, f.se * fy / fx,
      unit ~= "" and (" " .. unit) or "", f.r2 and string.format("%.3f", f.r2) or "–")
  end
  stats[#stats + 1] = "n = " .. tostring(c.n)
  if #xs > 0 then
    local body = string.format("unset key\nset xlabel '%s'\nset ylabel '%s'\nset offsets graph 0.1, graph 0.1, graph 0.15, graph 0.1\n",
      axis_name(c.x, dux):gsub("'", ""), axis_name(c.y, duy):gsub("'", ""))
    local step = tick_step(xmin, xmax, 4)
    if step then body = body .. string.format("set xtics %.10g\nset format x '%%g'\n", step) end
    local plot = "plot DATA using 1:2 with points pt 7 ps 1.8 lc rgb '#4c72b0', " ..
      "'' using 1:2:3 with labels offset 0,1.2 font ',10'"
    if is_finite(f.slope) then
      body = body .. string.format("f(x) = %.17g + %.17g * x\n", f.intercept * fy, f.slope * fy / fx)
      plot = plot .. ", f(x) with lines lw 2 lc rgb '#c44e52'"
    end
    img = self:plot(id, title, body .. plot, { rows }, rec, { 600, 400 })
  else
    self.data.figures[id] = rec
  end
  local notes = ""
  if c.notes and #c.notes > 0 then
    local li = {}
    for _, n in ipairs(c.notes) do li[#li + 1] = "<li>" .. esc(n) .. "</li>" end
    notes = '<ul class="notes">' .. table.concat(li) .. "</ul>"
  end
  return string.format('<div class="corr"><h3>%s</h3>%s<p class="stats">%s</p>%s</div>', esc(title), img or "",
    esc(table.concat(stats, " · ")), notes)
end

function Report:correlation_table(list)
  local rows = {}
  for _, c in ipairs(list) do
    local p, sp, f = c.pearson or {}, c.spearman or {}, c.fit or {}
    rows[#rows + 1] = string.format("<tr><td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>" ..
      "<td>%s</td><td>%s</td><td>%s</td></tr>", esc(c.x), esc(c.y), c.n or 0, fmt(p.r, 3), fmt(p.p, 3), fmt(sp.rho, 3),
      fmt(sp.p, 3), f.slope and (fmt(f.slope, 3) .. " ± " .. fmt(f.se, 2)) or "–", fmt(f.r2, 3),
      esc(table.concat(c.excluded or {}, ", ")))
  end
  return '<div class="wide"><table class="num corrtab"><tr><th>x</th><th>y</th><th>n</th><th>Pearson r</th><th>p</th>' ..
    "<th>Spearman ρ</th><th>p</th><th>slope ± se</th><th>R²</th><th>excluded</th></tr>" .. table.concat(rows) ..
    '</table></div><p class="hint">p: exact permutation test over all N! pairings for N ≤ 8, else the t-distribution.</p>'
end

function Report:matrix(m, i)
  local id = "matrix-" .. i
  local same = #m.x == #m.y
  for k = 1, #m.x do same = same and m.x[k] == m.y[k] end
  local function xl(a) return same and tostring(a) or ("x" .. a) end
  local function yl(b) return same and tostring(b) or ("y" .. b) end
  local rows, trs = {}, {}
  for a, xn in ipairs(m.x) do
    local tr = { string.format("<tr><th>%s: %s</th>", xl(a), esc(xn)) }
    for b, _ in ipairs(m.y) do
      local r, pv = m.pearson.r[a][b], m.pearson.p[a][b]
      rows[#rows + 1] = { b - 1, a - 1, is_finite(r) and r or "NaN" }
      tr[#tr + 1] = string.format('<td title="p = %s">%s</td>', is_finite(pv) and string.format("%.3g", pv) or "–",
        fmt(r ~= json.null and r or nil, 3))
    end
    trs[#trs + 1] = table.concat(tr) .. "</tr>"
  end
  local head = { "<tr><th>Pearson r</th>" }
  for b, yn in ipairs(m.y) do head[#head + 1] = string.format('<th title="%s">%s</th>', esc(yn), yl(b)) end
  local xt, yt = {}, {}
  for b in ipairs(m.y) do xt[b] = string.format('"%s" %d', yl(b), b - 1) end
  for a in ipairs(m.x) do yt[a] = string.format('"%s" %d', xl(a), a - 1) end
  local body = string.format("set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')\nset cbrange [-1:1]\nunset key\n" ..
    "set xtics (%s)\nset ytics (%s)\nunset grid\nset yrange [%g:%g]\nset xrange [-0.5:%g]\nset size ratio -1\n" ..
    "plot DATA using 1:2:3 with image notitle, '' using 1:2:(sprintf('%%.2f', $3)) with labels notitle",
    table.concat(xt, ", "), table.concat(yt, ", "), #m.x - 0.5, -0.5, #m.y - 0.5)
  local n = math.max(#m.x, #m.y)
  local img = self:plot(id, "Correlation matrix (Pearson r)", body, { rows },
    { kind = "matrix", x = m.x, y = m.y, r = m.pearson.r, p = m.pearson.p, rho = m.spearman.rho },
    { math.max(480, 160 + 60 * n), math.max(400, 110 + 60 * n) })
  return '<div class="corr"><h3>Correlation matrix</h3>' .. (img or "") ..
    '<div class="wide"><table class="num">' .. table.concat(head) .. "</tr>" .. table.concat(trs) .. "</table></div>" ..
    '<p class="hint">Hover a value for its p-value (exact permutation test for N ≤ 8).</p></div>'
end

function Report:extra_figure(fig, i)
  local title = fig.title or ("figure " .. i)
  local html
  if type(fig.png) == "string" or type(fig.svg) == "string" then
    local path = fig.png or fig.svg
    local bytes = read_bytes(path)
    if bytes then
      html = data_uri_img(bytes, fig.png and "image/png" or "image/svg+xml", title)
    else
      html = string.format('<div class="notice">%s: cannot read %s</div>', esc(title), esc(path))
      self:warn(title .. ": cannot read " .. path)
    end
  elseif type(fig.gnuplot) == "string" then
    local blocks = fig.data and (type(fig.data[1]) == "table" and type(fig.data[1][1]) == "table" and fig.data or { fig.data }) or { {} }
    html = self:plot("figure-" .. i, title, fig.gnuplot, blocks, { kind = "custom", data = fig.data or {} }, fig.size)
  else
    error(string.format("tg.report.html: figures[%d] needs png = path, svg = path or gnuplot = script", i), 3)
  end
  return string.format('<div class="corr"><h3>%s</h3>%s%s</div>', esc(title), html or "",
    fig.caption and ("<p>" .. esc(fig.caption) .. "</p>") or "")
end

-- ---------------------------------------------------------------- the page

local CSS = [[
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:0;background:#f4f5f7;color:#222;line-height:1.45}
header{background:#1d3557;color:#fff;padding:22px 36px}
header h1{margin:0;font-size:26px;font-weight:600}
header p{margin:6px 0 0;color:#cfd8e3;font-size:13px}
main{max-width:1280px;margin:0 auto;padding:18px 28px 40px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:16px 22px;margin:18px 0}
h2{font-size:20px;margin:0 0 10px;color:#1d3557;border-bottom:2px solid #e3e7ec;padding-bottom:6px}
h3{font-size:15px;margin:16px 0 8px;color:#333}
nav{font-size:13px} nav a{color:#1d3557;margin-right:14px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 10px}
th,td{border:1px solid #d6dbe1;padding:4px 10px}
th{background:#eef1f5;text-align:left;font-weight:600}
table.num td{text-align:right} table.num td:first-child{text-align:left}
td.missing{color:#b00020;font-style:italic}
.sw{display:inline-block;width:11px;height:11px;margin-right:6px;border:1px solid #888;vertical-align:-1px}
.slices{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.fractions{margin-left:12px} .fractions h3{margin-top:0}
figure{margin:6px 0} figure.slice{margin:0} figure.slice img{width:230px;height:auto;image-rendering:pixelated;border:1px solid #ccc}
figcaption{font-size:12px;color:#555;text-align:center}
img{max-width:100%}
.parts{display:flex;flex-wrap:wrap;gap:8px 30px}
.parts>div{flex:1 1 520px;min-width:0}
.corrs{display:flex;flex-wrap:wrap;gap:10px 24px}
.corr{flex:1 1 560px}
.notice{background:#fff4e5;border:1px solid #f0b35a;color:#7a4a00;padding:8px 12px;border-radius:4px;margin:8px 0;font-size:13px}
.hint{font-size:12px;color:#666}
p.stats{font-size:13px;color:#333;margin:2px 0 6px}
table.corrtab td:nth-child(2){text-align:left}
.wide{overflow-x:auto}
ul.notes{font-size:12px;color:#7a4a00;margin:4px 0}
footer{font-size:12px;color:#777;text-align:center;padding:10px}
]]

local function write_atomic(path, text)
  local tmp = string.format("%s.%d.tmp", path, math.random(0, 0x7fffffff))
  local f, err = io.open(tmp, "wb")
  if not f then error("tg.report.html: " .. tostring(err), 3) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    error(string.format("tg.report.html: %s: %s", path, tostring(werr or cerr)), 3)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    error("tg.report.html: " .. tostring(rerr), 3)
  end
end

local function make_dir()
  local name = os.tmpname()
  os.remove(name)
  local dir = name .. "-tgreport"
  if not os.execute("mkdir -p " .. shell_quote(dir)) then error("tg.report.html: cannot create a temporary folder " .. dir, 3) end
  return dir
end

--- One gnuplot figure as a PNG file, outside a report (for notebooks and scripts):
-- tg.report.plot(path, {gnuplot = "plot DATA using 1:2 with lines", data = {{x, y}, ...} | {block1, block2, ...},
--                       title = "...", size = {720, 420}, gnuplot_exe = nil})  --> path | nil, reason
-- The script reads the data file through the variable DATA (blocks are gnuplot's `index 0, 1, ...`). The PNG is
-- written to a temporary name and renamed; without gnuplot the reason says how to get it.
function M.plot(path, opts)
  local where = "tg.report.plot"
  util.check(type(path) == "string" and path ~= "", where, "expected the output path (.png)")
  local o = util.options(opts, { gnuplot = NIL, data = NIL, title = "", size = NIL, gnuplot_exe = NIL }, where)
  util.check(type(o.gnuplot) == "string", where, "option 'gnuplot' (the plot commands, reading DATA) is required")
  local gp, msg = find_gnuplot(o.gnuplot_exe)
  if not gp then return nil, msg end
  local blocks = o.data and (type(o.data[1]) == "table" and type(o.data[1][1]) == "table" and o.data or { o.data }) or { {} }
  local R = setmetatable({ dir = make_dir(), files = {}, n = 0, gnuplot = gp, figures = 0, warnings = {},
                           data = { figures = {} } }, Report)
  local ok, html = pcall(R.plot, R, "plot", o.title, o.gnuplot, blocks, {}, o.size)
  local png = R.files[2] -- the plot's files: data, png, script, stderr
  local done, err
  if ok and R.figures == 1 then
    local bytes = read_bytes(png)
    local tmp = path .. ".tmp"
    local f = io.open(tmp, "wb")
    if f and f:write(bytes) and f:close() and os.rename(tmp, path) then done = path
    else os.remove(tmp); err = path .. ": cannot write" end
  else
    err = ok and (R.warnings[1] or "gnuplot wrote no image") or tostring(html)
  end
  R:cleanup()
  if done then return done end
  return nil, err
end

--- Write the report (see the header); returns path, info. Long because the page is written top to bottom in the
-- order a reader sees it (header, samples, correlations, figures, timings, the embedded data), inside one pcall that
-- removes the temporary figures whatever happens.
function M.html(path, opts)
  local where = "tg.report.html"
  util.check(type(path) == "string" and path ~= "", where, "expected the output path (.html)")
  local o = util.options(opts, { title = "tortuga report", samples = NIL, correlations = NIL, figures = NIL, variables = NIL,
                                 timings = NIL, notes = NIL, gnuplot = NIL }, where)
  local analysis = require "tortuga.analysis"
  local S = o.samples
  if S ~= nil and not analysis.is_samples(S) then
    util.check(type(S) == "table", where, "samples must be a sample set (tg.analysis.samples) or a list of samples")
    local ok, r = pcall(analysis.samples, S)
    if not ok then error(where .. ": samples: " .. tostring(r):gsub("^.-:%d+: ", ""), 2) end
    S = r
  end
  local corrs = o.correlations or {}
  if corrs.pearson or corrs.kind == "matrix" then corrs = { corrs } end
  util.check(type(corrs) == "table", where, "correlations must be a list of tg.analysis.correlate results")
  local figs = o.figures or {}
  util.check(type(figs) == "table", where, "figures must be a list of {title =, png = | svg = | gnuplot = }")
  local gp, gp_msg = find_gnuplot(o.gnuplot)
  local R = setmetatable({ dir = make_dir(), files = {}, n = 0, gnuplot = gp, figures = 0, warnings = {},
                           data = { figures = {}, samples = {}, title = o.title } }, Report)
  local ok, page = pcall(function()
    local out = {}
    local function w(s) out[#out + 1] = s end
    w("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    w("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    w("<title>" .. esc(o.title) .. "</title><style>" .. CSS .. "</style></head><body>")
    w("<header><h1>" .. esc(o.title) .. "</h1><p>tortuga " .. esc(require("tortuga.core").version) .. " · " ..
      os.date("!%Y-%m-%d %H:%M UTC") .. (S and (" · " .. #S.list .. " samples") or "") .. "</p></header><main>")
    if not gp then w('<div class="notice" id="no-gnuplot">' .. esc(gp_msg) .. "</div>") end
    if o.notes then w("<section><p>" .. esc(o.notes) .. "</p></section>") end
    local nav = {}
    if S then
      for i, s in ipairs(S.list) do nav[#nav + 1] = string.format('<a href="#sample-%d">%s</a>', i, esc(s.name)) end
    end
    if S then nav[#nav + 1] = '<a href="#table">sample table</a>' end
    if #corrs > 0 then nav[#nav + 1] = '<a href="#correlations">correlations</a>' end
    if #nav > 0 then w("<nav>" .. table.concat(nav) .. "</nav>") end
    for i, s in ipairs(S and S.list or {}) do
      local sid = "sample-" .. i
      R.data.samples[s.name] = { measured = s.measured, derived = s.derived }
      local parts = {}
      local function add(html) if html and html ~= "" then parts[#parts + 1] = "<div>" .. html .. "</div>" end end
      local slices = R:slices(s)
      local fr = R:fractions(s, sid)
      if slices ~= "" and fr ~= "" then
        slices = slices:gsub("</div>$", '<div class="fractions">' .. fr:gsub("%%", "%%%%") .. "</div></div>")
      else
        add(fr)
      end
      add(R:interfaces(s, sid))
      add(R:chords(s, sid))
      add(R:tau(s, sid))
      w(string.format('<section class="sample" id="%s"><h2>Sample %s</h2>', sid, esc(s.name)))
      w(slices)
      if #parts > 0 then w('<div class="parts">' .. table.concat(parts) .. "</div>") end
      if slices == "" and #parts == 0 then w('<p class="hint">No microstructure results for this sample (measured values only).</p>') end
      w("</section>")
    end
    if S then w("<section>" .. R:sample_table(S, o.variables) .. "</section>") end
    if #corrs > 0 then
      w('<section id="correlations"><h2>Correlations</h2>')
      local pairs_list = {}
      local html = {}
      for i, c in ipairs(corrs) do
        if c.kind == "matrix" then
          html[#html + 1] = R:matrix(c, i)
        else
          util.check(type(c) == "table" and c.pearson, where, "correlations[%d] is not a tg.analysis.correlate result", i)
          pairs_list[#pairs_list + 1] = c
          html[#html + 1] = R:correlation(c, i, S)
        end
      end
      if #pairs_list > 0 then w(R:correlation_table(pairs_list)) end
      w('<div class="corrs">' .. table.concat(html) .. "</div></section>")
    end
    if #figs > 0 then
      w("<section><h2>Figures</h2><div class=\"corrs\">")
      for i, fig in ipairs(figs) do w(R:extra_figure(fig, i)) end
      w("</div></section>")
    end
    if o.timings then
      local trs, total = {}, 0
      for _, t in ipairs(o.timings) do
        local stage, sec = t.stage or t[1], t.seconds or t[2]
        total = total + (is_finite(sec) and sec or 0)
        trs[#trs + 1] = string.format("<tr><td>%s</td><td>%s</td></tr>", esc(stage), fmt(sec, 3))
      end
      trs[#trs + 1] = string.format("<tr><th>total</th><th>%s</th></tr>", fmt(total, 3))
      w('<section><h2>Time of each stage</h2><table class="num"><tr><th>stage</th><th>seconds (wall)</th></tr>' ..
        table.concat(trs) .. "</table></section>")
      R.data.timings = o.timings
    end
    if #R.warnings > 0 then
      local li = {}
      for _, m in ipairs(R.warnings) do li[#li + 1] = "<li>" .. esc(m) .. "</li>" end
      w('<section><h2>Warnings</h2><ul class="notes">' .. table.concat(li) .. "</ul></section>")
    end
    w("</main><footer>Made by tortuga; figures drawn with gnuplot. Every image is embedded in this page.</footer>")
    local data = json.encode(R.data, { indent = 0 }):gsub("</", "<\\/")
    w('<script type="application/json" id="tortuga-report-data">' .. data .. "</script>")
    w("</body></html>\n")
    return table.concat(out, "\n")
  end)
  R:cleanup()
  if not ok then error(page, 2) end
  write_atomic(path, page)
  return path, { figures = R.figures, gnuplot = gp ~= nil, warnings = R.warnings }
end

return M
