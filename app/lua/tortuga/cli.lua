--- tortuga.cli — the `tortuga COMMAND ...` subcommands, for the common jobs without writing a script.
--
--   tortuga describe LABELS.tif --phases pore=0,cam=1,ise=2 [--spacing 100nm] [--json out.json] [--threads N]
--                   [--all [--density cam=4.7e3,ise=1.9e3] [--per-gram-of cam] [--axis z]]
--   tortuga demo [--size 100] [--seed 1] [--json out.json] [--save labels.tif] [--threads N]
--
--   tortuga kernel ... (tortuga.kernel), tortuga notebook ... (tortuga.notebook)
--
-- The host calls cli.main(name, {args...}) and exits with its result: 0 success, 1 failure (missing or
-- unreadable input, unwritable output), 2 usage error (unknown option, malformed value). Messages go to
-- stderr as "tortuga describe: message". cli.commands() lists {name=, summary=} for `tortuga --help`.
--
-- From Lua: cli.describe(labels, {phases=, spacing=, input=, all=, density=, per_gram_of=, axis=}) returns the
-- result table that `describe` prints and writes as JSON (with all = true it has `geometry`, from
-- cli.geometry(labels, opts)); cli.format(result) is the printed text. main's optional third argument
-- {stdout=, stderr=} (objects with :write) redirects the output, for tests and embedding.
local util = require "tortuga.util"
local json = require "tortuga.json"

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

-- ---------------------------------------------------------------- the computation

local function spacing_known(sp)
  return not (sp[1] == 1 and sp[2] == 1 and sp[3] == 1)
end

