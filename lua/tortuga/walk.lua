--- tg.transport.random_walk — tortuosity factors from lattice random walks (pytrax's method).
--
--   local rw = tg.transport.random_walk(labels, {phase = 1, walkers = 2000, steps = 5000, seed = 1})
--   rw.tau.x, rw.tau.y, rw.tau.z, rw.tau.mean     -- pytrax: 1 / slope of (axial MSD x dimensions) vs steps,
--                                                 -- fitted through the origin over the whole curve
--   rw.tau_late.z, rw.r2_late.z                   -- slope (with intercept) over the late part of the curve
--   rw.trend.z                                    -- tau (pytrax fit) over the first 25, 50, 75, 100 % of the walk
--   rw.msd.steps, rw.msd.x, ...                   -- the mean square displacement curves, in m^2
--   rw.reliable.z, rw.warnings                    -- false (and a warning saying why) when tau.z cannot be trusted:
--                                                 -- R^2 of the fit below 0.9 (walkers confined, as in closed
--                                                 -- pores), walkers moved less than 3 voxels (RMS) along the
--                                                 -- axis (too few steps, or strongly anisotropic voxels), or no
--                                                 -- net displacement at all (tau = inf)
--
-- Options: phase (label value walkers live in; required), walkers (2000), steps (5000), seed (1),
-- start = "phase" (anywhere in the phase) | "percolating" (only in voxels whose cluster spans the volume along
-- every axis of more than one voxel), connectivity (6, 18 or 26, for "percolating"),
-- fit = {from = 0.5, to = 1.0} (the late fit window, as fractions of the steps), stride (record every
-- `stride` steps; default steps/1000 rounded down, at least 1).
-- Convention: a refused move (into another phase) counts as a step; the volume is mirrored at its faces.
-- Anisotropic voxels: the axis of each step is chosen with probability proportional to 1/spacing^2, so free
-- space is isotropic and gives tau = 1 along every axis. Results do not depend on the thread count.
local core = require "tortuga.core"
local util = require "tortuga.util"
local volume = require "tortuga.volume"

local M = {}
local AXES = { "x", "y", "z" }

-- Least squares through the origin: slope and pytrax's R^2 (1 - SSres / SStot about the mean).
local function fit_origin(t, y, n)
  local sxy, sxx, mean = 0.0, 0.0, 0.0
  for i = 1, n do sxy, sxx, mean = sxy + t[i] * y[i], sxx + t[i] * t[i], mean + y[i] end
  if sxx == 0 then return nil end
  local a = sxy / sxx
  mean = mean / n
  local res, tot = 0.0, 0.0
  for i = 1, n do res, tot = res + (y[i] - a * t[i]) ^ 2, tot + (y[i] - mean) ^ 2 end
  return a, tot > 0 and 1 - res / tot or 1.0
end

-- Ordinary least squares with intercept over records i0..i1: slope and R^2.
local function fit_line(t, y, i0, i1)
  local n, st, sy = i1 - i0 + 1, 0.0, 0.0
  if n < 2 then return nil end
  for i = i0, i1 do st, sy = st + t[i], sy + y[i] end
  local mt, my = st / n, sy / n
  local stt, sty, syy = 0.0, 0.0, 0.0
  for i = i0, i1 do
    stt, sty, syy = stt + (t[i] - mt) ^ 2, sty + (t[i] - mt) * (y[i] - my), syy + (y[i] - my) ^ 2
  end
  if stt == 0 then return nil end
  local a = sty / stt
  return a, syy > 0 and (a * sty) / syy or 1.0
end

local MIN_R2, MIN_RMS = 0.9, 3 -- below these a tau is flagged as unreliable

-- Flag each tau the walk cannot support (result.reliable, result.warnings): a fit that is no straight line
-- through the origin (confinement), or walkers that hardly moved along the axis (rms: voxels, at the end).
local function assess(result, rms)
  local reliable, warnings = {}, {}
  for _, a in ipairs { "x", "y", "z", "mean" } do
    local tau, r2, why = result.tau[a], result.r2[a], nil
    if tau ~= nil then
      local p = result.axis_probability[a]
      if tau == math.huge then why = "no net displacement (tau = inf)"
      elseif r2 < MIN_R2 then
        why = string.format("the MSD is not a straight line through the origin (R^2 = %.2f): walkers are confined " ..
          "(closed pores) or the walk is too short; try start = 'percolating' or more steps", r2)
      elseif rms[a] and rms[a] < MIN_RMS then
        why = string.format("walkers moved only %.2g voxels (RMS) along %s in %.3g attempted moves along it: %s", rms[a], a,
          p * result.steps, p * result.steps < 10 * MIN_RMS ^ 2 and "too few steps for this axis (strongly anisotropic " ..
          "voxels make moves along the coarse axis rare); use more steps" or "walkers are confined along it")
      elseif a == "mean" and not (reliable.x ~= false and reliable.y ~= false and reliable.z ~= false) then
        why = "an axis is unreliable"
      end
      reliable[a] = why == nil
      if why then warnings[#warnings + 1] = string.format("tau.%s = %.4g is unreliable: %s", a, tau, why) end
    end
  end
  result.reliable, result.warnings = reliable, warnings
end

local function tau_of(slope)
  if slope == nil then return nil end
  if slope <= 0 then return math.huge end
  return 1 / slope
end

function M.random_walk(labels, opts)
  if not volume.is_volume(labels) then error("tg.transport.random_walk: expected a label volume, got " .. type(labels), 2) end
  local o = util.options(opts, { phase = util.NIL, walkers = 2000, steps = 5000, seed = 1, start = "phase",
                                 connectivity = 6, fit = { from = 0.5, to = 1.0 }, stride = util.NIL },
                         "tg.transport.random_walk")
  local where = "tg.transport.random_walk"
  for _, k in ipairs { "walkers", "steps", "stride" } do o[k] = math.tointeger(o[k]) or o[k] end -- 1e6 is an integer
  util.check(type(o.phase) == "number", where, "option 'phase' (the label walkers live in) is required")
  util.check(math.type(o.walkers) == "integer" and o.walkers >= 1, where, "walkers must be an integer >= 1, got %s", tostring(o.walkers))
  util.check(math.type(o.steps) == "integer" and o.steps >= 1, where, "steps must be an integer >= 1, got %s", tostring(o.steps))
  util.check(math.type(o.seed) == "integer", where, "seed must be an integer")
  util.check(o.start == "phase" or o.start == "percolating", where, "start must be 'phase' or 'percolating', got '%s'", tostring(o.start))
  local fit = util.options(o.fit, { from = 0.5, to = 1.0 }, where .. " fit")
  util.check(type(fit.from) == "number" and type(fit.to) == "number" and 0 <= fit.from and fit.from < fit.to and fit.to <= 1,
    where, "fit must be {from = f0, to = f1} with 0 <= f0 < f1 <= 1 (fractions of the steps)")
  local stride = o.stride or math.max(1, o.steps // 1000)
  util.check(math.type(stride) == "integer" and stride >= 1 and stride <= o.steps, where, "stride must be an integer in 1..steps")

  -- a u8 label volume is walked as it is (walkers live where the label equals the phase); others through a mask
  local walkable, label = labels, o.phase
  if labels.dtype ~= "u8" or math.type(o.phase) ~= "integer" or o.phase < 0 or o.phase > 255 then
    walkable, label = labels:eq(o.phase), 1
  end
  local start = nil
  if o.start == "percolating" then
    util.check(o.connectivity == 6 or o.connectivity == 18 or o.connectivity == 26, where,
      "connectivity must be 6, 18 or 26, got %s", tostring(o.connectivity))
    start = core.walk.percolating_start(walkable, label, o.connectivity)
  end
  local ok, r = pcall(core.walk.run, walkable, start, o.walkers, o.steps, stride, o.seed, label)
  if not ok then
    if tostring(r):find("no voxel to start from", 1, true) then
      error(string.format("%s: phase %d %s", where, o.phase,
        o.start == "percolating" and "has no cluster that percolates along every axis" or "is absent from the volume"), 2)
    end
    local msg = tostring(r) -- engine refusals name the option; Ctrl-C's "interrupted: ..." stays as it is
    error((msg:gsub("^random walk: ", where .. ": ")), 2)
  end

  local sp = labels:spacing()
  local nrec, t = #r.steps, r.steps
  local result = {
    tau = {}, r2 = {}, tau_late = {}, r2_late = {}, trend = {},
    msd = { steps = t },
    phase = o.phase, walkers = o.walkers, steps = o.steps, seed = o.seed, start = o.start, stride = stride,
    start_voxels = r.start_voxels, axis_probability = r.prob,
    fit = { from = fit.from, to = fit.to },
    method = "lattice random walk (pytrax): refused moves count as steps, mirrored domain, tau = 1/slope of MSD/p_axis",
    units = { tau = "1", msd = "m2" },
  }
  local i0 = math.max(1, math.floor(fit.from * (nrec - 1)) + 1)
  local i1 = math.max(i0, math.floor(fit.to * (nrec - 1)) + 1)
  local total, rms = {}, {}
  for i = 1, nrec do total[i] = 0.0 end
  for a, name in ipairs(AXES) do
    local p = r.prob[name]
    if p > 0 then
      local y, phys = {}, {}
      for i = 1, nrec do
        y[i] = r[name][i] / p
        phys[i] = r[name][i] * sp[a] * sp[a]
        total[i] = total[i] + r[name][i]
      end
      result.msd[name] = phys
      rms[name] = math.sqrt(r[name][nrec])
      local s, r2 = fit_origin(t, y, nrec)
      result.tau[name], result.r2[name] = tau_of(s), r2
      local sl, r2l = fit_line(t, y, i0, i1)
      result.tau_late[name], result.r2_late[name] = tau_of(sl), r2l
      local trend = {}
      for q = 1, 4 do
        local n = math.max(2, (nrec * q) // 4)
        trend[q] = tau_of((fit_origin(t, y, n)))
      end
      result.trend[name] = trend
    end
  end
  local s, r2 = fit_origin(t, total, nrec)
  result.tau.mean, result.r2.mean = tau_of(s), r2
  local sl, r2l = fit_line(t, total, i0, i1)
  result.tau_late.mean, result.r2_late.mean = tau_of(sl), r2l
  assess(result, rms)
  return result
end

return M
