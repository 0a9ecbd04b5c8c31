-- # A virtual particle-size study
--
-- Before milling an electrolyte to a new size, generate the composite cathodes it would give and measure them:
-- how do the CAM–ISE interface, the ionic tortuosity and the active-CAM estimate move with the size ratio
-- λ = d_CAM / d_ISE? Each point is the mean of several seeds, with its spread.
--
-- `TORTUGA_NOTEBOOK_SIZE` sets the box (default 80 voxels of 250 nm; particle sizes shrink with smaller boxes).
-- `examples/particle_size_study.lua` runs a larger grid with the CAM:ISE ratio as a second axis.

-- %%
tg = require "tortuga"
SIZE = tonumber(os.getenv("TORTUGA_NOTEBOOK_SIZE")) or 80
SPACING = 2.5e-7
SCALE = math.min(1, SIZE * SPACING / 20e-6)
CAM_D50 = 4e-6 * SCALE
ISE_D50 = { 3e-6 * SCALE, 5e-6 * SCALE, 7.5e-6 * SCALE }
SEEDS = SIZE >= 64 and 3 or 2
CAM_SHARE = (0.7 / 4.7) / (0.7 / 4.7 + 0.3 / 1.9) -- 70:30 by weight
CORES = 0.7 * (1 - CAM_SHARE) * 0.92              -- 70 % of the ISE packed as particles before the CAM
string.format("%d³ voxels of %g nm, CAM d50 %.2f µm, %d seeds per size", SIZE, SPACING * 1e9, CAM_D50 * 1e6, SEEDS)

-- %%
-- ## The sweep
--
-- `tg.describe` without the local thickness (not needed here), with a short random walk.

-- %%
runs = {}
for _, ise in ipairs(ISE_D50) do
  for seed = 1, SEEDS do
    local labels = tg.generate.cathode { size = { SIZE, SIZE, SIZE }, spacing = SPACING, cam_fraction = CAM_SHARE * 0.92,
                                         porosity = 0.08, cam_d50 = CAM_D50, ise_d50 = ise, ise_cores = CORES,
                                         seed = seed }
    local d = tg.describe(labels, { density = { cam = 4.7e3, ise = 1.9e3 }, thickness = false, transport_phases = { "ise" },
                                    walk = { walkers = 500, steps = 1500, seed = seed } })
    runs[#runs + 1] = { lambda = CAM_D50 / ise, seed = seed, S_cam_ise = d.interfaces["cam-ise"].per_gram,
                        coverage = d.coverage.cam_ise, tau_walk = d.tau.ise.walk.tau.mean, tau_flux_z = d.tau.ise.flux.tau.z,
                        active = d.active_cam.active }
  end
end
runs

-- %%
-- ## Mean and spread per size

-- %%
summary = {}
for _, ise in ipairs(ISE_D50) do
  local lambda, vals = CAM_D50 / ise, {}
  for _, r in ipairs(runs) do if r.lambda == lambda then vals[#vals + 1] = r end end
  local row = { lambda = lambda, n = #vals }
  for _, k in ipairs { "S_cam_ise", "tau_walk", "active" } do
    local m, q = 0, 0
    for _, r in ipairs(vals) do m = m + r[k] / #vals end
    for _, r in ipairs(vals) do q = q + (r[k] - m) ^ 2 end
    row[k], row[k .. "_sd"] = m, #vals > 1 and math.sqrt(q / (#vals - 1)) or 0
  end
  summary[#summary + 1] = row
end
table.sort(summary, function(a, b) return a.lambda < b.lambda end)
summary

-- %%
-- ## Against λ

-- %%
data = {}
for _, s in ipairs(summary) do data[#data + 1] = { s.lambda, s.S_cam_ise, s.S_cam_ise_sd, s.tau_walk, s.tau_walk_sd } end
png = os.tmpname() .. ".png"
ok, why = tg.report.plot(png, { title = "Interface and ionic tortuosity against the size ratio", data = data,
  size = { 600, 380 }, gnuplot = "set xlabel 'lambda = d_CAM / d_ISE'\nset ylabel 'S_CAM-ISE (m2/g)'\nset y2label 'tau ISE (walk)'\n" ..
    "set y2tics\nset ytics nomirror\nset key top left\n" ..
    "plot DATA using 1:2:3 with yerrorlines lw 2 pt 7 title 'S_CAM-ISE', '' using 1:4:5 axes x1y2 with yerrorlines lw 2 pt 5 title 'tau ISE'" })
if ok then tg.display(tg.kernel.image(png)) else print("no figure: " .. why) end
