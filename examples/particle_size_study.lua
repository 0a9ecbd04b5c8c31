-- particle_size_study.lua — a virtual particle-size study: how the ISE particle size and the CAM:ISE ratio shape
-- the interfaces, the ionic tortuosity and the active CAM, before anyone mills a sample.
--
--   tortuga examples/particle_size_study.lua
--   options: --out DIR (out/particle_size_study)  --size N (120 voxels)  --spacing NM (200)  --seeds N (3)
--            --ise "3,4,5,6,7.5" (ISE d50 values, µm)  --ratios "60,70,80" (CAM weight %)  --cam-d50 UM (4)
--            --walkers N (1000)  --steps N (3000)  --cores F (0.7: share of the ISE packed as particle cores before
--            the CAM, tg.generate.cathode's ise_cores; 0 = CAM placed at random)
--            --small (two sizes, two ratios, two seeds at 40³: for tests)
--
-- For every ISE d50 and CAM:ISE weight ratio, tg.generate.cathode builds --seeds microstructures (NCM 4.7 g/cm3,
-- Li3PS4-0.5LiI 1.9 g/cm3, 8 % pores) and tg.describe measures each. λ = d_CAM / d_ISE is the paper's size ratio
-- (BM10: 0.7; BM03 and BM01: 1.0-1.2). The report plots, against λ and per ratio, the mean and the spread (one
-- standard deviation over the seeds) of S_CAM-ISE per gram of CAM, the coverage of the CAM by ISE, the ionic
-- tortuosity (random walk and flux along z) and the active-CAM estimate; study.csv has every run.
local tg = require "tortuga"
local util = tg.util

local opts = util.script_args(arg, { out = "out/particle_size_study", size = 120, spacing = 200, seeds = 3,
                                     ise = "3,4,5,6,7.5", ratios = "60,70,80", cam_d50 = 4, walkers = 1000, steps = 3000,
                                     cores = 0.7, small = false }, "particle_size_study")
if opts.small then
  opts.size, opts.spacing, opts.seeds, opts.ise, opts.ratios = 40, 250, 2, "2,3", "60,70"
  opts.cam_d50, opts.walkers, opts.steps = 1.6, 200, 400
end
local function numbers(s, what)
  local out = {}
  for x in tostring(s):gmatch("[^,%s]+") do
    local v = tonumber(x)
    if not v or v <= 0 then error(string.format("particle_size_study: --%s: '%s' is not a positive number", what, x), 0) end
    out[#out + 1] = v
  end
  if #out == 0 then error("particle_size_study: --" .. what .. " needs at least one value", 0) end
  return out
end
local ISE, RATIOS = numbers(opts.ise, "ise"), numbers(opts.ratios, "ratios")
for _, r in ipairs(RATIOS) do
  if r >= 100 then error("particle_size_study: --ratios are CAM weight percentages below 100, got " .. r, 0) end
end
if math.type(opts.seeds) ~= "integer" or opts.seeds < 1 then error("particle_size_study: --seeds must be an integer >= 1", 0) end
os.execute("mkdir -p '" .. opts.out .. "'")

local DENSITY = { cam = 4.7e3, ise = 1.9e3 }
local POROSITY = 0.08
local spacing = opts.spacing * 1e-9
local sw = tg.analysis.stopwatch()

local runs = {}
local total = #ISE * #RATIOS * opts.seeds
for _, wt in ipairs(RATIOS) do
  local cam = wt / 100
  local share = (cam / DENSITY.cam) / (cam / DENSITY.cam + (1 - cam) / DENSITY.ise)
  for _, ise_um in ipairs(ISE) do
    for seed = 1, opts.seeds do
      local labels = sw:time("generate", tg.generate.cathode, { size = { opts.size, opts.size, opts.size }, spacing = spacing,
        cam_fraction = share * (1 - POROSITY), porosity = POROSITY, cam_d50 = opts.cam_d50 * 1e-6, ise_d50 = ise_um * 1e-6,
        ise_cores = opts.cores * (1 - share) * (1 - POROSITY), seed = seed })
      local d = sw:time("describe", tg.describe, labels, { density = DENSITY, transport_phases = { "ise", "cam" },
        thickness = false, walk = { walkers = opts.walkers, steps = opts.steps, seed = seed },
        input = string.format("ise_d50 %g um, %g:%g, seed %d", ise_um, wt, 100 - wt, seed) })
      local r = {
        ratio = wt, ise_d50 = ise_um, seed = seed, lambda = opts.cam_d50 / ise_um,
        S_cam_ise = d.interfaces["cam-ise"].per_gram, coverage = d.coverage.cam_ise,
        tau_walk = d.tau.ise.walk.tau.mean, tau_flux = d.tau.ise.flux.tau.z,
        tau_cam_flux = d.tau.cam.flux.tau.z, active = d.active_cam.active, ise_fraction = d.fractions.by_name.ise,
        ise_spanning = d.percolation.ise.z.spanning,
      }
      runs[#runs + 1] = r
      print(string.format("[%d/%d] CAM %g wt%%  ISE d50 %4.1f µm  seed %d  λ %.2f  S_CAM-ISE %.3f m2/g  τ_ISE walk %.2f flux %.2f  active %.1f %%",
        #runs, total, wt, ise_um, seed, r.lambda, r.S_cam_ise, r.tau_walk, r.tau_flux, 100 * r.active))
      labels:release()
      collectgarbage()
    end
  end
end

-- every run as CSV (temporary name, then rename)
local COLS = { "ratio", "ise_d50", "seed", "lambda", "S_cam_ise", "coverage", "tau_walk", "tau_flux", "tau_cam_flux",
               "active", "ise_fraction", "ise_spanning" }
local lines = { table.concat(COLS, ",") }
for _, r in ipairs(runs) do
  local f = {}
  for i, c in ipairs(COLS) do f[i] = type(r[c]) == "number" and string.format("%.10g", r[c]) or tostring(r[c]) end
  lines[#lines + 1] = table.concat(f, ",")
end
tg.analysis._write_text(opts.out .. "/study.csv", table.concat(lines, "\n") .. "\n", "particle_size_study")

-- mean and spread per (ratio, size)
local function stats(list, key)
  local s, n = 0, 0
  for _, r in ipairs(list) do
    local v = r[key]
    if v == v and v ~= math.huge then s, n = s + v, n + 1 end
  end
  if n == 0 then return 0 / 0, 0 / 0 end
  local m, q = s / n, 0
  for _, r in ipairs(list) do
    local v = r[key]
    if v == v and v ~= math.huge then q = q + (v - m) ^ 2 end
  end
  return m, n > 1 and math.sqrt(q / (n - 1)) or 0
end
local summary = {}
for _, wt in ipairs(RATIOS) do
  for _, ise_um in ipairs(ISE) do
    local group = {}
    for _, r in ipairs(runs) do if r.ratio == wt and r.ise_d50 == ise_um then group[#group + 1] = r end end
    local row = { ratio = wt, ise_d50 = ise_um, lambda = opts.cam_d50 / ise_um, n = #group }
    for _, k in ipairs { "S_cam_ise", "coverage", "tau_walk", "tau_flux", "active" } do
      row[k], row[k .. "_sd"] = stats(group, k)
    end
    summary[#summary + 1] = row
  end
end
tg.json.write(opts.out .. "/study.json", { runs = runs, summary = summary, options = opts, tortuga_version = tg.version })

print("\nCAM wt%  ISE d50  λ      S_CAM-ISE (m2/g)   τ_ISE walk      τ_ISE flux z    active CAM")
for _, s in ipairs(summary) do
  print(string.format("%6g  %6.1f  %5.2f  %.3f ± %.3f     %.2f ± %.2f     %.2f ± %.2f     %.1f ± %.1f %%", s.ratio,
    s.ise_d50, s.lambda, s.S_cam_ise, s.S_cam_ise_sd, s.tau_walk, s.tau_walk_sd, s.tau_flux, s.tau_flux_sd, 100 * s.active,
    100 * s.active_sd))
end

-- plots: one series per ratio, mean ± sd against λ
local function figure(key, ylabel, title, scale)
  local blocks, plots = {}, {}
  for i, wt in ipairs(RATIOS) do
    local rows = {}
    for _, s in ipairs(summary) do
      if s.ratio == wt then rows[#rows + 1] = { s.lambda, s[key] * (scale or 1), s[key .. "_sd"] * (scale or 1) } end
    end
    table.sort(rows, function(a, b) return a[1] < b[1] end)
    blocks[i] = rows
    plots[i] = string.format("DATA index %d using 1:2:3 with yerrorlines lw 2 pt 7 title 'CAM %g wt%%'", i - 1, wt)
  end
  return { title = title, data = blocks, size = { 640, 400 },
           gnuplot = string.format("set xlabel 'λ = d_CAM / d_ISE'\nset ylabel '%s'\nset key top left\nplot %s", ylabel,
                                   table.concat(plots, ", ")),
           caption = "Mean ± one standard deviation over " .. opts.seeds .. " seeds per point." }
end
local path, info = sw:time("report", tg.report.html, opts.out .. "/report.html", {
  title = "Virtual particle-size study",
  notes = string.format("%d microstructures of %d³ voxels (%g nm): ISE d50 %s µm, CAM d50 %g µm, CAM %s wt%%, %d seeds each. " ..
    "λ = d_CAM / d_ISE; the paper's BM10 had λ = 0.7, BM03 and BM01 1.0–1.2.", #runs, opts.size, opts.spacing,
    table.concat(ISE, ", "), opts.cam_d50, table.concat(RATIOS, ", "), opts.seeds),
  figures = {
    figure("S_cam_ise", "S_CAM-ISE (m²/g of CAM)", "CAM-ISE interface area per gram of CAM"),
    figure("coverage", "coverage (%)", "Share of the CAM surface covered by ISE", 100),
    figure("tau_walk", "τ ISE (random walk, mean of x, y, z)", "Ionic tortuosity: random walk"),
    figure("tau_flux", "τ ISE (flux, z)", "Ionic tortuosity: flux along z"),
    figure("active", "active CAM (%)", "Active CAM (collector and reachable ISE, reach 2 µm)", 100),
  },
  timings = sw.timings,
})
print(string.format("\nwrote %s/study.csv, study.json and %s (%d plots) in %.1f s", opts.out, path, info.figures, sw:total()))
