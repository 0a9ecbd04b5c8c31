-- # From FIB-SEM slices to cell performance
--
-- The study of Minnmann et al. (J. Electrochem. Soc. 171, 060514, 2024) in one notebook: three composite
-- cathodes whose solid electrolyte (ISE) was milled to different particle sizes, imaged slice by slice in a
-- FIB-SEM, segmented into pores, active material (CAM) and ISE, described, and set beside the measured cells.
-- Here the samples are generated, so every step can be checked against the truth.
--
-- The boxes have `TORTUGA_NOTEBOOK_SIZE` voxels a side (default 96) of 250 nm; the particle sizes are scaled
-- down with the box so that several particles fit (the script `examples/paper_workflow.lua` runs the full
-- 200³ version at 100 nm).

-- %%
tg = require "tortuga"
SIZE = tonumber(os.getenv("TORTUGA_NOTEBOOK_SIZE")) or 96
SPACING = 2.5e-7
SCALE = math.min(1, SIZE * SPACING / 24e-6)       -- particle sizes shrink with small boxes
PHASES = { pore = 0, cam = 1, ise = 2 }
DENSITY = { cam = 4.7e3, ise = 1.9e3 }            -- NCM and Li3PS4-0.5LiI, kg/m3
CAM_SHARE = (0.7 / 4.7) / (0.7 / 4.7 + 0.3 / 1.9) -- 70:30 by weight, as a volume share of the solid
CORES = 0.7 * (1 - CAM_SHARE) * 0.92              -- 70 % of the ISE packed as particles before the CAM
DESIGNS = { { name = "BM10", ise_d50 = 7.41e-6 }, { name = "BM03", ise_d50 = 4.93e-6 }, { name = "BM01", ise_d50 = 5.93e-6 } }
string.format("%d³ voxels of %g nm; particle sizes x %.2f; CAM %.1f %% of the solid volume", SIZE, SPACING * 1e9, SCALE,
  100 * CAM_SHARE)

-- %%
-- ## One sample, step by step
--
-- `tg.generate.cathode` builds the microstructure (the truth), `tg.generate.sem` renders what the microscope
-- would record: a backscatter (BSE) and a secondary-electron (SE) image of every slice, with slice drift,
-- curtaining stripes on the SE image, uneven illumination, noise and blur, and above the specimen the protective
-- cap an operator deposits before milling, with a fiducial cross milled into it.

-- %%
truth = tg.generate.cathode { size = { SIZE, SIZE, SIZE }, spacing = SPACING, cam_fraction = CAM_SHARE * 0.92,
                              porosity = 0.08, cam_d50 = 4e-6 * SCALE, ise_d50 = 4.93e-6 * SCALE, ise_cores = CORES,
                              seed = 2 }
