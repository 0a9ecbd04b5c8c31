-- preprocess.lua — raw FIB-SEM stacks (BSE + SE) to aligned, flattened, destriped, normalised stacks.
--
--   tortuga examples/preprocess.lua                         the built-in sample: tg.generate.sem of tg.generate.cathode
--   tortuga examples/preprocess.lua bse.tif se.tif          your stacks (same dims; SE optional)
--   options: --out DIR (default out/preprocess)  --size N (default 160)  --slices N (default 40)  --seed N
--            --small (64x64x12, for tests)  --flatten-sigma PX (default: 1/8 of the slice)  --saturated PCT (0.35)
--            --roi-rows A,B (register on image rows A..B only, e.g. the protective cap with its fiducial; the
--            generated sample has a cap, and its rows are used)
--
-- The paper's chain (Minnmann et al. 2024): MultiStackReg drift correction with the same shifts for BSE and SE,
-- division by a strongly blurred copy, Xlib's stripe filter on the SE stack (curtaining), contrast normalisation.
-- Writes bse_pre.tif, se_pre.tif (ImageJ-calibrated), before/after PNGs of the middle slice, drift.csv, and prints
-- the drift table (estimated vs true for the generated sample).
local tg = require "tortuga"
local util = tg.util

local opts, inputs = util.script_args(arg, { out = "out/preprocess", size = 160, slices = 40, seed = 1, small = false,
                                             flatten_sigma = 0, saturated = 0.35, roi_rows = "" }, "preprocess")
if opts.small then opts.size, opts.slices = 64, 12 end
os.execute("mkdir -p '" .. opts.out .. "'")

-- 1. the raw stacks
local bse, se, truth
local roi, rows -- registration rows (the cap) and the specimen rows kept
if opts.roi_rows ~= "" then
  local a, b = tostring(opts.roi_rows):match("^(%d+),(%d+)$")
  if not a then error("preprocess: --roi-rows expects A,B (image rows, 1-based), got " .. tostring(opts.roi_rows), 0) end
  roi = { y = { tonumber(a), tonumber(b) } }
end
if inputs[1] then
  bse = tg.io.read(inputs[1])
  se = inputs[2] and tg.io.read(inputs[2]) or nil
  print(string.format("read %s%s", tostring(bse), se and (" and " .. tostring(se)) or ""))
else
  local labels = tg.generate.cathode { size = { opts.size, opts.size, opts.slices }, spacing = 1e-7, seed = opts.seed }
  local info
  local cap = math.max(12, opts.size // 6)
  bse, se, info = tg.generate.sem(labels, { drift = 0.5, curtaining = 8, illumination = 0.15, noise = 6, cap = cap,
                                            seed = opts.seed })
  truth = info.drift
  roi, rows = roi or { y = { 1, cap } }, { cap + 1, cap + opts.size }
  print(string.format("generated BSE and SE stacks %s with drift, curtaining, illumination and noise", tostring(bse)))
end

-- 2. illumination first: a slowly moving illumination field would otherwise look like drift to the registration
local bnx, bny = bse:dims()
local sigma = opts.flatten_sigma > 0 and opts.flatten_sigma or math.max(bnx, bny) / 8
local bse_f = tg.filter.flatten(bse, { sigma = sigma })
local se_f = se and tg.filter.flatten(se, { sigma = sigma })

-- 3. drift: register the BSE stack, apply the same shifts to both (MultiStackReg's identical correction); on a
-- region that is the same in every slice (a fiducial in the protective cap) when there is one
local t0 = os.clock()
local aligned, shifts, ainfo = tg.filter.correct_drift(se_f and { bse_f, se_f } or { bse_f },
  { roi = roi, mode = roi and "fixed" or nil, rows = rows })
local rinfo = ainfo.register
print(string.format("registered %d slices in %.2f s (cpu)%s", #shifts, os.clock() - t0,
  roi and string.format(" on rows %d..%d", roi.y[1], roi.y[2]) or ""))
local region = ainfo.region
local bse_a, se_a = aligned[1], aligned[2]
local nx, ny, nz = bse_a:dims()
print(string.format("aligned and cropped to the common region x %d..%d, y %d..%d (%dx%dx%d)",
  region.x[1], region.x[2], region.y[1], region.y[2], nx, ny, nz))
-- 4. curtaining (SE, where it shows), contrast
local se_d = se_a and tg.filter.destripe(se_a)
local bse_n = tg.filter.normalize(bse_a, { saturated = opts.saturated })
local se_n = se_d and tg.filter.normalize(se_d, { saturated = opts.saturated })

-- 5. outputs
tg.io.write(opts.out .. "/bse_pre.tif", bse_n)
if se_n then tg.io.write(opts.out .. "/se_pre.tif", se_n) end
local zmid = (nz + 1) // 2
local zraw = zmid -- same slice index before and after (the crop only removes x, y)
tg.io.write_png(opts.out .. "/bse_before.png", bse, { z = zraw })
tg.io.write_png(opts.out .. "/bse_after.png", bse_n, { z = zmid })
if se then
  tg.io.write_png(opts.out .. "/se_before.png", se, { z = zraw })
  tg.io.write_png(opts.out .. "/se_after.png", se_n, { z = zmid })
end

local csv = assert(io.open(opts.out .. "/drift.csv", "w"))
csv:write(truth and "slice,dx,dy,true_dx,true_dy,quality\n" or "slice,dx,dy,quality\n")
print(truth and "\nslice   dx (px)   dy (px)   true dx   true dy   error" or "\nslice   dx (px)   dy (px)   quality")
local se2 = 0
for z, s in ipairs(shifts) do
  if truth then
    local e = math.sqrt((s.x - truth[z].x) ^ 2 + (s.y - truth[z].y) ^ 2)
    se2 = se2 + e * e
    csv:write(string.format("%d,%.4f,%.4f,%.4f,%.4f,%.4f\n", z, s.x, s.y, truth[z].x, truth[z].y, rinfo.quality[z]))
    if z <= 10 or z == #shifts then
      print(string.format("%5d  %8.3f  %8.3f  %8.3f  %8.3f  %6.3f", z, s.x, s.y, truth[z].x, truth[z].y, e))
    elseif z == 11 then print("  ...") end
  else
    csv:write(string.format("%d,%.4f,%.4f,%.4f\n", z, s.x, s.y, rinfo.quality[z]))
    print(string.format("%5d  %8.3f  %8.3f  %6.3f", z, s.x, s.y, rinfo.quality[z]))
  end
end
csv:close()
if truth then
  print(string.format("RMS drift error %.3f px over %d slices, measured on the fiducial cap (the specimen itself\n"
    .. "changes from slice to slice, which a translation cannot tell from drift)", math.sqrt(se2 / #shifts), #shifts))
end
print(string.format("\nwrote %s/bse_pre.tif%s, before/after PNGs of slice %d, drift.csv", opts.out,
  se_n and ", se_pre.tif" or "", zmid))
