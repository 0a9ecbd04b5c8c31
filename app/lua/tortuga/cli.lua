--- tortuga.cli — the `tortuga COMMAND ...` subcommands, for the common jobs without writing a script.
--
--   tortuga describe LABELS.tif --phases pore=0,cam=1,ise=2 [--spacing 100nm] [--json out.json] [--threads N]
--                   [--memory 2GB] [--crop x1:x2,y1:y2,z1:z2]
--                   [--all [--density cam=4.7e3,ise=1.9e3] [--per-gram-of cam] [--axis z]]
--                   [--full [--density ...] [--collector first|last] [--reach 2um] [--walkers N] [--steps N]]
--   tortuga demo [--size 100] [--seed 1] [--json out.json] [--save labels.tif] [--threads N]
--
--   tortuga kernel ... (tortuga.kernel), tortuga notebook ... (tortuga.notebook)
--
-- The host calls cli.main(name, {args...}) and exits with its result: 0 success, 1 failure (missing or
-- unreadable input, unwritable output), 2 usage error (unknown option, malformed value). Messages go to
-- stderr as "tortuga describe: message". cli.commands() lists {name=, summary=} for `tortuga --help`.
--
-- One describe: `tortuga describe` and `tortuga demo` compute nothing themselves. They call tg.describe with the
-- parts each mode asks for and print what it returns as tables; --json writes that same result (d:write_json).
--
-- A TIFF stack larger than the memory budget (tg.memory(), half the machine's memory; --memory sets it) is described
-- streamed, slab by slab (tg.describe on a tortuga.Stack); --memory or --crop always streams.
--
-- From Lua: cli.describe(labels or stack, {phases=, spacing=, input=, mode = "fractions" | "all" | "full", density=,
-- per_gram_of=, axis=, walk=, active=, log=, crop=, memory = bytes}) --> d (the tg.describe result), warnings; cli.format(d [, how]) is
-- the printed text, for any tg.describe result; cli.phases_of(counts, named) completes the phase names.
-- main's optional third argument {stdout=, stderr=} (objects with :write) redirects the output, for tests and
-- embedding.
local util = require "tortuga.util"
local transport = require "tortuga.transport"

local M = {}

local PROG = "tortuga"

-- ---------------------------------------------------------------- errors and output

-- A failure the user can act on: code 1 (the outside world) or 2 (usage).
local FAILURE_MT = { __tostring = function(e) return e.msg end }
local function fail(code, fmt, ...)
  error(setmetatable({ tortuga_cli = true, code = code, msg = string.format(fmt, ...) }, FAILURE_MT), 0)
end

local function usage_error(fmt, ...) fail(2, fmt, ...) end

-- "file.lua:12: message" -> "message" (errors raised by library functions with a position prefix)
local function clean(msg)
  msg = tostring(msg)
  return (msg:gsub("^[^\n:]*%.lua:%d+: ", ""))
end

local function tg_lib()
  return require "tortuga"
end

-- ---------------------------------------------------------------- argument parsing

--- Parse args against flags = {name = "value" | "flag"}; returns options and positionals.
-- Accepts --name value, --name=value and -h for --help; "--" ends the options.
local function parse_args(args, flags)
  local opts, pos = {}, {}
  local names = {}
  for k in pairs(flags) do names[#names + 1] = k end
  table.sort(names)
  local i, only_pos = 1, false
  while i <= #args do
    local a = args[i]
    if only_pos or a == "-" or a:sub(1, 1) ~= "-" then
      pos[#pos + 1] = a
    elseif a == "--" then
      only_pos = true
    elseif a == "-h" then
      opts.help = true
    else
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      if not name then name = a:match("^%-%-(.+)$") end
      if not name or not flags[name] then
        local shown = name or a
        local hint = util.suggest(shown, names)
        usage_error("unknown option '%s'%s", a:match("^[^=]*"),
          hint and string.format(" (did you mean '--%s'?)", hint) or
          string.format(" (options: --%s)", table.concat(names, ", --")))
      end
      if flags[name] == "flag" then
        if value then usage_error("option '--%s' takes no value", name) end
        opts[name] = true
      else
        if not value then
          value = args[i + 1]
          if value == nil or (value:sub(1, 2) == "--" and #value > 2) then
            usage_error("option '--%s' needs a value", name)
          end
          i = i + 1
        end
        if opts[name] ~= nil then usage_error("option '--%s' given twice", name) end
        opts[name] = value
      end
    end
    i = i + 1
  end
  return opts, pos
end

--- "pore=0,cam=1,ise=2" -> {pore=0, cam=1, ise=2}, or a usage error.
function M.parse_phases(s)
  local phases, by_label, count = {}, {}, 0
  local function bad(piece)
    usage_error("--phases: expected name=value pairs like pore=0,cam=1, got '%s'", piece)
  end
  if s:match("^%s*$") then bad(s) end
  for piece in (s .. ","):gmatch("(.-),") do
    local name, value = piece:match("^%s*([^=%s]+)%s*=%s*(%S+)%s*$")
    if not name then bad(piece) end
    if not name:match("^[%a_][%w_%-%.]*$") then
      usage_error("--phases: phase name '%s' must start with a letter (letters, digits, _ - . after)", name)
    end
    local label = math.tointeger(tonumber(value))
    if not value:match("^%d+$") or not label or label < 0 or label > 65535 then
      usage_error("--phases: the label of '%s' must be an integer 0..65535, got '%s'", name, value)
    end
    if phases[name] then usage_error("--phases: phase name '%s' given twice", name) end
    if by_label[label] then
      usage_error("--phases: label %d is named twice ('%s' and '%s')", label, by_label[label], name)
    end
    phases[name], by_label[label] = label, name
    count = count + 1
  end
  return phases
end

local SPACING_HELP = "expected a length like 100nm, 0.1um or 1e-7 (metres), or three separated by commas " ..
                     "(x,y,z) like 100nm,100nm,200nm"

--- "100nm" | "0.1um,0.1um,0.2um" | "1e-7" -> {sx, sy, sz} in metres, or a usage error.
function M.parse_spacing(s)
  local items = {}
  for piece in (s .. ","):gmatch("(.-),") do items[#items + 1] = piece end
  if #items ~= 1 and #items ~= 3 then usage_error("--spacing: %s, got '%s'", SPACING_HELP, s) end
  local out, warn = {}, nil
  for i, piece in ipairs(items) do
    -- Greek small letter mu (U+03BC) and the micro sign (U+00B5) both mean micro
    local norm = piece:gsub("\206\188", "\194\181")
    local v, err = util.parse_length(norm)
    if not v then usage_error("--spacing: %s, got '%s'", SPACING_HELP, piece) end
    if v ~= v or not (v > 0) or v == math.huge then
      usage_error("--spacing: lengths must be positive, got '%s'", piece)
    end
    if not piece:match("%a") and v >= 1e-3 then
      warn = string.format("--spacing %s has no unit, so it is %s metres; write a unit, e.g. %snm",
                           piece, piece, piece:match("^%s*(.-)%s*$"))
    end
    out[i] = tonumber(string.format("%.15g", v)) -- 100nm is 1e-7, not 1.0000000000000001e-07
  end
  if #out == 1 then out[2], out[3] = out[1], out[1] end
  return out, warn
end

local function parse_threads(s)
  local n = math.tointeger(tonumber(s))
  if not s:match("^%s*%d+%s*$") or not n or n < 1 or n > 1024 then
    usage_error("--threads: expected an integer 1..1024, got '%s'", s)
  end
  return n
end

-- ---------------------------------------------------------------- the computation: tg.describe

--- The phases to describe: the named ones, every label present but not named as "unnamed label N" (with a
-- warning), or, when no names are given, every label present as "label N". counts: labels:counts().
-- Returns phases {name = label}, warnings {text...}.
function M.phases_of(counts, named)
  local phases, warnings, is_named = {}, {}, {}
  for name, label in pairs(named or {}) do
    phases[name], is_named[label] = label, true
  end
  for _, label in ipairs(util.sorted_keys(counts)) do
    if not is_named[label] then
      local name = (named and "unnamed label " or "label ") .. label
      phases[name] = label
      if named then
        warnings[#warnings + 1] = string.format("label %d (%d voxel%s) is not named in --phases; reported as '%s'",
                                                label, counts[label], counts[label] == 1 and "" or "s", name)
      end
    end
  end
  return phases, warnings
end

-- The names of the phases present, in label order.
local function present_names(phases, counts)
  local out = {}
  for name, label in pairs(phases) do
    if (counts[label] or 0) > 0 then out[#out + 1] = name end
  end
  table.sort(out, function(a, b) return phases[a] < phases[b] end)
  return out
end

local FRACTIONS_ONLY = { surfaces = false, chords = false, percolation = false, thickness = false, transport = false,
                         active = false }

--- Describe a label volume as `tortuga describe` does: tg.describe with the parts of the mode, the phases completed
-- by M.phases_of, the warnings in d.notes. opts: phases (the names given), spacing = {sx, sy, sz}, input, mode =
-- "fractions" (the default) | "all" (the geometry: surfaces in both conventions, chords, percolation, thickness of
-- every phase; density only when given) | "full" (everything tg.describe measures, the paper's defaults),
-- density, per_gram_of, axis (all: the one axis of chords and percolation), walk, active, log.
-- Returns d (the tg.describe result), warnings.
function M.describe(labels, opts)
  local tg = tg_lib()
  opts = opts or {}
  local dtype = labels.dtype
  if dtype ~= "u8" and dtype ~= "u16" and dtype ~= "i32" then
    fail(1, "%s holds %s values; describe needs a label image of integers (u8 or u16)", opts.input or "the volume", dtype)
  end
  local stack = tg.io.is_stack(labels)
  local counts
  if stack then -- the labels present, to name them: a counting pass over the stack before the describe pass
    local ok, r = pcall(tg.measure.stream, labels, { fractions = true, what = "describe (labels present)",
                                                     memory = opts.memory })
    if not ok then fail(1, "%s", (clean(r):gsub("^tg%.measure%.stream: ", ""))) end
    counts = r.counts
  else
    counts = labels:counts()
  end
  local phases, warnings = M.phases_of(counts, opts.phases)
  local o = { phases = phases, spacing = opts.spacing, input = opts.input, log = opts.log, crop = stack and opts.crop or nil,
              memory = stack and opts.memory or nil }
  local mode = opts.mode or "fractions"
  if mode == "fractions" then
    for k, v in pairs(FRACTIONS_ONLY) do o[k] = v end
  elseif mode == "all" then
    local names = present_names(phases, counts)
    o.transport, o.active, o.transport_phases = false, false, names
    o.density, o.per_gram_of = opts.density or false, opts.per_gram_of
    o.axes = opts.axis and { opts.axis } or nil
    if #names > 8 then -- tg.measure.surfaces takes at most 8 phases at once
      o.surfaces = false
      warnings[#warnings + 1] = string.format("%d phases: surfaces are measured for at most 8; none reported", #names)
    else
      o.surfaces = { "open", "closed" }
    end
  else
    o.density, o.per_gram_of, o.walk, o.active = opts.density, opts.per_gram_of, opts.walk, opts.active
  end
  if o.per_gram_of and not (o.density and o.density[o.per_gram_of]) and not (mode == "full" and o.density == nil) then
    fail(2, "--per-gram-of %s needs its density (--density %s=KG_M3)", o.per_gram_of, o.per_gram_of)
  end
  local ok, d = pcall(tg.describe, labels, o)
  if not ok then fail(1, "%s", (clean(d):gsub("^tg%.describe: ", ""))) end
  for _, w in ipairs(warnings) do
    d.notes = d.notes or {}
    d.notes[#d.notes + 1] = w
  end
  return d, warnings
end

-- ---------------------------------------------------------------- printing

local function spacing_known(sp)
  return not (sp[1] == 1 and sp[2] == 1 and sp[3] == 1)
end

local function fmt_lengths(sp)
  local function nm(x) return string.format("%.6g", x * 1e9) end
  if sp[1] >= 1e-6 or sp[2] >= 1e-6 or sp[3] >= 1e-6 then
    return string.format("%.6g x %.6g x %.6g µm", sp[1] * 1e6, sp[2] * 1e6, sp[3] * 1e6)
  end
  return string.format("%s x %s x %s nm", nm(sp[1]), nm(sp[2]), nm(sp[3]))
end

-- Decimals for a column of volumes in µm³ whose largest entry is `largest` m³.
local function um3_decimals(largest)
  local v = largest * 1e18
  if v >= 1e6 then return 0 end
  if v >= 1e3 then return 1 end
  return 3
end

local function fmt_um3(m3, decimals)
  return string.format("%." .. decimals .. "f", m3 * 1e18)
end

-- The phases of a describe result as rows {name, label, voxels, fraction}, in label order.
local function phase_rows(d)
  local rows = {}
  for name, label in pairs(d.provenance.parameters.phases) do
    rows[#rows + 1] = { name = name, label = label, voxels = d.voxels.by_name[name] or 0,
                        fraction = d.fractions.by_name[name] or 0.0 }
  end
  table.sort(rows, function(a, b) return a.label < b.label end)
  return rows
end

local SPACING_SOURCE = { option = " (from --spacing)", file = " (from the file)", generator = " (of the generated sample)" }

-- The table of phases (label, voxels, fraction, volume), then the dims, spacing and volume.
local function format_fractions(d, rows, line, how)
  local p = d.provenance
  local known = spacing_known(p.spacing)
  local vv = p.spacing[1] * p.spacing[2] * p.spacing[3]
  local total = d.voxels.total * vv
  local w = #"phase"
  for _, r in ipairs(rows) do w = math.max(w, #r.name) end
  line("%-" .. w .. "s  %6s  %12s  %9s  %14s", "phase", "label", "voxels", "fraction", known and "volume (µm³)" or "volume")
  line("%s", string.rep("-", w + 2 + 6 + 2 + 12 + 2 + 9 + 2 + 14))
  local dec = known and um3_decimals(total) or 0
  local sum = 0
  for _, r in ipairs(rows) do
    line("%-" .. w .. "s  %6d  %12d  %7.2f %%  %14s", r.name, r.label, r.voxels, 100 * r.fraction,
         known and fmt_um3(r.voxels * vv, dec) or "-")
    sum = sum + r.fraction
  end
  line("%-" .. w .. "s  %6s  %12d  %7.2f %%  %14s", "total", "", d.voxels.total, 100 * sum, known and fmt_um3(total, dec) or "-")
  line("")
  local dims = p.dims
  line("dims      %d x %d x %d voxels", dims[1], dims[2], dims[3])
  if known then
    local source = p.spacing_source == "option" and "option" or how.spacing_source or "file"
    line("spacing   %s%s", fmt_lengths(p.spacing), SPACING_SOURCE[source] or "")
    line("volume    %s µm³ (%s x %s x %s µm)", fmt_um3(total, dec), string.format("%.4g", dims[1] * p.spacing[1] * 1e6),
         string.format("%.4g", dims[2] * p.spacing[2] * 1e6), string.format("%.4g", dims[3] * p.spacing[3] * 1e6))
  else
    line("spacing   unknown (the file has no calibration); give it with --spacing, e.g. --spacing 100nm")
    line("volume    %d voxels", d.voxels.total)
  end
end

-- Display scales: lengths in µm, areas in µm², per volume in 1/µm (voxel units without a spacing).
local function scales(d)
  local metric = d.units.length == "m"
  return { metric = metric, L = metric and 1e6 or 1, A = metric and 1e12 or 1, PV = metric and 1e-6 or 1,
           uL = metric and "µm" or "vox", uA = metric and "µm²" or "vox²", uPV = metric and "1/µm" or "1/vox" }
end

-- The interface keys "a-b" (labels) of a surfaces result, named "name-name", in label order.
local function interface_rows(s, name_of)
  local keys = {}
  for key in pairs(s.interfaces) do
    local a, b = key:match("^(%-?%d+)%-(%-?%d+)$")
    a, b = tonumber(a), tonumber(b)
    if name_of[a] and name_of[b] then keys[#keys + 1] = { key = key, a = a, b = b, name = name_of[a] .. "-" .. name_of[b] } end
  end
  table.sort(keys, function(x, y) if x.a ~= y.a then return x.a < y.a end return x.b < y.b end)
  return keys
end

-- Surfaces and interfaces: open and closed areas, open per volume, open per gram; then the TPB.
local function format_surfaces(d, rows, line, w)
  local so, sc = d.surfaces, (d.surfaces_other or {}).closed
  local pg, k = so.specific.per_gram, scales(d)
  local name_of = {}
  for _, r in ipairs(rows) do name_of[r.label] = r.name end
  line("surfaces and interfaces (marching cubes; %s: %s)", so.convention, so.convention == "open" and
       "no padding, as scikit-image" .. (sc and "; closed: PoreSpy's padding and smoothing" or "") or
       "PoreSpy's padding and smoothing")
  -- columns: the primary convention's area, the closed one's (when measured), per volume, per gram (when asked)
  local function pad(text, width) return string.rep(" ", width - (utf8.len(text) or #text)) .. text end -- µ, ²: 2 bytes
  local head = { pad(so.convention .. " (" .. k.uA .. ")", 14) }
  if sc then head[#head + 1] = pad("closed (" .. k.uA .. ")", 14) end
  head[#head + 1] = pad(so.convention .. " (" .. k.uPV .. ")", 12)
  if pg then head[#head + 1] = pad(so.convention .. " (m²/g " .. pg.of .. ")", 12) end
  line("%-" .. (w + 4) .. "s  %s", "", table.concat(head, "  "))
  local function row(label, kind, key)
    local cells = { string.format("%14.6g", so[kind][key] * k.A) }
    if sc then cells[#cells + 1] = string.format("%14.6g", sc[kind][key] * k.A) end
    cells[#cells + 1] = string.format("%12.6g", so.specific.per_volume[kind][key] * k.PV)
    if pg then cells[#cells + 1] = string.format("%12.6g", pg[kind][key] or 0 / 0) end
    line("%-" .. (w + 4) .. "s  %s", label, table.concat(cells, "  "))
  end
  for _, r in ipairs(rows) do if so.phases[r.label] then row("  " .. r.name, "phases", r.label) end end
  for _, i in ipairs(interface_rows(so, name_of)) do row("  " .. i.name, "interfaces", i.key) end
  if pg then line("  (per gram of %s: %.6g g of it in the volume)", pg.of, pg.grams) end
  local present = {}
  for _, r in ipairs(rows) do if r.voxels > 0 then present[#present + 1] = r.name end end
  if d.tpb and #present >= 3 then
    line("triple-phase boundary (%s): %.6g %s, %.6g %s per %s³%s", table.concat(present, "/"), d.tpb.length * k.L, k.uL,
         d.tpb.per_volume * (k.metric and 1e-12 or 1), k.uL, k.uL,
         d.tpb.per_gram and string.format(", %.6g m/g", d.tpb.per_gram) or "")
  end
end

-- Chords (n, mean, median per axis), percolation (per axis) and local thickness of every phase measured.
local function format_structure(d, rows, line, w)
  local k = scales(d)
  local axes = d.provenance.parameters.axes
  if d.chords then
    line("")
    local head = {}
    for i, ax in ipairs(axes) do head[i] = string.format("%-32s", i == 1 and (ax .. ": n, mean, median (" .. k.uL .. ")") or ax) end
    line("%-" .. w .. "s  %s", "chords", table.concat(head, "  "))
    for _, r in ipairs(rows) do
      local c = d.chords[r.name]
      if c then
        local cells = {}
        for i, ax in ipairs(axes) do
          cells[i] = string.format("%-32s", string.format("%8d  %9.4g  %9.4g", c[ax].n, c[ax].mean * k.L, c[ax].median * k.L))
        end
        line("%-" .. w .. "s  %s", r.name, table.concat(cells, "  "))
      end
    end
  end
  if d.percolation then
    line("")
    line("%-" .. (w + 3) .. "s  %9s  %9s  %9s  %9s   %s", "percolation", "spanning", "inlet", "outlet", "isolated",
         "(% of the phase, 6-connected, along the axis)")
    for _, r in ipairs(rows) do
      local p = d.percolation[r.name]
      for _, ax in ipairs(p and axes or {}) do
        local f = p[ax]
        line("%-" .. w .. "s  %s  %8.2f%%  %8.2f%%  %8.2f%%  %8.2f%%", r.name, ax, 100 * f.spanning, 100 * f.inlet,
             100 * f.outlet, 100 * f.isolated)
      end
    end
  end
  if d.thickness then
    line("")
    line("%-" .. w .. "s  %9s  %9s  %9s  %9s   %s", "thickness", "d10", "d50", "d90", "mean",
         "(" .. k.uL .. ", local thickness, volume-weighted)")
    for _, r in ipairs(rows) do
      local t = d.thickness[r.name]
      if t then line("%-" .. w .. "s  %9.4g  %9.4g  %9.4g  %9.4g", r.name, t.d10 * k.L, t.d50 * k.L, t.d90 * k.L, t.mean * k.L) end
    end
  end
end

local function f2(x) -- ASCII, so the columns line up
  if type(x) ~= "number" or x ~= x then return "-" end
  if x == math.huge then return "inf" end
  return string.format("%.2f", x)
end

-- Tortuosity (random walk and flux, per axis) and the active-CAM estimate.
local function format_transport(d, rows, line, w)
  if d.tau then
    line("")
    line("%-" .. w .. "s  %-26s  %-26s", "tortuosity", "random walk: x, y, z", "flux: x, y, z")
    local function three(t) return string.format("%-26s", string.format("%7s %7s %7s", f2(t.x), f2(t.y), f2(t.z))) end
    for _, r in ipairs(rows) do
      local e = d.tau[r.name]
      if e then
        -- a tau that did not converge or cannot be trusted says so on its line
        local why = transport.doubts({ walk = e.walk, flux = e.flux })
        line("%-" .. w .. "s  %s  %s%s", r.name, three(e.walk and e.walk.tau or {}), three(e.flux and e.flux.tau or {}),
             why and ("  (" .. why .. ")") or "")
        if e.filled then
          local wf = transport.doubts({ flux = e.filled })
          line("%-" .. w .. "s  %-26s  %s%s", "  pores filled", "", three(e.filled.tau), wf and ("  (" .. wf .. ")") or "")
        end
      end
    end
  end
  local a = d.active_cam
  if a then
    line("")
    line("active CAM %.1f %% (reach %s through the CAM; connected to the collector %.1f %%, whole clusters %.1f %%, " ..
         "in contact with ISE %.1f %%)", 100 * a.active, util.format_length(a.reach), 100 * a.fractions.electronic,
         100 * a.fractions.cluster, 100 * a.fractions.contact)
  end
end

-- A stack: how it was streamed, and where the whole-volume parts ran.
local function format_streamed(d, line)
  local s, wv = d.streamed, d.whole_volume
  if not s then return end
  local fm = tg_lib()._core.format_memory
  line("")
  line("streamed  %d slab%s of %d slices within a budget of %s (peak %s counted, %.1f M voxels/s)", s.slabs,
       s.slabs == 1 and "" or "s", s.slab, fm(s.memory), fm(s.peak), s.voxels_per_second / 1e6)
  if wv then
    local where = wv.on == "stack" and "on the whole stack (it fits the budget)" or wv.on == "crop" and
      string.format("on the crop x %d:%d, y %d:%d, z %d:%d", wv.crop.x[1], wv.crop.x[2], wv.crop.y[1], wv.crop.y[2],
                    wv.crop.z[1], wv.crop.z[2]) or
      string.format("NOT measured: they need about %s in memory; give --crop or a larger --memory", fm(wv.needed))
    line("          %s %s", table.concat(wv.parts, ", "), where)
  end
end

--- The printed form of a describe result (M.describe or tg.describe): the phase table, then each part it has:
-- surfaces and the TPB, chords, percolation, thickness, tortuosity, active CAM. how (optional):
-- {spacing_source = "file" | "generator"} says where a spacing that was not given came from.
function M.format(d, how)
  how = how or {}
  local out = {}
  local function line(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  local rows = phase_rows(d)
  format_fractions(d, rows, line, how)
  local w = #"percolation"
  for _, r in ipairs(rows) do w = math.max(w, #r.name) end
  if d.surfaces then
    line("")
    format_surfaces(d, rows, line, w)
  end
  format_structure(d, rows, line, w)
  format_transport(d, rows, line, w)
  format_streamed(d, line)
  return table.concat(out, "\n") .. "\n"
end

-- ---------------------------------------------------------------- JSON

-- Write d as JSON; a failure is the outside world's (status 1). Notes (NaN written as null) go to err.
local function write_json(d, path, err, prog)
  local ok, written, notes = pcall(d.write_json, d, path)
  if not ok then fail(1, "cannot write the JSON: %s", (clean(written):gsub("^describe:write_json: ", ""))) end
  for _, n in ipairs(notes or {}) do err:write(string.format("%s: note: %s\n", prog, n)) end
end

-- ---------------------------------------------------------------- commands

local function path_kind(path)
  local ok, lfs = pcall(require, "lfs")
  if ok then
    local mode = lfs.attributes(path, "mode")
    return mode
  end
  local f = io.open(path, "rb")
  if f then f:close() return "file" end
  return nil
end

local DESCRIBE_USAGE = [==[
usage: tortuga describe LABELS [--phases pore=0,cam=1,ise=2] [--spacing 100nm] [--json out.json] [--threads N]
                        [--memory 2GB] [--crop x1:x2,y1:y2,z1:z2]
                        [--all [--density cam=4.7e3,ise=1.9e3] [--per-gram-of cam] [--axis z]]
                        [--full [--density ...] [--collector first|last] [--reach 2um] [--walkers N] [--steps N]]

What tg.describe measures, printed as tables. Without --all or --full, the volume fractions of a label
image (a multi-page TIFF, a folder of slices or a glob): each phase's label, voxel count, volume fraction
and volume, then the dims, spacing and total volume.
With --all, the geometry too: surfaces and interfaces (open and closed conventions), specific areas
per volume (and per gram with --density), the triple-phase boundary length, chord lengths and percolation
along x, y and z (or the --axis) and local-thickness d10/d50/d90 of every phase.
With --full, every descriptor of tg.describe, the paper's whole analysis: the geometry (open surfaces), the
random-walk and flux tortuosity of CAM and ISE along x, y and z, the ISE tortuosity with the pores filled,
and the active-CAM estimate (CAM on the current collector within reach of ISE that reaches the separator).
Needs phases named cam and ise (default pore=0,cam=1,ise=2); densities default to NCM 4.7e3 and
Li3PS4-0.5LiI 1.9e3 kg/m3.

  LABELS            the label stack (u8 or u16 integers, one value per phase)
  --phases LIST     names of the labels, name=value pairs: pore=0,cam=1,ise=2. Labels present but not
                    named are reported as "unnamed label N" (with a warning)
  --spacing LEN     voxel size, overriding the file's calibration: 100nm, 0.1um, 0.1µm, 1e-7 (metres),
                    or x,y,z for anisotropic voxels: 100nm,100nm,200nm
  --json FILE       also write tg.describe's result as JSON, with its provenance (SHA-256 of the voxels
                    and of the file, parameters, version, time, host, the command)
  --threads N       engine threads (default: all cores)
  --memory SIZE     the memory budget (2GB, 512MiB; default: half the machine's memory). A TIFF stack larger
                    than the budget is read slab by slab: fractions, surfaces, chords and percolation streamed,
                    the same numbers; thickness, tortuosity and active CAM need the volume in memory and run
                    on the whole stack when it fits, else on --crop, else not (the output says which).
                    Giving --memory always streams
  --crop RANGES     where thickness, tortuosity and active CAM run on a streamed stack: x1:x2,y1:y2,z1:z2
                    (1-based, inclusive; an empty range is the whole axis, e.g. ,,1:200)
  --all             add the geometry descriptors (see above)
  --density LIST    phase densities in kg/m3, name=value pairs (cam=4.7e3,ise=1.9e3), for areas per gram
  --per-gram-of P   the phase the per-gram areas refer to (default: cam, when its density is given)
  --axis A          --all: chords and percolation along x, y or z only (default: all three)
  --full            everything tg.describe measures (see above)
  --collector SIDE  --full: the slice along z on the current collector, first or last (default first)
  --reach LEN       --full: the active-CAM reach through the CAM (default 2um)
  --walkers N, --steps N   --full: the random walk (default 2000 walkers, 5000 steps)
  -h, --help        this help
]==]

--- "x1:x2,y1:y2,z1:z2" (an empty part: the whole axis) -> {x = {x1, x2}, ...}, or a usage error.
function M.parse_crop(s)
  local parts = {}
  for item in (s .. ","):gmatch("(.-),") do parts[#parts + 1] = item end
  if #parts ~= 3 then usage_error("--crop: expected x1:x2,y1:y2,z1:z2 (an empty part is the whole axis), got '%s'", s) end
  local out = {}
  for i, ax in ipairs { "x", "y", "z" } do
    local item = parts[i]:match("^%s*(.-)%s*$")
    if item ~= "" then
      local a, b = item:match("^(%d+):(%d+)$")
      a, b = math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
      if not a or not b or a < 1 or b < a then
        usage_error("--crop: %s range '%s' must be first:last with 1 <= first <= last", ax, item)
      end
      out[ax] = { a, b }
    end
  end
  return out
end

--- "cam=4.7e3,ise=1.9e3" -> {cam = 4700, ise = 1900}, or a usage error.
function M.parse_density(s)
  local out, n = {}, 0
  for item in (s .. ","):gmatch("(.-),") do
    local name, value = item:match("^%s*([%w_]+)%s*=%s*(%S+)%s*$")
    local v = value and tonumber(value)
    if not name or not v or v ~= v or v <= 0 or v == math.huge then
      usage_error("--density: expected name=kg_per_m3 pairs like cam=4.7e3,ise=1.9e3, got '%s'", item)
    end
    if out[name] then usage_error("--density: phase '%s' given twice", name) end
    out[name], n = v, n + 1
  end
  return out
end

local DEMO_USAGE = [[
usage: tortuga demo [--size N] [--seed S] [--json out.json] [--save labels.tif] [--threads N]

Generate the built-in composite-cathode sample (pore = 0, CAM = 1, ISE = 2; tg.generate.cathode) and
describe it, to see tortuga's numbers with one command.

  --size N          voxels along each axis (default 100)
  --seed S          random seed of the microstructure (default 1)
  --json FILE       write the results as JSON (as `tortuga describe --json`)
  --save FILE       write the label stack as a TIFF, to try `tortuga describe FILE --phases pore=0,cam=1,ise=2`
  --threads N       engine threads (default: all cores)
  -h, --help        this help
]]

local function with_threads(n, fn)
  if not n then return fn() end
  local tg = tg_lib()
  local before = tg.threads()
  tg.threads(n)
  local ok, e = pcall(fn)
  tg.threads(before)
  if not ok then error(e, 0) end
  return e
end

local function read_labels(path)
  local tg = tg_lib()
  local kind = path_kind(path)
  if not kind and not path:find("[%*%?%[]") then fail(1, "cannot open '%s': no such file or directory", path) end
  local function reason(msg)
    msg = clean(msg):gsub("^tg%.io%.read: ", "")
    if msg:sub(1, #path + 2) == path .. ": " then msg = msg:sub(#path + 3) end
    return msg
  end
  local ok, v, err = pcall(tg.io.read, path)
  if not ok then fail(1, "cannot read '%s': %s", path, reason(v)) end
  if not v then fail(1, "cannot read '%s': %s", path, reason(err)) end
  return v, kind
end

-- The labels to describe: a stack on disk (tg.io.open) when streaming is asked (stream) or the stack exceeds the
-- memory budget, else the volume read (read_labels). A file tg.io.open cannot take (not a TIFF) is read whole,
-- unless streaming is asked: then its reason is the error.
local function open_labels(path, stream, memory)
  local tg = tg_lib()
  local kind = path_kind(path)
  local ok, st = pcall(tg.io.open, path)
  if ok and (stream or st:info().bytes > (memory or tg.memory())) then return st, kind end
  if ok then st:close()
  elseif stream then
    if not kind and not path:find("[%*%?%[]") then fail(1, "cannot open '%s': no such file or directory", path) end
    fail(1, "cannot stream '%s': %s", path, (clean(st):gsub("^tg%.io%.open: ", "")))
  end
  return read_labels(path)
end

-- The options of `describe` checked for the mode: the M.describe options, or a usage error.
local function describe_options(o, pos, err)
  local mode = o.full and "full" or o.all and "all" or "fractions"
  if o.full then
    if o.all then usage_error("--all and --full: --full already has everything --all gives") end
    if o.axis then usage_error("--axis does not apply with --full (every axis is measured)") end
  else
    for _, k in ipairs { "collector", "reach", "walkers", "steps" } do
      if o[k] then usage_error("--%s only applies with --full", k) end
    end
  end
  if mode == "fractions" and (o.density or o["per-gram-of"] or o.axis) then
    usage_error("--%s only applies with --all", o.density and "density" or o["per-gram-of"] and "per-gram-of" or "axis")
  end
  if o.axis and o.axis ~= "x" and o.axis ~= "y" and o.axis ~= "z" then usage_error("--axis: expected x, y or z, got '%s'", o.axis) end
  if #pos == 0 then usage_error("missing the label stack to describe (tortuga describe LABELS.tif --phases pore=0,...)") end
  if #pos > 1 then usage_error("expected one label stack, got %d arguments ('%s', '%s'%s)", #pos, pos[1], pos[2],
                               #pos > 2 and ", ..." or "") end
  local memory
  if o.memory then -- checked by tg.memory, then the budget put back: --memory goes to the calls of this run
    local tg = tg_lib()
    local before, default = tg.memory()
    local ok, e = pcall(tg.memory, o.memory)
    tg.memory(default and "default" or before)
    if not ok then usage_error("--memory: %s", (clean(e):gsub("^tg%.memory: ", ""))) end
    memory = e
  end
  local r = { memory = memory, mode = mode, input = pos[1], phases = o.phases and M.parse_phases(o.phases) or nil, crop = o.crop and M.parse_crop(o.crop),
              density = o.density and M.parse_density(o.density) or nil, per_gram_of = o["per-gram-of"], axis = o.axis }
  if mode == "full" then
    r.phases = r.phases or { pore = 0, cam = 1, ise = 2 }
    if r.phases.cam == nil or r.phases.ise == nil then usage_error("--full needs phases named cam and ise (--phases pore=0,cam=1,ise=2)") end
    if o.collector and o.collector ~= "first" and o.collector ~= "last" then
      usage_error("--collector: expected first or last, got '%s'", o.collector)
    end
    if o.reach and not util.parse_length(o.reach) then usage_error("--reach: '%s' is not a length (2um, 500nm)", o.reach) end
    local function count(name)
      local v = o[name] and tonumber(o[name])
      if o[name] and not (v and v >= 1 and v == math.floor(v)) then usage_error("--%s: expected a positive integer, got '%s'", name, o[name]) end
      return v and math.tointeger(v) or nil
    end
    r.walk = { walkers = count("walkers") or 2000, steps = count("steps") or 5000 }
    r.active = { collector = o.collector or "first", reach = o.reach or "2um" }
    r.log = function(stage, s) err:write(string.format("tortuga describe: %-20s %6.2f s\n", stage, s)) end
  end
  if o.spacing then
    local warning
    r.spacing, warning = M.parse_spacing(o.spacing)
    if warning then err:write("tortuga describe: warning: ", warning, "\n") end
  end
  return r
end

local function describe_cmd(args, out, err)
  local o, pos = parse_args(args, { phases = "value", spacing = "value", json = "value", threads = "value",
                                    help = "flag", all = "flag", density = "value", ["per-gram-of"] = "value",
                                    axis = "value", full = "flag", collector = "value", reach = "value",
                                    walkers = "value", steps = "value", memory = "value", crop = "value" })
  if o.help then out:write(DESCRIBE_USAGE) return 0 end
  local opts = describe_options(o, pos, err)
  local threads = o.threads and parse_threads(o.threads) or nil
  return with_threads(threads, function()
    local labels, kind = open_labels(opts.input, o.memory or o.crop, opts.memory)
    local d, warnings = M.describe(labels, opts)
    for _, w in ipairs(warnings) do err:write("tortuga describe: warning: ", w, "\n") end
    out:write(opts.input, "\n\n", M.format(d, { spacing_source = "file" }))
    if o.json then
      d.provenance.command = "tortuga describe " .. table.concat(args, " ")
      if kind ~= "file" then
        d.notes = d.notes or {}
        d.notes[#d.notes + 1] = "the input is not a single file: no file_sha256"
      end
      write_json(d, o.json, err, "tortuga describe")
      out:write("\nwrote ", o.json, "\n")
    end
    return 0
  end)
end

local function demo_cmd(args, out, err)
  local o, pos = parse_args(args, { size = "value", seed = "value", json = "value", save = "value",
                                    threads = "value", help = "flag" })
  if o.help then out:write(DEMO_USAGE) return 0 end
  if #pos > 0 then usage_error("unexpected argument '%s' (demo takes only options; see --help)", pos[1]) end
  local size = 100
  if o.size then
    size = math.tointeger(tonumber(o.size))
    if not o.size:match("^%d+$") or not size or size < 8 or size > 2000 then
      usage_error("--size: expected an integer 8..2000 (voxels along each axis), got '%s'", o.size)
    end
  end
  local seed = 1
  if o.seed then
    seed = math.tointeger(tonumber(o.seed))
    if not o.seed:match("^%d+$") or not seed then usage_error("--seed: expected a non-negative integer, got '%s'", o.seed) end
  end
  local threads = o.threads and parse_threads(o.threads) or nil
  local tg = tg_lib()
  return with_threads(threads, function()
    local ok, labels = pcall(tg.generate.cathode, { size = { size, size, size }, seed = seed })
    if not ok then fail(1, "generating the sample failed: %s", clean(labels)) end
    local name = string.format("tg.generate.cathode{size={%d,%d,%d}, seed=%d}", size, size, size, seed)
    local d, warnings = M.describe(labels, { phases = { pore = 0, cam = 1, ise = 2 }, input = name })
    for _, w in ipairs(warnings) do err:write("tortuga demo: warning: ", w, "\n") end
    out:write("generated sample: ", name, "\n\n", M.format(d, { spacing_source = "generator" }))
    if o.save then
      local wok, werr = pcall(tg.io.write, o.save, labels)
      if not wok then fail(1, "--save: %s", clean(werr)) end
      out:write("\nwrote ", o.save, "; try: tortuga describe ", o.save, " --phases pore=0,cam=1,ise=2\n")
    else
      out:write("\nYour own label stack: tortuga describe LABELS.tif --phases pore=0,cam=1,ise=2 --spacing 100nm\n")
    end
    if o.json then
      d.provenance.command = "tortuga demo " .. table.concat(args, " ")
      d.provenance.generator = { name = "tg.generate.cathode", size = { size, size, size }, seed = seed }
      write_json(d, o.json, err, "tortuga demo")
      out:write("\nwrote ", o.json, "\n")
    end
    return 0
  end)
end

local COMMANDS = {
  { name = "describe", run = describe_cmd,
    summary = "volume fractions of a label stack (LABELS.tif --phases pore=0,cam=1,ise=2)" },
  { name = "demo", run = demo_cmd,
    summary = "generate the built-in cathode sample and describe it (--size 100)" },
}

-- the Jupyter kernel and notebooks, loaded when they run (so `tortuga --help` and `tortuga describe` do not
-- load the kernel)
COMMANDS[#COMMANDS + 1] = {
  name = "kernel", run = function(...) return require("tortuga.kernel").command(...) end,
  summary = "run as a Jupyter kernel (-f CONNECTION_FILE), or 'kernel install [--user|--sys-prefix|--prefix DIR]'" }
COMMANDS[#COMMANDS + 1] = {
  name = "notebook", run = function(...) return require("tortuga.notebook").command(...) end,
  summary = "run a notebook into an HTML page: 'notebook run FILE.lua [--out PAGE.html]'; " ..
            "'notebook convert FILE.lua FILE.ipynb' (or back)" }

--- The subcommands, for `tortuga --help`: { {name=, summary=}, ... }.
function M.commands()
  local out = {}
  for i, c in ipairs(COMMANDS) do out[i] = { name = c.name, summary = c.summary } end
  return out
end

--- Run subcommand `name` with the list of string arguments; returns the exit status.
-- streams (optional): {stdout = obj, stderr = obj}, objects with a :write method.
function M.main(name, args, streams)
  local out = streams and streams.stdout or io.stdout
  local err = streams and streams.stderr or io.stderr
  args = args or {}
  local cmd
  for _, c in ipairs(COMMANDS) do
    if c.name == name then cmd = c end
  end
  if not cmd then
    local names = {}
    for i, c in ipairs(COMMANDS) do names[i] = c.name end
    local hint = util.suggest(tostring(name), names)
    err:write(string.format("%s: unknown command '%s'%s\n", PROG, tostring(name),
      hint and string.format(" (did you mean '%s'?)", hint) or " (try tortuga --help)"))
    return 2
  end
  for i, a in ipairs(args) do
    if type(a) ~= "string" then
      err:write(string.format("%s %s: argument %d is a %s, expected a string\n", PROG, name, i, type(a)))
      return 2
    end
  end
  local ok, res = xpcall(cmd.run, function(e)
    if type(e) == "table" and e.tortuga_cli then return e end
    if os.getenv("TORTUGA_DEBUG") then return debug.traceback(tostring(e), 2) end
    return clean(e)
  end, args, out, err)
  if ok then return res or 0 end
  if type(res) == "table" then
    err:write(string.format("%s %s: %s\n", PROG, name, res.msg))
    if res.code == 2 then err:write(string.format("Try '%s %s --help'.\n", PROG, name)) end
    return res.code
  end
  err:write(string.format("%s %s: %s\n", PROG, name, tostring(res)))
  return 1
end

return M
