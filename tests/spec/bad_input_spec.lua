-- The bad-input catalogue (issue 14): inputs a careful user may give by mistake, and faults from outside.
-- Each case asserts the exact kind of outcome: an error whose message names the argument (a pattern), or a
-- result that flags what it could not do (counted voxels, converged = false, reliable = false), never a
-- crash, a hang or a silently wrong number.
local tg = require "tortuga"

local inf, nan = math.huge, 0 / 0

-- A float volume of nx x ny x nz holding fill(x, y, z) (1-based).
local function filled(nx, ny, nz, dtype, fill)
  local v = tg.volume.new { nx, ny, nz, dtype = dtype or "f32" }
  for z = 1, nz do for y = 1, ny do for x = 1, nx do v:set(x, y, z, fill(x, y, z)) end end end
  return v
end

-- Two grey levels (x <= 4: 10, else 50) with some non-finite voxels planted in.
local function two_levels_with(specials)
  local v = filled(8, 4, 2, "f32", function(x) return x <= 4 and 10 or 50 end)
  for _, s in ipairs(specials) do v:set(s[1], s[2], s[3], s[4]) end
  return v
end

local function raises_matching(fn, pattern)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.matches(pattern, tostring(err))
end

describe("bad input: non-finite grey values (histogram, otsu)", function()
  it("v:histogram counts +Inf, -Inf and NaN apart and bins the rest", function()
    local v = two_levels_with { { 1, 1, 1, inf }, { 2, 1, 1, inf }, { 3, 1, 1, -inf }, { 8, 4, 2, nan } }
    local h = v:histogram { bins = 4 }
    assert.same({ 10, 50 }, h.range)
    assert.equal(2, h.posinf)
    assert.equal(1, h.neginf)
    assert.equal(1, h.nan)
    assert.same({ 29, 0, 0, 31 }, h.counts)
    assert.equal(0, h.below)
    assert.equal(0, h.above)
  end)

  it("v:stats keeps min, max and mean finite and counts the non-finite voxels", function()
    local s = two_levels_with({ { 1, 1, 1, inf }, { 3, 1, 1, -inf }, { 8, 4, 2, nan } }):stats()
    assert.equal(10, s.min)
    assert.equal(50, s.max)
    assert.equal(1, s.posinf_count)
    assert.equal(1, s.neginf_count)
    assert.equal(1, s.nan_count)
    assert.equal(61, s.count)
    assert.near((30 * 10 + 31 * 50) / 61, s.mean, 1e-9)
  end)

  it("v:histogram over a range that overflows (±1e308) bins correctly", function()
    local v = filled(4, 1, 1, "f64", function(x) return ({ -1e308, 0, 1e308, 1e308 })[x] end)
    local h = v:histogram { bins = 3 }
    assert.same({ 1, 1, 2 }, h.counts)
    assert.equal(-1e308, h.edges[1])
    assert.equal(1e308, h.edges[4])
    for _, e in ipairs(h.edges) do assert.is_true(e == e and math.abs(e) < inf) end
    local s = v:stats()
    assert.near(0.25e308, s.mean, 1e293)
  end)

  it("v:histogram of a volume with no finite value raises naming the range", function()
    local v = filled(2, 2, 1, "f32", function(x) return x == 1 and inf or nan end)
    raises_matching(function() v:histogram() end, "v:histogram: the volume has no finite value %(2 NaN, 2 %+Inf, 0 %-Inf%); give a range")
  end)

  it("v:histogram refuses a non-finite range", function()
    local v = filled(2, 2, 1, "f32", function(x) return x end)
    raises_matching(function() v:histogram { range = { 0, inf } } end, "v:histogram: range must be finite, got {0, inf}")
    raises_matching(function() v:histogram { range = { nan, 1 } } end, "v:histogram: range must be finite")
  end)

  it("tg.segment.otsu thresholds the finite values and reports the non-finite ones", function()
    local v = two_levels_with { { 1, 1, 1, inf }, { 2, 1, 1, -inf }, { 3, 1, 1, nan } }
    local labels, info = tg.segment.otsu(v)
    assert.equal(1, info.posinf)
    assert.equal(1, info.neginf)
    assert.equal(1, info.nan)
    assert.is_true(info.thresholds[1] > 10 and info.thresholds[1] < 50)
    assert.equal(1, labels:get(1, 1, 1)) -- +Inf: the bright class
    assert.equal(0, labels:get(2, 1, 1)) -- -Inf and NaN: class 0
    assert.equal(0, labels:get(3, 1, 1))
    assert.equal(1, labels:get(8, 4, 2))
  end)

  it("tg.segment.otsu on values near ±1e308 gives a finite threshold between the two levels", function()
    local v = filled(8, 4, 2, "f64", function(x) return x <= 4 and -1e308 or 1e308 end)
    local labels, info = tg.segment.otsu(v, { classes = 2 })
    local t = info.thresholds[1]
    assert.is_true(t > -1e308 and t < 1e308)
    assert.same({ [0] = 32, [1] = 32 }, labels:counts())
  end)

  it("tg.segment.otsu on a volume with nothing finite raises", function()
    local v = filled(2, 2, 1, "f32", function() return inf end)
    raises_matching(function() tg.segment.otsu(v) end, "otsu: the volume has no finite value")
  end)
end)

