--- tg.analysis — samples with descriptors and measured cell data, the paper's experimental arithmetic
-- (Eqs. 2 and 3, coverage, lambda), and correlations between them.
--
--   local S = tg.analysis.samples("../shared/reference/minnmann2024-measured.json")   -- or a .csv
--   local S = tg.analysis.samples{
--     { name = "BM10", descriptors = { fractions = f, surfaces = s, flux_ise = r }, measured = { sigma_ion_eff = "0.05 mS/cm" } },
--     { name = "BM03", ... },
--     measured = "minnmann2024-measured.json",     -- merged by sample name (samples only there are kept too)
--     derive = { phi_ise = "fractions.by_name.ise" },
--   }
--   local c = tg.analysis.correlate(S, { x = "surfaces.interfaces.1-2", y = "discharge_capacity_0p1C" })
--   c.pearson.r, c.pearson.p, c.spearman.rho, c.spearman.p, c.fit.slope, c.fit.se, c.n
--   tg.analysis.write_csv("samples.csv", S);  tg.analysis.write_csv("correlations.csv", c)
--
-- Samples. Each sample has a name and four maps from variable names to numbers:
--   descriptors  the result tables of tg.measure / tg.transport / tg.describe (or plain numbers), flattened to
--                dotted names: {fractions = {by_name = {cam = 0.5}}} -> "fractions.by_name.cam"; label keys stay
--                numbers ("surfaces.interfaces.1-2", "fractions.1"). Arrays (chord lists, MSD curves) and volumes
--                are not variables; the raw tables stay in sample.results for tg.report.
--   measured     cell data. A value is a number (taken as is), a string with a unit ("0.05 mS/cm"), {value, "unit"},
--                a range {lo, hi} (its midpoint; the range is kept in sample.ranges), or missing (nil, JSON null,
--                an empty CSV cell, "NA"). Units are converted to: S/m, m, m2 (areas), m2/g (specific areas, as
--                tg.measure.surfaces), mAh/g, ohm, Pa, 1. Key suffixes of the JSON reference file name the unit:
--                sigma_ion_bulk_mS_cm = 2.0 -> sigma_ion_bulk = 0.2 (S/m); the original key still finds the
--                value as given. CSV headers may carry a unit in brackets: "sigma_ion_eff [mS/cm]".
--                A unit that does not parse raises, naming the sample, the key and the known units.
--   derived      computed from the other two (recomputed by S:derive(opts)):
--                sigma_el_eq2, sigma_ion_eq2  Eq. 2, sigma = l / (R A / layers): R_el / R_ion (ohm), thickness (m;
--                                             thickness_el / thickness_ion override), area (m2); layers_ion = 2 (the
--                                             full-blocking cell measures two electrode layers: R is halved),
--                                             layers_el = 1.
--                kappa_ion_eq3, kappa_el_eq3  Eq. 3, kappa = sigma_bulk / sigma_eff * phi: sigma_ion_bulk and
--                                             sigma_ion_eff (measured, else sigma_ion_eq2), phi = the ISE volume
--                                             fraction (derive.phi_ise: a variable name or a number; default
--                                             ise_vol_frac or segmented_ise_vol_frac if measured, else the
--                                             descriptor fractions.by_name.ise);
--                                             the electronic one likewise with sigma_el_bulk and phi_cam.
--                coverage, coverage_pore      S_cam_ise / cam_specific_surface and S_cam_pore / cam_specific_surface
--                                             (both m2/g: the paper's 0.11 / 0.5 = 22 %).
--                coverage_microstructure      the same with S_CAM-ISE per gram of CAM from the descriptors
--                                             (surfaces.specific.per_gram.interfaces.<cam>-<ise>).
--                coverage_geometric           S_CAM-ISE / S_CAM from the descriptors' areas (share of the CAM
--                                             surface touching ISE).
--                lambda                       d_CAM / d_ISE from cam_d50 and ise_d50 (measured; or from size
--                                             distributions cam_psd / ise_psd = {size = {...}, cumulative = {...}}
--                                             or {size = {...}, fraction = {...}}, interpolated at 50 %).
--                lambda_thickness             the same from the local-thickness d50 of the descriptors
--                                             (derive.d_cam / derive.d_ise, default thickness.cam.d50 / thickness.ise.d50).
--   Phase labels for the descriptor names: sample.phases or derive.phases (default {pore = 0, cam = 1, ise = 2}).
--   A variable name may be qualified ("measured.ise_d50", "derived.lambda", "descriptors.fractions.1"); a plain
--   name is looked up in all three and raises if two categories hold different values under it.
--
-- Correlation. tg.analysis.correlate(S, {x = name | function(sample) | {names...}, y = ..., permutation = "auto"})
--   --> { x = ..., y = ..., n = ..., samples = {names}, excluded = {names with a missing value},
--         pearson = {r, p, p_t, p_exact, method}, spearman = {rho, p, p_t, p_exact, method},
--         fit = {slope, intercept, se, se_intercept, r2, rss, sigma2, df, cov}, data = {x = {...}, y = {...}},
--         notes = {...} }
--   p_t: the t-distribution (scipy.stats.pearsonr / spearmanr); p_exact: the exact two-sided permutation test
--   over all N! pairings (scipy.stats.permutation_test(..., permutation_type="pairings"), computed when N <= 8);
--   p is p_exact when computed (permutation = "auto" and N <= 8, or true), else p_t. Spearman ranks ties by their
--   average. The fit is y = intercept + slope x by least squares (core.analysis.lstsq, LAPACKE), se = the standard
--   error of the slope (numpy.polyfit(x, y, 1, cov=True)'s sqrt of the diagonal).
--   Fewer than 3 complete samples: n is given, the coefficient tables are empty and notes say why (no fake
--   p-values). Constant x or y: no coefficient for it (notes say so); the fit still runs when only y is constant.
--   x or y a list of names: a matrix { x = {...}, y = {...}, pairs = {[x][y] = result},
--   pearson = {r = {{...}}, p = {{...}}}, spearman = {rho = ..., p = ...}, n = {{...}} } (undefined entries are
--   tg.json.null); tg.analysis.matrix(S, names) is correlate with x = y = names.
--   Lower level: tg.analysis.pearson(xs, ys), spearman(xs, ys), lstsq(X, y, {intercept = true}), ranks(xs),
--   t_sf(t, df), sigma_from_resistance{...}, kappa{...}, d50(psd), clock() (monotonic wall seconds).
--
-- Workflow helpers: tg.analysis.paper_reference([script]) --> the path of the paper's measured-values JSON when
-- found, else a table of the values its text gives; tg.analysis.stopwatch([log]) --> sw with sw:time(stage, f, ...),
-- sw.timings (for tg.report.html) and sw:total().
--
-- The parts, each with a header saying its job: tortuga.analysis.units (quantities and units),
-- .files (sample tables from JSON / CSV, CSV out), .derive (Eq. 2, Eq. 3, coverage, lambda), .samples (the sample
-- set), .stats (correlations and fits), .workflow (the paper's values, the stopwatch). This file puts their public
-- functions in one table.
local units = require "tortuga.analysis.units"
local files = require "tortuga.analysis.files"
local derive = require "tortuga.analysis.derive"
local samples = require "tortuga.analysis.samples"
local stats = require "tortuga.analysis.stats"
local workflow = require "tortuga.analysis.workflow"

local M = {}

M.convert = units.convert
M.samples, M.is_samples = samples.samples, samples.is_samples
M.sigma_from_resistance, M.kappa, M.d50 = derive.sigma_from_resistance, derive.kappa, derive.d50
for _, name in ipairs { "ranks", "t_sf", "betainc", "pearson", "spearman", "lstsq", "correlate", "matrix",
                        "correlations_csv", "write_csv" } do
  M[name] = stats[name]
end
M.paper_reference, M.stopwatch, M.clock = workflow.paper_reference, workflow.stopwatch, workflow.clock
M._write_text = files.write_text -- (examples/particle_size_study.lua writes its own CSV with it)

return M
