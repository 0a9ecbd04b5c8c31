-- correlate.lua — microstructure descriptors of three generated cathodes beside the paper's measured cell data:
-- correlations, a CSV, a JSON and an HTML report.
--
--   tortuga examples/correlate.lua                      three 160³ samples (100 nm voxels), ISE d50 as BM10/BM03/BM01
--   tortuga examples/correlate.lua --measured cells.json   your measured values (JSON or CSV, samples named BM10, ...)
--   options: --out DIR (default out/correlate)  --size N (160)  --seed N  --walkers N (2000)  --steps N (4000)
--            --small (48³ at 250 nm, few walkers: for tests)  --measured PATH
--
-- Minnmann et al. (2024) milled their ISE to d50 = 7.41 µm (BM10), 4.93 µm (BM03) and 5.93 µm (BM01) and mixed it
-- with NCM (d50 3–5 µm) 70:30 by weight (about 50:50 by volume). Here tg.generate.cathode builds one sample per
-- ISE size (cam_d50 = 4 µm), tortuga measures each (fractions, interface areas per gram of CAM, chords, ionic
-- percolation, random-walk and flux tortuosity) and tg.analysis sets the descriptors beside the measured values
-- of the paper (../shared/reference/minnmann2024-measured.json): does a smaller ISE give a larger S_CAM-ISE and a
-- lower ionic tortuosity, as the paper found? With three samples no correlation is significant (the exact
-- permutation test cannot go below p = 1/3); the report says so rather than print a t-test p-value.
local tg = require "tortuga"
local util = tg.util

local opts = util.script_args(arg, { out = "out/correlate", size = 160, seed = 1, small = false, walkers = 2000,
                                     steps = 4000, measured = "" }, "correlate")
local spacing = 1e-7
if opts.small then opts.size, spacing, opts.walkers, opts.steps = 48, 2.5e-7, 300, 600 end
os.execute("mkdir -p '" .. opts.out .. "'")

-- the measured values: the paper's reference file (or the values its text gives), or --measured
local measured, described = tg.analysis.paper_reference(arg and arg[0])
if opts.measured ~= "" then measured, described = opts.measured, opts.measured end
print("measured values: " .. described)

local phases = { pore = 0, cam = 1, ise = 2 }
local density = { cam = 4.7e3, ise = 1.9e3 }          -- NCM and Li3PS4-0.5LiI, kg/m3 (70:30 wt ~ 50:50 vol)
local designs = { { name = "BM10", ise_d50 = 7.41e-6 }, { name = "BM03", ise_d50 = 4.93e-6 }, { name = "BM01", ise_d50 = 5.93e-6 } }
if opts.small then for _, d in ipairs(designs) do d.ise_d50 = d.ise_d50 / 2.5 end end -- keep particles inside 12 µm

local sw = tg.analysis.stopwatch()
local function timed(stage, f, ...) return sw:time(stage, f, ...) end
local timings = sw.timings

local list = {}
for i, d in ipairs(designs) do
  local n = opts.size
  local labels = timed("generate", tg.generate.cathode, { size = { n, n, n }, spacing = spacing, cam_fraction = 0.5,
    cam_d50 = opts.small and 1.6e-6 or 4e-6, ise_d50 = d.ise_d50, porosity = 0.08, seed = opts.seed + i - 1 })
  local f = timed("fractions", tg.measure.fractions, labels, { phases = phases })
  local s = timed("surfaces", tg.measure.surfaces, labels, { phases = phases, density = density, per_gram_of = "cam" })
  local chords = {
    cam = timed("chords", tg.measure.chords, labels, { phase = phases.cam, axis = "all" }),
    ise = timed("chords", tg.measure.chords, labels, { phase = phases.ise, axis = "all" }),
  }
  local perc = timed("percolation", tg.measure.percolation, labels, { phase = phases.ise, axis = "z" })
  local tau = {}
  for _, ph in ipairs { "ise", "cam" } do
    tau[ph] = {}
    tau[ph].walk = timed("random walk", tg.transport.random_walk, labels,
      { phase = phases[ph], walkers = opts.walkers, steps = opts.steps, seed = opts.seed })
    local ok, r = pcall(timed, "flux", tg.transport.flux, labels, { phase = phases[ph], axis = "z", field = ph == "ise" })
    if ok then tau[ph].flux = r else print("flux (" .. ph .. ") skipped: " .. tostring(r)) end
  end
  local descriptors = { fractions = f, surfaces = s, percolation_ise = perc,
    tau_walk_ise = { mean = tau.ise.walk.tau.mean }, tau_walk_cam = { mean = tau.cam.walk.tau.mean },
    tau_flux_ise = tau.ise.flux and { z = tau.ise.flux.tau.z } or nil,
    chords_mean = { cam = tg.measure.cld(chords.cam.z, { bins = 10 }).mean, ise = tg.measure.cld(chords.ise.z, { bins = 10 }).mean } }
  local current = tau.ise.flux and tau.ise.flux.current and tau.ise.flux.current.z or nil
  local bse = timed("sem", tg.generate.sem, labels, { noise = 6, seed = opts.seed })
  list[i] = {
    name = d.name, phases = phases, descriptors = descriptors,
    results = { fractions = f, surfaces = s, chords = chords, tau = tau, current = current },
    images = { { title = "BSE (synthetic)", volume = bse, colormap = "grey" },
               { title = "labels: pore / CAM / ISE", volume = labels, colormap = "labels" } },
  }
  print(string.format("%s: ISE d50 %.2f µm  CAM %.3f ISE %.3f pore %.3f  S_CAM-ISE %.3f m2/g  tau_ISE walk %.2f%s",
    d.name, d.ise_d50 * 1e6, f.by_name.cam, f.by_name.ise, f.by_name.pore, s.specific.per_gram.interfaces["1-2"],
    tau.ise.walk.tau.mean, tau.ise.flux and string.format(" flux %.2f", tau.ise.flux.tau.z) or ""))