-- Run a shell command; returns its exit code, stdout and stderr.
local function sh(cmd)
  local errfile = os.tmpname()
  local p = io.popen("( " .. cmd .. " ) 2>'" .. errfile .. "'; echo \"EXIT=$?\"")
  local out = p:read("a")
  p:close()
  local f = io.open(errfile, "rb")
  local err = f and f:read("a") or ""
  if f then f:close() end
  os.remove(errfile)
  local code = tonumber(out:match("EXIT=(%d+)%s*$"))
  return code, out:gsub("EXIT=%d+%s*$", ""), err
end

describe("bad input: random walks too long or too big", function()
  local free = tg.volume.new { 6, 6, 6 }
  free:fill(1)

  it("refuses walkers x steps whose time is absurd, naming both options", function()
    raises_matching(function() tg.transport.random_walk(free, { phase = 1, steps = 1e12 }) end,
      "^[^\n]*random walk: walkers x steps = 2000 x 1000000000000 = 2e%+15 lattice steps would take " ..
      "about 231 days of one core %(limit 1e%+14%); lower steps or walkers")
  end)

  it("refuses a stride that would keep an absurd number of records, naming stride", function()
    raises_matching(function() tg.transport.random_walk(free, { phase = 1, walkers = 1, steps = 1e9, stride = 1 }) end,
      "random walk: steps / stride = 1000000001 records of the mean square displacement %(limit 10000000%); " ..
      "raise stride to at least 101")
  end)

  it("takes steps = 1e4 (an integral float) as an integer", function()
    local r = tg.transport.random_walk(free, { phase = 1, walkers = 10, steps = 1e4 })
    assert.equal(10000, r.steps)
    assert.equal(10000, r.msd.steps[#r.msd.steps])
  end)

  it("a walk of 1e12 steps stops on Ctrl-C with an 'interrupted' error", function()
    local exe = test_helper.exe()
    local f = io.open(exe, "rb")
    if not f then error("the tortuga executable is not built: " .. exe) end
    f:close()
    local code = "local tg = require 'tortuga'; local v = tg.volume.new{6, 6, 6}; v:fill(1); " ..
      "io.stderr:write('started\\n'); tg.transport.random_walk(v, {phase = 1, walkers = 1, steps = 1e12})"
    -- SIGINT once the walk has started (its marker is on stderr); `timeout` only guards the test against the old
    -- hang (it would end the run with status 124 after a minute)
    local rc, _, err = sh(string.format("f=$(mktemp); timeout 60 %s -e %q 2>$f & p=$!; i=0; " ..
      "while ! grep -q started $f && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.3; kill -INT $p; " ..
      "wait $p; rc=$?; cat $f >&2; rm -f $f; exit $rc", exe, code))
    assert.equal(1, rc, err)
    assert.matches("interrupted: random walk: interrupted", err)
  end)
end)

describe("bad input: random walks whose tau cannot be trusted", function()
  it("a closed pore: R^2 < 0 and every tau flagged unreliable, with a warning that says why", function()
    local v = tg.volume.new { 20, 20, 20 }
    for z = 8, 12 do for y = 8, 12 do for x = 8, 12 do v:set(x, y, z, 1) end end end
    local r = tg.transport.random_walk(v, { phase = 1, walkers = 300, steps = 5000 })
    for _, a in ipairs { "x", "y", "z", "mean" } do
      assert.is_true(r.r2[a] < 0)
      assert.is_false(r.reliable[a])
    end
    assert.equal(4, #r.warnings)
    assert.matches("^tau%.x = [%d.]+ is unreliable: the MSD is not a straight line through the origin %(R%^2 = %-[%d.]+%): " ..
      "walkers are confined %(closed pores%)", r.warnings[1])
    assert.matches("walkers are confined", require("tortuga.repl").show(r)) -- the printout says so too
  end)

  it("strongly anisotropic voxels: walkers hardly move along z, tau.z flagged although R^2 looks fine", function()
    local v = tg.volume.new { 16, 16, 16, spacing = { 1e-7, 1e-7, 3e-5 } }
    for z = 1, 16 do for y = 1, 16 do for x = 1, 16 do v:set(x, y, z, (x % 3 == 0 and y % 3 == 0) and 0 or 1) end end end
    local r = tg.transport.random_walk(v, { phase = 1, walkers = 500, steps = 2000 })
    assert.is_true(r.reliable.x and r.reliable.y)
    assert.is_false(r.reliable.z)
    assert.is_false(r.reliable.mean)
    local w = table.concat(r.warnings, "\n")
    assert.matches("tau%.z = [%d.e%-+]+ is unreliable: walkers moved only [%d.e%-+]+ voxels %(RMS%) along z in [%d.e%-+]+ " ..
      "attempted moves along it: too few steps for this axis", w)
    assert.matches("tau%.mean = [%d.e%-+]+ is unreliable: an axis is unreliable", w)
  end)

  it("a walk that never leaves its voxel along an axis: tau = inf, flagged", function()
    -- channels along z, one voxel wide: no move along x or y ever succeeds
    local v = tg.volume.new { 9, 9, 12 }
    for z = 1, 12 do for y = 2, 9, 3 do for x = 2, 9, 3 do v:set(x, y, z, 1) end end end
    local r = tg.transport.random_walk(v, { phase = 1, walkers = 200, steps = 3000 })
    assert.equal(math.huge, r.tau.x)
    assert.is_false(r.reliable.x)
    assert.is_true(r.reliable.z)
    assert.matches("tau%.x = inf is unreliable: no net displacement", table.concat(r.warnings, "\n"))
  end)

  it("control: free space is reliable along every axis, no warning", function()
    local v = tg.volume.new { 12, 12, 12 }
    v:fill(1)
    local r = tg.transport.random_walk(v, { phase = 1, walkers = 500, steps = 2000 })
    assert.same({ x = true, y = true, z = true, mean = true }, r.reliable)
    assert.same({}, r.warnings)
  end)
end)

describe("bad input: flux through strongly anisotropic voxels and extreme conductivities", function()
  -- two layers normal to z, sigma 1 and 0.5: tau = 1.125 exactly along z, 1 across
  local function layers(spacing)
    local v = tg.volume.new { 6, 6, 10, spacing = spacing }
    for z = 1, 10 do for y = 1, 6 do for x = 1, 6 do v:set(x, y, z, z <= 5 and 1 or 2) end end end
    return v
  end

  for _, sp in ipairs { { 1e-7, 1e-7, 3e-5 }, { 1e-9, 1e-9, 1e-3 }, { 3e-5, 3e-5, 1e-7 } } do
    it(string.format("layers with spacing {%g, %g, %g}: tau = 1.125 along z, 1 across, converged", sp[1], sp[2], sp[3]), function()
      local r = tg.transport.flux(layers(sp), { conductivity = { [1] = 1, [2] = 0.5 }, axis = "all" })
      assert.is_true(r.converged)
      assert.near(1.125, r.tau.z, 1e-6)
      assert.is_true(r.iterations.z >= 1)
      assert.near(1, r.tau.x, 1e-6)
      assert.near(1, r.tau.y, 1e-6)
    end)
  end

  it("a generated cathode with voxels 1e6 times longer along z: no error, positive sigma_eff, converged", function()
    local c = tg.generate.cathode { size = { 24, 24, 24 }, seed = 1 }
    c:spacing { 1e-9, 1e-9, 1e-3 }
    local r = tg.transport.flux(c, { phase = 1, axis = "z" })
    assert.is_true(r.converged)
    assert.is_true(r.sigma_eff.z > 0 and r.tau.z >= 1 and r.tau.z < math.huge)
    -- its residual stalls at the floor of double precision for a 1e12 conductance ratio, and the result says so
    assert.matches("the floor of double precision for faces 1e%+12 times stronger than the weakest", r.message.z)
    -- the same with voxels 300 times longer: z is nearly the same (in-plane faces short-circuit either way)
    c:spacing { 1e-7, 1e-7, 3e-5 }
    local r300 = tg.transport.flux(c, { phase = 1, axis = "z" })
    assert.is_true(r300.converged)
    assert.is_true(r300.tau.z >= r.tau.z * (1 - 1e-6) and r300.tau.z < 1.01 * r.tau.z)
  end)

  it("a subnormal conductivity gives tau = 1 for a uniform block, not inf", function()
    local v = tg.volume.new { 5, 4, 6, spacing = 1e-7 }
    v:fill(1)
    local r = tg.transport.flux(v, { conductivity = { [1] = 1e-320 } })
    assert.is_true(r.converged)
    assert.near(1, r.tau.z, 1e-9)
    assert.is_true(r.sigma_eff.z > 0)
  end)

  it("conductivities more than 1e30 apart in the conducting path are refused, naming the labels", function()
    local v = tg.volume.new { 5, 4, 6 }
    v:fill(1)
    v:set(2, 2, 3, 2)
    raises_matching(function() tg.transport.flux(v, { conductivity = { [1] = 1e-300, [2] = 1 } }) end,
      "flux: the conductivities of labels 1 %(1e%-300%) and 2 %(1%) differ by more than 1e30, beyond the " ..
      "solver's precision; give the weaker one 0 %(insulating%) if it should carry no current")
  end)
end)

-- Misuse of the options of the operations above: each raises, naming the function and the option.
describe("bad input: options of histogram, otsu, random walk and flux", function()
  local ones = tg.volume.new { 4, 4, 4 }
  ones:fill(1)
  local grey = filled(4, 4, 4, "f32", function(x) return x end)
  local bar = tg.volume.new { 6, 6, 6 } -- a bar along x: spans x only
  for x = 1, 6 do bar:set(x, 1, 1, 1) end
  local two = tg.volume.new { 4, 4, 4 }
  two:set(1, 1, 1, 5)
  local thin = tg.volume.new { 4, 4, 1 }
  thin:fill(1)
  local cases = {
    { "histogram bins = 0", function() return ones:histogram { bins = 0 } end, "^v:histogram: bins must be a positive integer$" },
    { "histogram bins = 2.5", function() return ones:histogram { bins = 2.5 } end, "^v:histogram: bins must be a positive integer$" },
    { "histogram range reversed", function() return ones:histogram { range = { 3, 1 } } end,
      "v:histogram: range must be {lo, hi} with lo < hi" },
    { "histogram misspelt option", function() return ones:histogram { rnage = { 0, 1 } } end,
      "v:histogram: unknown option 'rnage' %(did you mean 'range'%?%)" },
    { "otsu classes = 4", function() return tg.segment.otsu(grey, { classes = 4 }) end,
      "tg%.segment%.otsu: classes must be 2 or 3, got 4" },
    { "otsu bins = 1", function() return tg.segment.otsu(grey, { bins = 1 }) end,
      "tg%.segment%.otsu: bins must be an integer >= 2, got 1" },
    { "otsu on a constant volume", function() return tg.segment.otsu(ones) end,
      "otsu: the volume is constant %(1%): nothing to threshold" },
    { "otsu: three classes from two grey levels", function() return tg.segment.otsu(two, { classes = 3 }) end,
      "otsu: 3 classes need at least 3 distinct grey levels, the histogram has 2" },
    { "random walk on a string", function() return tg.transport.random_walk("labels.tif", { phase = 1 }) end,
      "tg%.transport%.random_walk: expected a label volume, got string" },
    { "random walk without phase", function() return tg.transport.random_walk(ones, { walkers = 10 }) end,
      "tg%.transport%.random_walk: option 'phase' %(the label walkers live in%) is required" },
    { "random walk walkers = 0", function() return tg.transport.random_walk(ones, { phase = 1, walkers = 0 }) end,
      "tg%.transport%.random_walk: walkers must be an integer >= 1, got 0" },
    { "random walk steps = -5", function() return tg.transport.random_walk(ones, { phase = 1, steps = -5 }) end,
      "tg%.transport%.random_walk: steps must be an integer >= 1, got %-5" },
    { "random walk steps = 1.5", function() return tg.transport.random_walk(ones, { phase = 1, steps = 1.5 }) end,
      "tg%.transport%.random_walk: steps must be an integer >= 1, got 1%.5" },
    { "random walk stride > steps", function() return tg.transport.random_walk(ones, { phase = 1, steps = 100, stride = 200 }) end,
      "tg%.transport%.random_walk: stride must be an integer in 1%.%.steps" },
    { "random walk unknown start", function() return tg.transport.random_walk(ones, { phase = 1, start = "everywhere" }) end,
      "tg%.transport%.random_walk: start must be 'phase' or 'percolating', got 'everywhere'" },
    { "random walk fit window reversed", function() return tg.transport.random_walk(ones, { phase = 1, fit = { from = 0.8, to = 0.2 } }) end,
      "tg%.transport%.random_walk: fit must be {from = f0, to = f1} with 0 <= f0 < f1 <= 1" },
    { "random walk in an absent phase", function() return tg.transport.random_walk(ones, { phase = 7 }) end,
      "tg%.transport%.random_walk: phase 7 is absent from the volume" },
    { "random walk misspelt option", function() return tg.transport.random_walk(ones, { phase = 1, stpes = 10 }) end,
      "tg%.transport%.random_walk: unknown option 'stpes' %(did you mean 'steps'%?%)" },
    { "random walk from percolating voxels of a bar", function() return tg.transport.random_walk(bar, { phase = 1, start = "percolating" }) end,
      "tg%.transport%.random_walk: phase 1 has no cluster that percolates along every axis" },
    { "flux tol = 0", function() return tg.transport.flux(ones, { phase = 1, tol = 0 }) end,
      "tg%.transport%.flux: tol must be a number in %(0, 1%), got 0" },
    { "flux axis 'w'", function() return tg.transport.flux(ones, { phase = 1, axis = "w" }) end,
      "tg%.transport%.flux: axis must be 'x', 'y', 'z' or 'all', got w" },
    { "flux negative conductivity", function() return tg.transport.flux(ones, { conductivity = { [1] = -1 } }) end,
      "tg%.transport%.flux: conductivity of label 1 must be >= 0, got %-1" },
    { "flux NaN conductivity", function() return tg.transport.flux(ones, { conductivity = { [1] = nan } }) end,
      "tg%.transport%.flux: conductivity of label 1 must be a finite number, got %-?nan" },
    { "flux infinite conductivity", function() return tg.transport.flux(ones, { conductivity = { [1] = inf } }) end,
      "tg%.transport%.flux: conductivity of label 1 must be a finite number, got inf" },
    { "flux label without conductivity", function() return tg.transport.flux(ones, { conductivity = { [2] = 1 } }) end,
      "flux: label 1 occurs in the volume but has no conductivity %(give it one; 0 for an insulating phase%)" },
    { "flux max_iter = 0", function() return tg.transport.flux(ones, { phase = 1, max_iter = 0 }) end,
      "tg%.transport%.flux: max_iter must be an integer >= 1, got 0" },
    { "flux on grey values", function() return tg.transport.flux(grey, { phase = 1 }) end,
      "tg%.transport%.flux: labels must be an integer volume %(u8, u16, i32%), got f32" },
    { "flux unknown boundary", function() return tg.transport.flux(ones, { phase = 1, boundary = "dirichlet" }) end,
      "tg%.transport%.flux: boundary must be 'taufactor' or 'porespy', got dirichlet" },
    { "flux porespy boundary on one layer", function() return tg.transport.flux(thin, { phase = 1, boundary = "porespy" }) end,
      "flux: the porespy boundary convention needs at least 2 voxels along the axis, got 1" },
    { "flux with both phase and conductivity", function() return tg.transport.flux(ones, { phase = 1, conductivity = { [1] = 1 } }) end,
      "tg%.transport%.flux: give either 'conductivity' or 'phase', not both" },
  }
  for _, c in ipairs(cases) do
    it(c[1], function() raises_matching(c[2], c[3]) end)
  end

  it("flux where nothing percolates: tau = inf with the reason, no error", function()
    local r = tg.transport.flux(bar, { phase = 1, axis = "z" })
    assert.equal(math.huge, r.tau.z)
    assert.equal(0, r.sigma_eff.z)
    assert.matches("the conducting phase does not percolate along z", r.explanation.z)
  end)
end)

describe("bad input: multi-page TIFFs cut short", function()
  local dir = test_helper.tmpdir("bad_input_tiff")
  local fixtures = "tests/fixtures/tiff/"

  -- 24 x 20 x 6 u8 with a value per voxel that names it
  local function stack()
    local v = tg.volume.new { 24, 20, 6, dtype = "u8" }
    for z = 1, 6 do for y = 1, 20 do for x = 1, 24 do v:set(x, y, z, (x + 3 * y + 29 * z) % 256) end end end
    return v
  end

  -- Copy the first n bytes of src to dst.
  local function cut(src, dst, n)
    local f = assert(io.open(src, "rb"))
    local data = f:read("a")
    f:close()
    assert(n < #data)
    f = assert(io.open(dst, "wb"))
    f:write(data:sub(1, n))
    f:close()
    return dst
  end

  local function file_size(path)
    local f = assert(io.open(path, "rb"))
    local n = f:seek("end")
    f:close()
    return n
  end

  local function raises(fn, pattern)
    local ok, err = pcall(fn)
    assert.is_false(ok, "expected an error matching " .. pattern)
    assert.matches(pattern, tostring(err))
  end

  -- The complete pages of a truncated file read as they were written.
  local function first_pages_read(path, v, n)
    local r = tg.io.read(path, { z = { 1, n } })
    assert.same({ 24, 20, n }, { r:dims() })
    assert.equal(v:view { z = { 1, n } }:sha256(), r:sha256())
  end

  it("tortuga's uncompressed stack cut inside its pixels raises naming the page and the bytes it has", function()
    local v = stack()
    -- ImageJ's layout: the first directory (a few hundred bytes), 6 pages of 480 bytes, the other directories
    local p = cut(tg.io.write(dir .. "/raw.tif", v), dir .. "/raw_cut.tif", 1500)
    local info = tg.io.info(p)
    local k = info.pages_complete
    assert.equal(6, info.pages)
    assert.is_true(k >= 1 and k < 6)
    raises(function() tg.io.read(p) end, "raw_cut%.tif: page " .. k + 1 .. " is missing: the file is truncated: it " ..
      "holds " .. k .. " complete pages? of the 6 its ImageJ header claims %(page " .. k + 1 .. " has %d+ of its 480 bytes%)")
    first_pages_read(p, v, k)
  end)

  it("tortuga's deflate stack cut short raises; a z range inside the intact part reads", function()
    local v = stack()
    local full = tg.io.write(dir .. "/deflate.tif", v, { compress = "deflate" })
    local p = cut(full, dir .. "/deflate_cut.tif", file_size(full) * 2 // 3)
    local info = tg.io.info(p)
    local k = info.pages_complete
    assert.equal(6, info.pages)
    assert.is_true(k >= 1 and k < 6)
    assert.matches("^the file is truncated: it holds " .. k .. " complete pages? of the 6 its ImageJ header claims",
      info.truncated)
    raises(function() tg.io.read(p) end, "deflate_cut%.tif: page " .. k + 1 .. " is missing")
    raises(function() tg.io.read(p, { z = { k, k + 1 } }) end, "deflate_cut%.tif: page " .. k + 1 .. " is missing")
    first_pages_read(p, v, k)
  end)

  it("tortuga's LZW stack cut one byte short raises naming its last page", function()
    local v = stack()
    local full = tg.io.write(dir .. "/lzw.tif", v, { compress = "lzw" })
    local p = cut(full, dir .. "/lzw_cut.tif", file_size(full) - 1)
    raises(function() tg.io.read(p) end, "lzw_cut%.tif: page 6 is missing: the file is truncated: it holds 5 " ..
      "complete pages of the 6 its ImageJ header claims %(the directory of page 6 cannot be read")
    first_pages_read(p, v, 5)
  end)

  it("tifffile's stack cut inside the directory of page 4 raises", function()
    raises(function() tg.io.read(fixtures .. "truncated_tifffile.tif") end, "truncated_tifffile%.tif: page 4 is " ..
      "missing: the file is truncated: it holds 3 complete pages of the 5 its description claims")
    assert.same({ 24, 20, 3 }, { tg.io.read(fixtures .. "truncated_tifffile.tif", { z = { 1, 3 } }):dims() })
  end)

  it("tifffile's ImageJ stack cut inside page 3 raises naming the bytes it has", function()
    raises(function() tg.io.read(fixtures .. "truncated_imagej.tif") end, "truncated_imagej%.tif: page 3 is " ..
      "missing: .*page 3 has 100 of its 480 bytes%); a range within pages 1%-2 still reads")
  end)

  it("tifffile's deflate stack cut inside the data of page 4 raises", function()
    raises(function() tg.io.read(fixtures .. "truncated_deflate.tif") end,
      "truncated_deflate%.tif: page 4 is missing: .*%(the data of page 4 is cut short%)")
    raises(function() tg.io.read(fixtures .. "truncated_deflate.tif", { z = { 4, 4 } }) end, "page 4 is missing")
    assert.same({ 24, 20, 3 }, { tg.io.read(fixtures .. "truncated_deflate.tif", { z = { 1, 3 } }):dims() })
  end)

  it("an ImageJ header claiming 8 images for 5 pages raises; tg.io.info says what is missing", function()
    local p = fixtures .. "imagej_claims_more.tif"
    local info = tg.io.info(p)
    assert.equal(8, info.pages)
    assert.equal(5, info.pages_complete)
    assert.equal("the file holds 5 complete pages of the 8 its ImageJ header claims (its chain of directories ends " ..
      "after page 5)", info.truncated)
    raises(function() tg.io.read(p) end, "imagej_claims_more%.tif: page 6 is missing")
    assert.same({ 24, 20, 5 }, { tg.io.read(p, { z = { 1, 5 } }):dims() })
  end)

  it("an intact stack has nothing missing", function()
    local info = tg.io.info(fixtures .. "u8_imagej.tif")
    assert.equal(5, info.pages_complete)
    assert.is_nil(info.truncated)
  end)
end)

describe("bad input: messages that name the argument (issue 14, item 8)", function()
  -- The message exactly, after the caller's position ("spec.lua:12: ") that Lua errors carry.
  local function raises_exactly(fn, msg)
    local ok, err = pcall(fn)
    assert.is_false(ok, "expected the error: " .. msg)
    assert.equal(msg, (tostring(err):gsub("^[^\n]-:%d+: ", "", 1)))
  end
  local DTYPES = "(use u8, u16, i32, f32 or f64)"

  it("v:spacing(0) says what it needs (lua_pushfstring knows no %g)", function()
    raises_exactly(function() tg.volume.new { 2, 2, 2 }:spacing(0) end,
      "spacing must be a positive finite number (metres), got 0.0")
    raises_exactly(function() tg.volume.new { 2, 2, 2 }:spacing(math.huge) end,
      "spacing must be a positive finite number (metres), got inf")
  end)

  it("an unknown dtype names the function, never 'bad argument #-1 to ?'", function()
    raises_exactly(function() tg.io.read("tests/fixtures/tiff/u8_imagej.tif", { dtype = "u9" }) end,
      "tg.io.read: unknown dtype 'u9' " .. DTYPES)
    raises_exactly(function() tg.volume.new { 2, 2, 2, dtype = "u9" } end, "tg.volume.new: unknown dtype 'u9' " .. DTYPES)
    raises_exactly(function() tg.volume.new { 2, 2, 2 }:astype(3) end,
      "v:astype: dtype must be a string (u8, u16, i32, f32 or f64), got number")
  end)

  it("a NaN option is called nan, not 'a number, got number'", function()
    local v = tg.generate.cathode { size = { 16, 16, 16 }, seed = 1 }
    raises_exactly(function() tg.generate.sem(v, { noise = 0 / 0 }) end, "tg.generate.sem: noise must be a number, got nan")
  end)

  it("generator errors start with the caller's position, never a library path", function()
    local ok, err = pcall(tg.generate.cathode, { size = { 16, 16, 16 }, porosity = 2 })
    assert.is_false(ok)
    assert.is_nil(tostring(err):find("tortuga/", 1, true))
    local _, err2 = pcall(function() tg.generate.cathode { size = { 16, 16, 16 }, porosity = 2 } end)
    assert.matches("^[^:]*bad_input_spec%.lua:%d+: tg%.generate%.cathode: porosity must be in %[0, 1%), got 2$", err2)
  end)

  it("a fractional phase label is refused, never truncated", function()
    local v = tg.generate.cathode { size = { 16, 16, 16 }, seed = 1 }
    raises_exactly(function() tg.generate.sem(v, { phases = { pore = 0.5 } }) end,
      "tg.generate.sem: phases.pore must be an integer label, got 0.5")
    raises_exactly(function() tg.measure.fractions(v, { phases = { pore = 0.5 } }) end,
      "tg.measure.fractions: phases must map names to integer labels, got pore = 0.5")
  end)

  it("v:map with a key or value the dtype cannot hold raises instead of doing nothing", function()
    local v = tg.volume.new { 2, 2, 2 }
    raises_exactly(function() v:map { [1e18] = 2 } end,
      "v:map: key 1000000000000000000 is not a u8 value (integers 0..255): it would match no voxel")
    raises_exactly(function() v:map { [1] = 300 } end,
      "v:map: value 300 (for key 1) does not fit u8 (integers 0..255); give {dtype = ...}")
    assert.equal(300, v:map({ [0] = 300 }, { dtype = "u16" }):get(1, 1, 1))
  end)
end)

describe("bad input: writing files (issue 14, item 9)", function()
  local dir = test_helper.tmpdir("bad_input_write")
  local v = tg.volume.new { 8, 8, 3 }

  it("tg.io.write refuses a name whose extension says another format", function()
    local ok, err = pcall(tg.io.write, dir .. "/a.vtk", v)
    assert.is_false(ok)
    assert.equal("tg.io.write: " .. dir .. "/a.vtk: this writes TIFF stacks (.tif, .tiff), not .vtk; use tg.io.write_vtk",
      (tostring(err):gsub("^[^\n]-:%d+: ", "", 1)))
    assert.is_nil(io.open(dir .. "/a.vtk", "rb"))
    assert.has_error(function() tg.io.writer(dir .. "/b.png") end)
  end)

  it("a legal 250-character name writes (the temporary name is short) and no temporary is left", function()
    local name = dir .. "/" .. string.rep("n", 246) .. ".tif"
    assert.equal(name, tg.io.write(name, v, { compress = "deflate" }))
    assert.same({ 8, 8, 3 }, { tg.io.read(name):dims() })
    local png = dir .. "/" .. string.rep("p", 246) .. ".png"
    assert.equal(png, tg.io.write_png(png, v, { z = 1 }))
    os.remove(name)
    os.remove(png)
    local p = io.popen("ls -A '" .. dir .. "'")
    local left = p:read("a")
    p:close()
    assert.is_nil(left:find("%.tmp"))
  end)

  it("a notebook cell calling os.exit(0) fails the run, which still writes its page", function()
    local nb = dir .. "/exit.lua"
    local f = assert(io.open(nb, "w"))
    f:write('print("one")\n-- %%\nos.exit(0)\n-- %%\nprint("three")\n')
    f:close()
    local page = dir .. "/exit.html"
    os.remove(page)
    local ok, how, code = os.execute(string.format("timeout 120 '%s' notebook run '%s' --out '%s' 2>/dev/null",
      test_helper.exe(), nb, page))
    assert.is_nil(ok)
    assert.same({ "exit", 1 }, { how, code })
    local html = assert(io.open(page)):read("a")
    assert.truthy(html:find("os.exit(0) in a notebook cell: the run stops here", 1, true))
  end)
end)

describe("bad input: a tau that is not a result says so where it is printed (issue 14, item 4)", function()
  local v = tg.generate.cathode { size = { 24, 24, 24 }, seed = 1 }
  -- two multigrid cycles cannot reach a relative residual of 1e-12: every flux tau is unconverged
  local d = tg.describe(v, { flux = { max_iter = 2, tol = 1e-12 }, walk = { walkers = 100, steps = 100 },
                             thickness = false, surfaces = false, chords = false })

  it("tg.describe notes each unconverged flux tau and its printout marks the number", function()
    assert.is_false(d.tau.ise.flux.converged_axis.z)
    local text = tostring(d)
    assert.matches("tau ise%s+walk x [%d.]+ y [%d.]+ z [%d.]+%s+flux x [%d.]+ %(not converged%) y [%d.]+ %(not converged%) " ..
      "z [%d.]+ %(not converged%)", text)
    local noted = false
    for _, n in ipairs(d.notes) do
      if n:match("^tau ise flux along z = [%d.]+ is not converged %(relative residual [%d.e-]+ after 2 iterations%): " ..
        "not a result$") then noted = true end
    end
    assert.is_true(noted)
  end)

  it("the CLI's table says it at the end of the row", function()
    local text = require("tortuga.cli").format(d)
    assert.matches("\nise%s+[%d. ]+%s+%(flux x not converged; flux y not converged; flux z not converged%)", text)
  end)

  it("tg.transport.doubt reads a flux result's converged_axis and a random walk's reliable", function()
    assert.equal("not converged", tg.transport.doubt({ converged_axis = { z = false } }, "z"))
    assert.equal("unreliable", tg.transport.doubt({ reliable = { x = false, mean = false } }, "mean"))
    assert.is_nil(tg.transport.doubt({ reliable = { x = true } }, "x"))
    assert.equal("walk x unreliable; flux z not converged", tg.transport.doubts {
      walk = { reliable = { x = false, y = true, z = true } }, flux = { converged_axis = { x = true, y = true, z = false } } })
  end)
end)