CAP = math.max(12, SIZE // 6)                     -- rows of protective cap with a fiducial cross, above the specimen
bse, se, info = tg.generate.sem(truth, { drift = 0.3, noise = 6, blur = 0.8, curtaining = 8, illumination = 0.15,
                                         cap = CAP, seed = 2 })
tg.display(truth)
se

-- %%
-- ## Preprocessing
--
-- As in the paper: divide each slice by a strongly blurred copy of itself (illumination), register the slices
-- by phase correlation on the fiducial cap (the same in every slice; the specimen changes from slice to slice and
-- a translation cannot tell that from drift), apply the same shifts to both detectors and crop to the specimen,
-- remove the curtaining with the wavelet–Fourier stripe filter, and stretch the contrast.

-- %%
sigma = SIZE / 8
aligned, shifts, ainfo = tg.filter.correct_drift(
  { tg.filter.flatten(bse, { sigma = sigma }), tg.filter.flatten(se, { sigma = sigma }) },
  { roi = { y = { 1, CAP } }, mode = "fixed", rows = { CAP + 1, CAP + SIZE } })
region = ainfo.region
bse_p = tg.filter.normalize(aligned[1])
se_p = tg.filter.normalize(tg.filter.destripe(aligned[2]))
err = 0
for z, s in ipairs(shifts) do err = err + (s.x - info.drift[z].x) ^ 2 + (s.y - info.drift[z].y) ^ 2 end
print(string.format("drift: %d slices, RMS error against the truth %.3f px", #shifts, math.sqrt(err / #shifts)))
se_p

-- %%
-- ## Segmentation
--
-- A random forest on ilastik's image features of both channels, trained on a few strokes: four rows and four
-- columns of the truth on three slices (value = label + 1; 0 = not scribbled).

-- %%
truth_c = truth:view { x = region.x, y = { region.y[1] - CAP, region.y[2] - CAP } }
nx, ny, nz = truth_c:dims()
scribbles = tg.volume.new { nx, ny, nz, dtype = "u8", spacing = truth_c:spacing() }
for _, z in ipairs { math.max(1, nz // 6), (nz + 1) // 2, nz - nz // 6 } do
  for k = 1, 4 do
    for i = 1, nx do scribbles:set(i, k * ny // 5, z, truth_c:get(i, k * ny // 5, z) + 1) end
    for j = 1, ny do scribbles:set(k * nx // 5, j, z, truth_c:get(k * nx // 5, j, z) + 1) end
  end
end
rf = tg.segment.forest { trees = 30, seed = 1, classes = { pore = 1, cam = 2, ise = 3 } }
rf:train({ bse_p, se_p }, scribbles)
seg = tg.segment.clean(rf:predict({ bse_p, se_p }), { min_size = 20 }):map { [1] = 0, [2] = 1, [3] = 2 }
ev = tg.segment.evaluate(seg, truth_c)
print(string.format("voxel accuracy %.4f, mean IoU %.4f", ev.accuracy, ev.mean_iou))
seg

-- %%
-- ## Every descriptor in one call
--
-- `tg.describe` gives the paper's analysis: fractions, the interfaces of Eq. 1 per gram of CAM, chords, percolation,
-- local thickness, random-walk and flux tortuosity of CAM and ISE along x, y and z, the ISE tortuosity with the
-- pores filled, and the active-CAM estimate — with units and provenance.

-- %%
d = tg.describe(seg, { density = DENSITY, walk = { walkers = 500, steps = 1500 }, input = "BM03 (generated, segmented)" })
print(d)

-- %%
-- ## Three samples and the measured cells
--
-- The same for the three ISE sizes of the paper (described on the truth here, to keep the notebook quick), then
-- the paper's measured values beside them. With three samples no correlation can be significant: the exact
-- permutation test cannot give p below 1/3, and `tg.analysis.correlate` says so instead of printing a t-test.

-- %%
list = {}
for i, design in ipairs(DESIGNS) do
  local labels = tg.generate.cathode { size = { SIZE, SIZE, SIZE }, spacing = SPACING, cam_fraction = CAM_SHARE * 0.92,
                                       porosity = 0.08, cam_d50 = 4e-6 * SCALE, ise_d50 = design.ise_d50 * SCALE,
                                       ise_cores = CORES, seed = i }
  local di = tg.describe(labels, { density = DENSITY, thickness = false, walk = { walkers = 500, steps = 1500 } })
  list[i] = { name = design.name, descriptors = { interfaces = di.interfaces, tau = di.tau, active_cam = di.active_cam,
                                                  design = { ise_d50 = design.ise_d50 } } }
end
measured = tg.analysis.paper_reference()
S = tg.analysis.samples { measured = measured, table.unpack(list) }
rows = {}
for _, name in ipairs { "BM10", "BM03", "BM01" } do
  local s = S:get(name)
  rows[#rows + 1] = { sample = name, ise_d50_um = s.descriptors["design.ise_d50"] * 1e6,
                      S_cam_ise = s.descriptors["interfaces.cam-ise.per_gram"], S_cam_ise_measured = s.measured.S_cam_ise,
                      tau_ise_walk = s.descriptors["tau.ise.walk.tau.mean"], kappa_ion_exp = s.measured.kappa_ion_exp,
                      active_cam = s.descriptors["active_cam.active"], utilisation = s.measured.cam_utilization_initial }
end
rows

-- %%
c = tg.analysis.correlate(S, { x = "design.ise_d50", y = "tau.ise.walk.tau.mean" })
print(string.format("ionic tau (walk) vs ISE d50: n = %d, Pearson r = %.3f (p = %.3f), Spearman rho = %.3f (p = %.3f)",
  c.n, c.pearson.r, c.pearson.p, c.spearman.rho, c.spearman.p))
for _, note in ipairs(c.notes or {}) do print("note: " .. note) end

-- %%
-- ## A figure
--
-- `tg.report.plot` draws with gnuplot into a PNG; `tg.kernel.image` shows it here (`tg.report.html` would put
-- everything, with the slices, into one page).

-- %%
data = {}
for _, r in ipairs(rows) do data[#data + 1] = { r.ise_d50_um, r.S_cam_ise, r.sample } end
png = os.tmpname() .. ".png"
ok, why = tg.report.plot(png, { title = "S_CAM-ISE against the ISE particle size", data = data, size = { 560, 360 },
  gnuplot = "set xlabel 'ISE d50 (um)'\nset ylabel 'S_CAM-ISE (m2 per g CAM)'\nset offsets 0.5, 0.5, 0.05, 0.05\n" ..
            "plot DATA using 1:2 with points pt 7 ps 2 notitle, '' using 1:2:3 with labels offset 0,1 notitle" })
if ok then tg.display(tg.kernel.image(png)) else print("no figure: " .. why) end