end

local S = timed("analysis", tg.analysis.samples, { measured = measured, table.unpack(list) })
print(S)

-- the paper's questions
local questions = {
  { x = "surfaces.specific.per_gram.interfaces.1-2", y = "measured.S_cam_ise" },       -- simulated vs measured S_CAM-ISE
  { x = "tau_walk_ise.mean", y = "kappa_ion_exp" },                                     -- ionic tortuosity: walk vs Eq. 3
  { x = "ise_d50", y = "surfaces.specific.per_gram.interfaces.1-2" },                   -- smaller ISE -> larger interface?
  { x = "ise_d50", y = "tau_walk_ise.mean" },                                           -- smaller ISE -> lower tau?
  { x = "derived.coverage_microstructure", y = "cam_utilization_initial" },
  { x = "ise_d50", y = "discharge_capacity_0p1C" },
}
local results = {}
for _, q in ipairs(questions) do
  local c = timed("analysis", tg.analysis.correlate, S, q)
  results[#results + 1] = c
  print(string.format("%-45s vs %-32s n=%d  r=%s p=%s  rho=%s p=%s", q.y, q.x, c.n,
    c.pearson.r and string.format("%.3f", c.pearson.r) or "-", c.pearson.p and string.format("%.3f", c.pearson.p) or "-",
    c.spearman.rho and string.format("%.3f", c.spearman.rho) or "-", c.spearman.p and string.format("%.3f", c.spearman.p) or "-"))
end
local matrix = tg.analysis.matrix(S, { "ise_d50", "surfaces.specific.per_gram.interfaces.1-2", "tau_walk_ise.mean",
                                       "percolation_ise.fractions.spanning", "discharge_capacity_0p1C" })
results[#results + 1] = matrix

tg.analysis.write_csv(opts.out .. "/samples.csv", S)
tg.analysis.write_csv(opts.out .. "/correlations.csv", results)
S:write_json(opts.out .. "/samples.json")
local path, info = timed("report", tg.report.html, opts.out .. "/report.html", {
  title = "Generated cathodes against Minnmann et al. (2024)",
  samples = S, correlations = results, timings = timings,
  variables = { "ise_d50", "derived.phi_ise", "surfaces.specific.per_gram.interfaces.1-2", "measured.S_cam_ise",
                "derived.coverage", "derived.coverage_microstructure", "tau_walk_ise.mean", "kappa_ion_exp",
                "derived.kappa_ion_eq3", "discharge_capacity_0p1C", "cam_utilization_initial" },
  notes = string.format("Three generated samples (%d³ voxels of %g nm; cam_d50 %g µm, ISE d50 as in the paper) set " ..
    "beside the measured cell data. With three samples the exact permutation test cannot give p below 1/3.",
    opts.size, spacing * 1e9, opts.small and 1.6 or 4),
})
print(string.format("\nwrote %s/samples.csv, correlations.csv, samples.json and %s (%d plots%s)", opts.out, path,
  info.figures, info.gnuplot and "" or "; gnuplot missing: tables only"))
