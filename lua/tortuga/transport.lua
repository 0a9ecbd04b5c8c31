--- tg.transport — effective conductivity and tortuosity by flux simulations, the experimental side (paper Eqs. 2
-- and 3), and random-walk tortuosity.
--
--   local r = tg.transport.flux(labels, {conductivity = {[0] = 0, [1] = 0.1, [2] = 0}, axis = "z"})
--   r.tau.z, r.sigma_eff.z, r.fraction.total, r.fraction.percolating.z, r.converged, r.iterations.z
--
-- flux options:
--   conductivity = {[label] = sigma, ...}  one entry for EVERY label present in the volume (0 for an insulating
--                                          phase); labels absent from the volume are allowed and noted in r.notes.
--   phase = label                          shorthand: this label conducts with sigma = 1, every other label is 0.
--   axis = "x" | "y" | "z" | "all"         default "z" (the milling direction).
--   boundary = "taufactor" | "porespy"     where the potentials are fixed: half a voxel beyond the first and last
--                                          layers (TauFactor; a uniform block gives tau = 1 exactly; L = n voxels)
--                                          or at the centres of the first and last layers (PoreSpy; L = n - 1).
--   sides = "insulated" | "periodic"       the four side faces: no flux, or periodic.
--   fraction = "total" | "percolating"     which volume fractions enter D_mean, hence r.tau (TauFactor: total;
--                                          PoreSpy: percolating). Both are always in r.tau_total / r.tau_percolating.
--   tol = 1e-6                             convergence: the TRUE relative residual ||b - Ax||/||b|| < tol AND the
--                                          inlet and outlet currents agree within tol (relative).
--   max_iter = 2000, field = false         field = true adds r.current[axis] (|j| / mean j, f32 volume),
--                                          r.potential[axis] (f32, 1 at the inlet, 0 at the outlet, NaN where no
--                                          current can flow) and r.hotspots[axis] = {top1 = share, top5 = share}:
--                                          the share of the summed |j| carried by the top 1 % / 5 % of conducting voxels.
--   solver = {omega = 1.6, nu = 1}         multigrid tuning (over-correction, smoothing sweeps).
--
-- Definitions: steady conduction by finite volumes with harmonic-mean face conductances, potential difference 1
-- (volt) along the axis; conducting voxels not 6-connected to both end faces are removed first.
-- sigma_eff = I L / A; tau = D_mean / sigma_eff with D_mean = sum over labels of fraction x sigma (TauFactor's
-- D_mean; for one conducting phase tau = eps sigma / sigma_eff). tau = math.huge (with r.explanation[axis]) when
-- nothing percolates. Units: sigma_eff in the units of the given conductivities (S/m if given in S/m), currents in
-- A for 1 V, lengths in m.
--
-- tg.transport.random_walk — tortuosity factors from lattice random walks (pytrax's method).
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
--
-- tg.transport.doubt(result, axis) --> "not converged" | "unreliable" | nil: what to print next to a tau of a
-- flux result (converged_axis) or of a random walk (reliable) that cannot be taken as a result; describe, the CLI
-- and reports put it on the line of the number.
local core = require "tortuga.core"
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local volume = require "tortuga.volume"

local M = {}

local AXES = { x = 0, y = 1, z = 2 }
local AXIS_NAMES = { "x", "y", "z" }

-- an integer, or a float with an integer value (not inf: math.floor(inf) == inf)
local function is_int(v) return math.type(v) == "integer" or math.tointeger(v) ~= nil end

--- Steady conduction through a label volume: tau, sigma_eff, currents, optional current map (see the header).
function M.flux(labels, opts)
  local where = "tg.transport.flux"
  if not volume.is_volume(labels) then error(where .. ": expected a label volume, got " .. type(labels), 2) end
  local o = util.options(opts, { conductivity = util.NIL, phase = util.NIL, axis = "z", boundary = "taufactor",
                                 sides = "insulated", fraction = "total", tol = 1e-6, max_iter = 2000,
                                 field = false, solver = util.NIL }, where)
  local dt = labels.dtype
  util.check(dt == "u8" or dt == "u16" or dt == "i32", where, "labels must be an integer volume (u8, u16, i32), got %s", tostring(dt))
  util.check(type(o.axis) == "string" and (AXES[o.axis] or o.axis == "all"), where,
    "axis must be 'x', 'y', 'z' or 'all', got %s", tostring(o.axis))
  util.check(o.boundary == "taufactor" or o.boundary == "porespy", where,
    "boundary must be 'taufactor' or 'porespy', got %s", tostring(o.boundary))
  util.check(o.sides == "insulated" or o.sides == "periodic", where,
    "sides must be 'insulated' or 'periodic', got %s", tostring(o.sides))
  util.check(o.fraction == "total" or o.fraction == "percolating", where,
    "fraction must be 'total' or 'percolating', got %s", tostring(o.fraction))
  util.check(type(o.tol) == "number" and o.tol > 0 and o.tol < 1, where, "tol must be a number in (0, 1), got %s", tostring(o.tol))
  util.check(math.type(o.max_iter) == "integer" and o.max_iter >= 1, where, "max_iter must be an integer >= 1, got %s", tostring(o.max_iter))
  util.check(type(o.field) == "boolean", where, "field must be true or false")
  local solver = util.options(o.solver, { omega = 1.6, nu = 1 }, where .. " solver")

  -- conductivities
  local cond = o.conductivity
  if o.phase ~= nil then
    util.check(cond == nil, where, "give either 'conductivity' or 'phase', not both")
    util.check(is_int(o.phase), where, "phase must be a label value, got %s", tostring(o.phase))
    cond = {}
    for l in pairs(labels:counts()) do cond[l] = 0 end
    cond[math.tointeger(o.phase)] = 1
  end
  util.check(type(cond) == "table", where, "option 'conductivity' ({[label] = sigma, ...}) or 'phase' is required")
  local lab, sig = {}, {}
  for l, s in pairs(cond) do
    util.check(is_int(l), where, "conductivity keys must be label values, got %s", tostring(l))
    util.check(type(s) == "number" and s == s and s ~= math.huge, where, "conductivity of label %s must be a finite number, got %s",
      tostring(l), tostring(s))
    util.check(s >= 0, where, "conductivity of label %s must be >= 0, got %s", tostring(l), tostring(s))
    lab[#lab + 1] = math.tointeger(l)
  end
  util.check(#lab > 0, where, "conductivity is empty")
  table.sort(lab)
  for i, l in ipairs(lab) do sig[i] = cond[l] end

  local axes = o.axis == "all" and AXIS_NAMES or { o.axis }
  local r = {
    tau = {}, tau_total = {}, tau_percolating = {}, sigma_eff = {}, sigma_eff_relative = {},
    fraction = { percolating = {}, labels = {} }, d_mean = { percolating = {} },
    converged_axis = {}, iterations = {}, residual = {}, current_mismatch = {}, current_in = {}, current_out = {},
    time = {}, levels = {}, unknowns = {}, explanation = {},
    axes = axes, conductivity = {}, convention = o.boundary, fraction_convention = o.fraction, sides = o.sides,
    tau_definition = "TauFactor D_mean: tau = sum(fraction * sigma) / sigma_eff",
    tol = o.tol, converged = true,
    units = { sigma_eff = "S/m", current = "A", tau = "1", time = "s", length = "m" },
  }
  for i, l in ipairs(lab) do r.conductivity[l] = sig[i] end
  if o.field then r.current, r.potential, r.hotspots = {}, {}, {} end
  for _, name in ipairs(axes) do
    local c = core.transport.flux(labels, {
      labels = lab, sigma = sig, axis = AXES[name], boundary = o.boundary, sides = o.sides,
      fraction = o.fraction, tol = o.tol, max_iter = o.max_iter, field = o.field, solver = solver })
    r.tau[name], r.tau_total[name], r.tau_percolating[name] = c.tau, c.tau_total, c.tau_percolating
    r.sigma_eff[name] = c.sigma_eff
    r.sigma_eff_relative[name] = c.sigma_ref > 0 and c.sigma_eff / c.sigma_ref or 0
    r.sigma_ref = c.sigma_ref
    r.fraction.total = c.frac_total
    r.fraction.percolating[name] = c.frac_percolating
    r.d_mean.total = c.d_mean_total
    r.d_mean.percolating[name] = c.d_mean_percolating
    for i, l in ipairs(lab) do
      local e = r.fraction.labels[l] or { total = c.label_frac_total[i], percolating = {} }
      e.percolating[name] = c.label_frac_percolating[i]
      r.fraction.labels[l] = e
    end
    r.converged_axis[name] = c.converged
    r.converged = r.converged and c.converged
    r.iterations[name], r.residual[name] = c.iterations, c.residual
    r.current_mismatch[name], r.current_in[name], r.current_out[name] = c.mismatch, c.current_in, c.current_out
    r.time[name], r.levels[name], r.unknowns[name] = c.seconds, c.levels, c.unknowns
    r.length, r.area = r.length or {}, r.area or {}
    r.length[name], r.area[name] = c.length, c.area
    if c.message ~= "" then
      if c.percolates then r.message = r.message or {}; r.message[name] = c.message
      else r.explanation[name] = c.message end
    end
    if o.field then
      r.current[name], r.potential[name] = c.current, c.potential
      r.hotspots[name] = { top1 = c.hot1, top5 = c.hot5 }
    end
  end
  for i, l in ipairs(lab) do
    if r.fraction.labels[l].total == 0 then
      r.notes = r.notes or {}
      r.notes[#r.notes + 1] = string.format("label %d has a conductivity but does not occur in the volume", l)
    end
  end
  return r
end

local function positive(where, t, key)
  local v = t[key]
  util.check(type(v) == "number" and v > 0 and v < math.huge, where, "'%s' must be a positive number, got %s", key, tostring(v))
  return v
end

--- Paper Eq. 3: the tortuosity factor from experiment, kappa = sigma_bulk / sigma_eff * phi.
-- kappa{sigma_bulk = S/m, sigma_eff = S/m, fraction = phase volume fraction (0, 1]} -> number
function M.kappa(t)
  local where = "tg.transport.kappa"
  local o = util.options(t, { sigma_bulk = util.NIL, sigma_eff = util.NIL, fraction = util.NIL }, where)
  local sb, se, phi = positive(where, o, "sigma_bulk"), positive(where, o, "sigma_eff"), positive(where, o, "fraction")
  util.check(phi <= 1, where, "'fraction' must be in (0, 1], got %s", tostring(phi))
  return sb / se * phi
end

--- Paper Eq. 2: conductivity from a measured resistance, sigma = l / (R A), where R is the resistance of one layer:
-- for a symmetric cell of `layers` identical layers in series (the two-layer cell: layers = 2) R is divided by layers.
-- sigma_from_resistance{R = ohm, thickness = m (one layer), area = m^2, layers = 1} -> S/m
function M.sigma_from_resistance(t)
  local where = "tg.transport.sigma_from_resistance"
  local o = util.options(t, { R = util.NIL, thickness = util.NIL, area = util.NIL, layers = 1 }, where)
  local R, l, A = positive(where, o, "R"), positive(where, o, "thickness"), positive(where, o, "area")
  util.check(math.type(o.layers) == "integer" and o.layers >= 1, where, "'layers' must be an integer >= 1, got %s", tostring(o.layers))
  return l / (R / o.layers * A)
end

--- Bruggeman exponent alpha from tau = eps^(1 - alpha): alpha = 1 - ln(tau) / ln(eps).
-- bruggeman{tau = tau (>= 1 or any positive), fraction = eps in (0, 1)} -> number
function M.bruggeman(t)
  local where = "tg.transport.bruggeman"
  local o = util.options(t, { tau = util.NIL, fraction = util.NIL }, where)
  local tau, eps = positive(where, o, "tau"), positive(where, o, "fraction")
  util.check(eps < 1, where, "'fraction' must be in (0, 1), got %s", tostring(eps))
  return 1 - math.log(tau) / math.log(eps)
end

-- ---- random walk ----

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
    start = core.transport.percolating_start(walkable, label, o.connectivity)
  end
  -- walkers need a voxel to start from: say why there is none before the engine is asked
  if ((start or walkable):counts()[start and 1 or label] or 0) == 0 then
    error(string.format("%s: phase %s %s", where, tostring(math.tointeger(o.phase) or o.phase),
      o.start == "percolating" and "has no cluster that percolates along every axis" or "is absent from the volume"), 2)
  end
  local r = core.transport.random_walk(walkable, start, o.walkers, o.steps, stride, o.seed, label)

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
  for a, name in ipairs(AXIS_NAMES) do
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

--- What to print next to result.tau[axis] when it is not a result (see the header), or nil.
function M.doubt(r, axis)
  if type(r) ~= "table" then return nil end
  if type(r.converged_axis) == "table" and r.converged_axis[axis] == false then return "not converged" end
  if type(r.reliable) == "table" and r.reliable[axis] == false then return "unreliable" end
  if axis ~= "mean" and r.converged_axis == nil and r.reliable == nil and r.converged == false then
    return "not converged"
  end
  return nil
end

--- "flux z not converged; walk x unreliable" for the axes of a {walk = ..., flux = ..., filled = ...} entry, or nil.
function M.doubts(entry, axes)
  local t = {}
  for _, k in ipairs { "walk", "flux", "filled" } do
    for _, a in ipairs(axes or { "x", "y", "z" }) do
      local why = entry[k] and M.doubt(entry[k], a)
      if why then t[#t + 1] = string.format("%s %s %s", k, a, why) end
    end
  end
  return #t > 0 and table.concat(t, "; ") or nil
end

return M