--- Describe a label volume. opts: phases = {name = label} (optional), spacing = {sx, sy, sz} (optional,
-- overrides the volume's), input = a name for the result. Returns the result table (see the module doc).
function M.describe(labels, opts)
  local tg = tg_lib()
  opts = opts or {}
  if not (tg.measure and tg.measure.fractions) then fail(1, "tg.measure.fractions is not available in this build") end
  local dtype = labels.dtype
  if dtype ~= "u8" and dtype ~= "u16" and dtype ~= "i32" then
    fail(1, "%s holds %s values; describe needs a label image of integers (u8 or u16)",
         opts.input or "the volume", dtype)
  end
  local sp = opts.spacing or labels:spacing() -- an override leaves the volume itself unchanged
  local nx, ny, nz = labels:dims()
  local total = nx * ny * nz
  local fractions = tg.measure.fractions(labels)
  local counts = labels:counts()

  local name_of, rows, warnings = {}, {}, {}
  for name, label in pairs(opts.phases or {}) do name_of[label] = name end
  local present = {}
  for label in pairs(counts) do present[#present + 1] = label end
  table.sort(present)
  for _, label in ipairs(present) do
    if not name_of[label] then
      if opts.phases then
        name_of[label] = "unnamed label " .. label
        warnings[#warnings + 1] = string.format("label %d (%d voxel%s) is not named in --phases; reported as '%s'",
                                                label, counts[label], counts[label] == 1 and "" or "s", name_of[label])
      else
        name_of[label] = "label " .. label
      end
    end
  end
  local known = spacing_known(sp)
  local voxel_volume = sp[1] * sp[2] * sp[3]
  local labels_sorted = {}
  for label in pairs(name_of) do labels_sorted[#labels_sorted + 1] = label end
  table.sort(labels_sorted)

  local res = {
    command = "describe",
    input = opts.input,
    dims = { nx, ny, nz },
    spacing = { sp[1], sp[2], sp[3] },
    spacing_source = opts.spacing and "--spacing" or (known and (opts.spacing_source or "file") or "unknown"),
    fractions = {}, voxels = {}, labels = {},
    volumes = known and {} or nil,
    total = { voxels = total, volume = known and total * voxel_volume or nil },
    units = { fractions = "1", voxels = "1", spacing = "m", volumes = "m3", volume = "m3" },
    warnings = #warnings > 0 and warnings or nil,
  }
  for _, label in ipairs(labels_sorted) do
    local name, n = name_of[label], counts[label] or 0
    res.fractions[name] = fractions[label] or 0.0
    res.voxels[name] = n
    res.labels[name] = label
    if known then res.volumes[name] = n * voxel_volume end
    rows[#rows + 1] = { name = name, label = label, voxels = n, fraction = fractions[label] or 0.0 }
  end
  -- kept out of the JSON by its leading underscore: the row order of the printed table
  res._rows = rows
  if opts.all then
    local phases = {}
    for _, label in ipairs(labels_sorted) do
      if (counts[label] or 0) > 0 then phases[name_of[label]] = label end
    end
    local lv = labels
    if opts.spacing then -- the override must reach the measurements, without touching the caller's volume
      lv = labels:view{}
      lv:spacing(sp)
    end
    res.geometry = M.geometry(lv, { phases = phases, density = opts.density, per_gram_of = opts.per_gram_of,
                                    axis = opts.axis })
  end
  return res
end

--- The geometry descriptors of a label volume (what `describe --all` adds), all in one table:
--   surfaces = {open = S, closed = S} with S = {phases = {[name] = m2}, interfaces = {["a-b"] = m2} (names),
--     per_volume = {phases, interfaces} (m-1), per_gram = {phases, interfaces, of, grams} (m2/g, when a
--     density of the per-gram phase is known)}; tpb = {length (m), per_volume (m-2), per_gram (m/g),
--     phases = {a, b, c}} (three phases or more; the edge-counting length of tg.measure.surfaces);
--   chords = {[name] = {x = {n, mean, median}, y = ..., z = ...}} (m; PoreSpy's conventions, spacing 2,
--     trim "faces"); percolation = {[name] = {spanning, inlet, outlet, isolated}} (fractions of the phase,
--     6-connected, along `axis`, default "z"); thickness = {[name] = {d10, d50, d90, mean}} (m, volume-weighted).
-- opts: phases = {name = label} (default: every label present, named "label N"), density = {name = kg/m3},
-- per_gram_of = a name (default "cam" when its density is given), axis = "z".
-- Lengths are in metres, or in voxels when the spacing is unknown (1, as files without calibration read).
function M.geometry(labels, opts)
  local tg = tg_lib()
  opts = opts or {}
  local phases = opts.phases
  if not phases then
    phases = {}
    for label in pairs(labels:counts()) do phases["label " .. label] = label end
  end
  local list, name_of = {}, {}
  for name, label in pairs(phases) do list[#list + 1] = label; name_of[label] = name end
  table.sort(list)
  local axis = opts.axis or "z"
  local density = opts.density
  local per_gram_of = opts.per_gram_of
  if not per_gram_of and density and density.cam and phases.cam then per_gram_of = "cam" end
  if per_gram_of and not (density and density[per_gram_of]) then
    fail(2, "--per-gram-of %s needs its density (--density %s=KG_M3)", per_gram_of, per_gram_of)
  end
  local unit = spacing_known(labels:spacing()) and "m" or "voxel"
  local g = { surfaces = {}, chords = {}, percolation = {}, thickness = {}, axis = axis,
              units = { area = unit == "m" and "m2" or "voxel2", length = unit, per_volume = unit == "m" and "m-1" or "1/voxel",
                        per_gram = "m2/g", tpb_per_volume = unit == "m" and "m-2" or "1/voxel2", fractions = "1" } }
  local function by_name(t)
    local out = {}
    for k, v in pairs(t) do
      if math.type(k) == "integer" then out[name_of[k]] = v
      else
        local a, b = k:match("^(%d+)%-(%d+)$")
        out[name_of[tonumber(a)] .. "-" .. name_of[tonumber(b)]] = v
      end
    end
    return out
  end
  if #list <= 8 then
    local phases_for_surfaces = {}
    for _, label in ipairs(list) do phases_for_surfaces[name_of[label]] = label end
    for _, conv in ipairs{ "open", "closed" } do
      local s = tg.measure.surfaces(labels, { phases = phases_for_surfaces, convention = conv, density = density,
                                              per_gram_of = per_gram_of })
      local e = { phases = by_name(s.phases), interfaces = by_name(s.interfaces),
                  per_volume = { phases = by_name(s.specific.per_volume.phases),
                                 interfaces = by_name(s.specific.per_volume.interfaces) },
                  interface_formula = s.interface_formula }
      if s.specific.per_gram then
        local pg = s.specific.per_gram
        e.per_gram = { phases = by_name(pg.phases), interfaces = by_name(pg.interfaces), of = pg.of, grams = pg.grams }
      end
      g.surfaces[conv] = e
      if conv == "open" and #list >= 3 then
        local names3 = {}
        for _, label in ipairs(list) do names3[#names3 + 1] = name_of[label] end
        g.tpb = { length = s.tpb_length, per_volume = s.specific.per_volume.tpb_length,
                  per_gram = s.specific.per_gram and s.specific.per_gram.tpb_length or nil, phases = names3 }
      end
    end
  end
  for _, label in ipairs(list) do
    local name = name_of[label]
    local ch = tg.measure.chords(labels, { phase = label, axis = "all" })
    local c = {}
    for _, ax in ipairs{ "x", "y", "z" } do
      local d = tg.measure.cld(ch[ax])
      c[ax] = { n = d.n, mean = d.mean, median = d.median }
    end
    g.chords[name] = c
    local p = tg.measure.percolation(labels, { phase = label, axis = axis })
    g.percolation[name] = { spanning = p.fractions.spanning, inlet = p.fractions.inlet, outlet = p.fractions.outlet,
                            isolated = p.fractions.isolated }
    local nx, ny, nz = labels:dims()
    if (labels:counts()[label] or 0) < nx * ny * nz then -- a phase filling the volume has no inscribed spheres
      local t = tg.measure.thickness(labels, { phase = label })
      g.thickness[name] = { d10 = t.d10, d50 = t.d50, d90 = t.d90, mean = t.mean }
      t.map:release()
    end
    collectgarbage()
  end
  return g
end

-- ---------------------------------------------------------------- printing

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

--- The printed form of a describe result.
function M.format(res)
  local out = {}
  local function line(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  local rows = res._rows or {}
  local known = res.total.volume ~= nil
  local w = #"phase"
  for _, r in ipairs(rows) do w = math.max(w, #r.name) end
  local header = string.format("%-" .. w .. "s  %6s  %12s  %9s  %14s", "phase", "label", "voxels", "fraction",
                               known and "volume (µm³)" or "volume")
  line("%s", header)
  line("%s", string.rep("-", w + 2 + 6 + 2 + 12 + 2 + 9 + 2 + 14))
  local vv = res.spacing[1] * res.spacing[2] * res.spacing[3]
  local dec = known and um3_decimals(res.total.volume) or 0
  for _, r in ipairs(rows) do
    line("%-" .. w .. "s  %6d  %12d  %7.2f %%  %14s", r.name, r.label, r.voxels, 100 * r.fraction,
         known and fmt_um3(r.voxels * vv, dec) or "-")
  end
  local sum = 0
  for _, r in ipairs(rows) do sum = sum + r.fraction end
  line("%-" .. w .. "s  %6s  %12d  %7.2f %%  %14s", "total", "", res.total.voxels, 100 * sum,
       known and fmt_um3(res.total.volume, dec) or "-")
  line("")
  local d = res.dims
  line("dims      %d x %d x %d voxels", d[1], d[2], d[3])
  if known then
    local src = ({ ["--spacing"] = " (from --spacing)", file = " (from the file)",
                   generator = " (of the generated sample)" })[res.spacing_source] or ""
    line("spacing   %s%s", fmt_lengths(res.spacing), src)
    line("volume    %s µm³ (%s x %s x %s µm)", fmt_um3(res.total.volume, dec),
         string.format("%.4g", d[1] * res.spacing[1] * 1e6), string.format("%.4g", d[2] * res.spacing[2] * 1e6),
         string.format("%.4g", d[3] * res.spacing[3] * 1e6))
  else
    line("spacing   unknown (the file has no calibration); give it with --spacing, e.g. --spacing 100nm")
    line("volume    %d voxels", res.total.voxels)
  end
  if res.geometry then
    line("")
    out[#out + 1] = M.format_geometry(res.geometry, rows)
  end
  return table.concat(out, "\n") .. "\n"
end

local function sorted_keys(t)
  local k = {}
  for key in pairs(t or {}) do k[#k + 1] = key end
  table.sort(k)
  return k
end

--- The printed form of a geometry table (M.geometry); rows (optional) give the phase order.
function M.format_geometry(g, rows)
  local out = {}
  local function line(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  local metric = g.units.length == "m"
  -- scale factors and unit names for display: lengths in µm, areas in µm², per volume in 1/µm
  local L, A, PV = metric and 1e6 or 1, metric and 1e12 or 1, metric and 1e-6 or 1
  local uL, uA, uPV = metric and "µm" or "vox", metric and "µm²" or "vox²", metric and "1/µm" or "1/vox"
  local names = {}
  if rows then for _, r in ipairs(rows) do if g.chords[r.name] then names[#names + 1] = r.name end end
  else names = sorted_keys(g.chords) end
  local w = #"percolation"
  for _, n in ipairs(names) do w = math.max(w, #n) end
  local so, sc = g.surfaces.open, g.surfaces.closed
  if so then
    local pg = so.per_gram
    line("surfaces and interfaces (marching cubes; open: no padding, as scikit-image; closed: PoreSpy's padding and smoothing)")
    line("%-" .. (w + 4) .. "s  %14s  %14s  %12s  %12s", "", "open (" .. uA .. ")", "closed (" .. uA .. ")",
         "open (" .. uPV .. ")", pg and ("open (m²/g " .. pg.of .. ")") or "")
    local function row(label, key, kind)
      local pgv = pg and pg[kind][key]
      line("%-" .. (w + 4) .. "s  %14.6g  %14.6g  %12.6g  %12s", label, so[kind][key] * A, sc and sc[kind][key] * A or 0 / 0,
           so.per_volume[kind][key] * PV, pgv and string.format("%.6g", pgv) or "")
    end
    for _, n in ipairs(names) do row("  " .. n, n, "phases") end
    for _, k in ipairs(sorted_keys(so.interfaces)) do row("  " .. k, k, "interfaces") end
    if pg then line("  (per gram of %s: %.6g g of it in the volume)", pg.of, pg.grams) end
  end
  if g.tpb then
    line("triple-phase boundary (%s): %.6g %s, %.6g %s per %s³%s", table.concat(g.tpb.phases, "/"),
         g.tpb.length * L, uL, g.tpb.per_volume * (metric and 1e-12 or 1), uL, uL,
         g.tpb.per_gram and string.format(", %.6g m/g", g.tpb.per_gram) or "")
  end
  line("")
  line("%-" .. w .. "s  %-32s  %-32s  %-32s", "chords", "x: n, mean, median (" .. uL .. ")", "y", "z")
  for _, n in ipairs(names) do
    local c, cells = g.chords[n], {}
    for _, ax in ipairs{ "x", "y", "z" } do
      cells[#cells + 1] = string.format("%8d  %9.4g  %9.4g", c[ax].n, c[ax].mean * L, c[ax].median * L)
    end
    line("%-" .. w .. "s  %-32s  %-32s  %-32s", n, cells[1], cells[2], cells[3])
  end
  line("")
  line("%-" .. w .. "s  %9s  %9s  %9s  %9s   %s", "percolation", "spanning", "inlet", "outlet", "isolated",
       "(% of the phase, 6-connected, along " .. g.axis .. ")")
  for _, n in ipairs(names) do
    local p = g.percolation[n]
    line("%-" .. w .. "s  %8.2f%%  %8.2f%%  %8.2f%%  %8.2f%%", n, 100 * p.spanning, 100 * p.inlet, 100 * p.outlet, 100 * p.isolated)
  end
  line("")
  line("%-" .. w .. "s  %9s  %9s  %9s  %9s   %s", "thickness", "d10", "d50", "d90", "mean", "(" .. uL .. ", local thickness, volume-weighted)")
  for _, n in ipairs(names) do
    local t = g.thickness[n]
    if t then line("%-" .. w .. "s  %9.4g  %9.4g  %9.4g  %9.4g", n, t.d10 * L, t.d50 * L, t.d90 * L, t.mean * L) end
  end
  return table.concat(out, "\n")
end

-- ---------------------------------------------------------------- provenance and JSON

local function hostname()
  local f = io.open("/proc/sys/kernel/hostname", "r")
  if f then
    local h = f:read("l")
    f:close()
    if h and h ~= "" then return h end
  end
  local p = io.popen("uname -n 2>/dev/null")
  if p then
    local h = p:read("l")
    p:close()
    if h and h ~= "" then return h end
  end
  return os.getenv("HOSTNAME") or "unknown"
end

local function provenance(input, parameters)
  local tg = tg_lib()
  local p = {
    input = input,
    parameters = parameters,
    tortuga_version = tg.version,
    lua_version = _VERSION,
    time = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    host = hostname(),
  }
  return p
end

-- The JSON form: the result without its private fields.
local function public(res)
  local out = {}
  for k, v in pairs(res) do
    if type(k) ~= "string" or k:sub(1, 1) ~= "_" then out[k] = v end
  end
  return out
end

local function write_json(path, res, err)
  local ok, notes_or_err = json.write(path, public(res))
  if not ok then fail(1, "cannot write the JSON: %s", notes_or_err) end
  for _, n in ipairs(notes_or_err) do err:write(string.format("%s: note: %s\n", res._cmd or PROG, n)) end
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
                        [--all [--density cam=4.7e3,ise=1.9e3] [--per-gram-of cam] [--axis z]]
                        [--full [--density ...] [--collector first|last] [--reach 2um] [--walkers N] [--steps N]]

Volume fractions of a label image (a multi-page TIFF, a folder of slices or a glob): a table of each
phase's label, voxel count, volume fraction and volume, then the dims, spacing and total volume.
With --all, the geometry too: surfaces and interfaces (open and closed conventions), specific areas
per volume (and per gram with --density), the triple-phase boundary length, chord lengths along x, y, z,
percolation along an axis and local-thickness d10/d50/d90 of every phase.
With --full, every descriptor of tg.describe, the paper's whole analysis: the geometry, the random-walk and
flux tortuosity of CAM and ISE along x, y and z, the ISE tortuosity with the pores filled, and the active-CAM
estimate (CAM on the current collector within reach of ISE that reaches the separator). Needs phases named
cam and ise (default pore=0,cam=1,ise=2); densities default to NCM 4.7e3 and Li3PS4-0.5LiI 1.9e3 kg/m3.

  LABELS            the label stack (u8 or u16 integers, one value per phase)
  --phases LIST     names of the labels, name=value pairs: pore=0,cam=1,ise=2. Labels present but not
                    named are reported as "unnamed label N" (with a warning)
  --spacing LEN     voxel size, overriding the file's calibration: 100nm, 0.1um, 0.1µm, 1e-7 (metres),
                    or x,y,z for anisotropic voxels: 100nm,100nm,200nm
  --json FILE       also write the results, with their provenance (input SHA-256, parameters, version,
                    time, host), as JSON
  --threads N       engine threads (default: all cores)
  --all             add the geometry descriptors (see above)
  --density LIST    phase densities in kg/m3, name=value pairs (cam=4.7e3,ise=1.9e3), for areas per gram
  --per-gram-of P   the phase the per-gram areas refer to (default: cam, when its density is given)
  --axis A          the percolation axis, x, y or z (default z)
  --full            everything tg.describe measures (see above); --json then writes its result
  --collector SIDE  --full: the slice along z on the current collector, first or last (default first)
  --reach LEN       --full: the active-CAM reach through the CAM (default 2um)
  --walkers N, --steps N   --full: the random walk (default 2000 walkers, 5000 steps)
  -h, --help        this help
]==]

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
  if not (tg.io and tg.io.read) then fail(1, "tg.io.read is not available in this build") end
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

--- `tortuga describe --full`: tg.describe on a label stack (options already parsed).
function M.describe_full(o, pos, out, err)
  if o.all then usage_error("--all and --full: --full already has everything --all gives") end
  if o.axis then usage_error("--axis does not apply with --full (every axis is measured)") end
  if #pos ~= 1 then usage_error("expected one label stack, got %d arguments", #pos) end
  local path = pos[1]
  local phases = o.phases and M.parse_phases(o.phases) or { pore = 0, cam = 1, ise = 2 }
  if phases.cam == nil or phases.ise == nil then usage_error("--full needs phases named cam and ise (--phases pore=0,cam=1,ise=2)") end
  local density = o.density and M.parse_density(o.density) or nil
  local spacing, spacing_warning
  if o.spacing then spacing, spacing_warning = M.parse_spacing(o.spacing) end
  if spacing_warning then err:write("tortuga describe: warning: ", spacing_warning, "\n") end
  if o.collector and o.collector ~= "first" and o.collector ~= "last" then
    usage_error("--collector: expected first or last, got '%s'", o.collector)
  end
  if o.reach and not util.parse_length(o.reach) then usage_error("--reach: '%s' is not a length (2um, 500nm)", o.reach) end
  local function count(name)
    local v = o[name] and tonumber(o[name])
    if o[name] and not (v and v >= 1 and v == math.floor(v)) then usage_error("--%s: expected a positive integer, got '%s'", name, o[name]) end
    return v and math.tointeger(v) or nil
  end
  local walkers, steps = count("walkers"), count("steps")
  local threads = o.threads and parse_threads(o.threads) or nil
  return with_threads(threads, function()
    local tg = tg_lib()
    local labels = read_labels(path)
    local ok, d = pcall(tg.describe, labels, { phases = phases, spacing = spacing, density = density,
      per_gram_of = o["per-gram-of"], input = path, walk = { walkers = walkers or 2000, steps = steps or 5000 },
      active = { collector = o.collector or "first", reach = o.reach or "2um" },
      log = function(stage, s) err:write(string.format("tortuga describe: %-20s %6.2f s\n", stage, s)) end })
    if not ok then fail(1, "%s", clean(d):gsub("^tg%.describe: ", "")) end
    out:write(tostring(d), "\n")
    if o.json then
      local okj, e = pcall(d.write_json, d, o.json)
      if not okj then fail(1, "cannot write the JSON: %s", clean(e):gsub("^describe:write_json: ", "")) end
      out:write("\nwrote ", o.json, "\n")
    end
    return 0
  end)
end

local function describe_cmd(args, out, err)
  local o, pos = parse_args(args, { phases = "value", spacing = "value", json = "value", threads = "value",
                                    help = "flag", all = "flag", density = "value", ["per-gram-of"] = "value",
                                    axis = "value", full = "flag", collector = "value", reach = "value",
                                    walkers = "value", steps = "value" })
  if o.help then out:write(DESCRIBE_USAGE) return 0 end
  if o.full then return M.describe_full(o, pos, out, err) end
  for _, k in ipairs { "collector", "reach", "walkers", "steps" } do
    if o[k] then usage_error("--%s only applies with --full", k) end
  end
  if not o.all and (o.density or o["per-gram-of"] or o.axis) then
    usage_error("--%s only applies with --all", o.density and "density" or o["per-gram-of"] and "per-gram-of" or "axis")
  end
  local density = o.density and M.parse_density(o.density) or nil
  if o.axis and o.axis ~= "x" and o.axis ~= "y" and o.axis ~= "z" then
    usage_error("--axis: expected x, y or z, got '%s'", o.axis)
  end
  if #pos == 0 then usage_error("missing the label stack to describe (tortuga describe LABELS.tif --phases pore=0,...)") end
  if #pos > 1 then usage_error("expected one label stack, got %d arguments ('%s', '%s'%s)", #pos, pos[1], pos[2],
                               #pos > 2 and ", ..." or "") end
  local path = pos[1]
  local phases = o.phases and M.parse_phases(o.phases) or nil
  local spacing, spacing_warning
  if o.spacing then spacing, spacing_warning = M.parse_spacing(o.spacing) end
  local threads = o.threads and parse_threads(o.threads) or nil
  if spacing_warning then err:write("tortuga describe: warning: ", spacing_warning, "\n") end

  return with_threads(threads, function()
    local labels, kind = read_labels(path)
    local res = M.describe(labels, { phases = phases, spacing = spacing, input = path, all = o.all,
                                     density = density, per_gram_of = o["per-gram-of"], axis = o.axis })
    for _, w in ipairs(res.warnings or {}) do err:write("tortuga describe: warning: ", w, "\n") end
    out:write(path, "\n\n", M.format(res))
    if o.json then
      local tg = tg_lib()
      local prov = provenance(path, { phases = phases, spacing = spacing or "file", all = o.all or nil,
                                      density = density, per_gram_of = o["per-gram-of"], axis = o.axis })
      if kind == "file" then
        local hex, size = tg._core.sha256_file(path)
        if not hex then fail(1, "cannot hash '%s': %s", path, tostring(size)) end
        prov.sha256, prov.size_bytes = hex, size
      else
        prov.note = "the input is not a single file: no SHA-256"
      end
      res.provenance = prov
      res._cmd = "tortuga describe"
      write_json(o.json, res, err)
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
  if not (tg.generate and tg.generate.cathode) then
    fail(1, "tg.generate.cathode is not available in this build, so there is no sample to describe")
  end
  if o.save and not (tg.io and tg.io.write) then fail(1, "--save: tg.io.write is not available in this build") end
  return with_threads(threads, function()
    local ok, labels = pcall(tg.generate.cathode, { size = { size, size, size }, seed = seed })
    if not ok then fail(1, "generating the sample failed: %s", clean(labels)) end
    local phases = { pore = 0, cam = 1, ise = 2 }
    local name = string.format("tg.generate.cathode{size={%d,%d,%d}, seed=%d}", size, size, size, seed)
    local res = M.describe(labels, { phases = phases, input = name, spacing_source = "generator" })
    for _, w in ipairs(res.warnings or {}) do err:write("tortuga demo: warning: ", w, "\n") end
    out:write("generated sample: ", name, "\n\n", M.format(res))
    if o.save then
      local wok, werr = pcall(tg.io.write, o.save, labels)
      if not wok then fail(1, "--save: %s", clean(werr)) end
      out:write("\nwrote ", o.save, "; try: tortuga describe ", o.save, " --phases pore=0,cam=1,ise=2\n")
    else
      out:write("\nYour own label stack: tortuga describe LABELS.tif --phases pore=0,cam=1,ise=2 --spacing 100nm\n")
    end
    if o.json then
      res.provenance = provenance("tg.generate.cathode", { size = { size, size, size }, seed = seed, phases = phases })
      res._cmd = "tortuga demo"
      write_json(o.json, res, err)
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
