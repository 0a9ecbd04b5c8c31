-- tg.analysis: samples, the paper's arithmetic (Eqs. 2 and 3, coverage, lambda), correlations, least squares.
-- Reference numbers: bench/analysis_ref.py (scipy 1.10.1, numpy 1.24.2), computed once and typed in below.
local tg = require "tortuga"
local H = test_helper

local REF = {
  A = { r = 0.9841582551549135, p_t = 2.7033985378787105e-07, rho = 0.9757575757575757, ps_t = 1.4675461874042197e-06,
        slope = 0.940700483091787, intercept = 0.7420772946859931, se = 0.05991438351030668,
        se_intercept = 0.37722278569870765, rss = 2.377839371980677 },
  B = { r = 0.9832221659074157, p_t = 0.00041988213103997596, rho = 0.9851843661437779, ps_t = 0.0003276284717546725,
        p_exact = 0.011111111111111112, ps_exact = 0.011111111111111112, slope = 0.3241635687732343,
        intercept = 1.490706319702603, se = 0.030070190548801758, se_intercept = 0.14157493647787486,
        rss = 0.16215613382899643 },
  P = { r = -0.9371238205499606, p_t = 0.22695536487199505, rho = -1.0, ps_t = 0.0, p_exact = 0.3333333333333333,
        ps_exact = 0.3333333333333333, slope = -26.927029804727603, intercept = 297.3189448441245,
        se = 10.027974870816731, se_intercept = 61.9189622300124, rss = 313.10448783830054 },
  M = { coef = { 1.514628047785492, 2.0109438631428573, -0.5089645505909186 },
        se = { 0.1263720374642597, 0.030068048423592782, 0.022548583147848515 }, rss = 0.3522833194766733,
        r2 = 0.9980652117872242, cov12 = -0.0003427835577900176 },
  t_sf = { 0.05096973941492914, 0.8577662456360515, 0.2439893893803008, 0.02646467605958987 },
  betainc = { 0.5247999999999999, 0.6117140988441079, 0.6447480085585666 },
}
local A_x = { 1.2, 2.3, 2.9, 4.1, 5.0, 6.2, 6.8, 8.1, 9.0, 10.4 }
local A_y = { 2.0, 2.9, 3.1, 5.2, 4.8, 7.1, 6.4, 8.9, 9.6, 10.1 }
local B_x = { 3.0, 1.0, 4.0, 1.0, 5.0, 9.0 }
local B_y = { 2.7, 1.8, 2.8, 1.8, 2.8, 4.5 }
local M_x1 = { 0.5, 1.0, 1.7, 2.2, 3.1, 3.3, 4.0, 4.8, 5.5, 6.1, 6.9, 7.4 }
local M_x2 = { 3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.6, 5.3, 5.8, 9.7, 9.3, 2.3 }
local M_e = { 0.11, -0.23, 0.05, 0.31, -0.12, 0.02, -0.27, 0.19, -0.04, 0.08, -0.15, 0.21 }

-- ../shared/reference/minnmann2024-measured.json (beside ../shared/data)
local function measured_json()
  return H.shared_data("../reference/minnmann2024-measured.json")
end

local function no_nan(t, path, seen)
  seen = seen or {}
  if seen[t] then return end
  seen[t] = true
  for k, v in pairs(t) do
    if type(v) == "number" then
      assert(v == v and v ~= math.huge and v ~= -math.huge, "non-finite number at " .. path .. "." .. tostring(k))
    elseif type(v) == "table" then
      no_nan(v, path .. "." .. tostring(k), seen)
    end
  end
end

-- a sample set from plain columns
local function columns(xs, ys)
  local list = {}
  for i = 1, #xs do list[i] = { name = "s" .. i, descriptors = { x = xs[i] }, measured = { y = ys[i] } } end
  return tg.analysis.samples(list)
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

describe("tg.analysis special functions", function()
  it("t_sf and betainc equal scipy.stats.t.sf and scipy.special.betainc", function()
    local a = tg.analysis
    assert.relnear(REF.t_sf[1], a.t_sf(2.0, 5), 1e-12)
    assert.relnear(REF.t_sf[2], a.t_sf(-1.3, 3), 1e-12)
    assert.relnear(REF.t_sf[3], a.t_sf(0.7, 40), 1e-12)
    assert.relnear(REF.t_sf[4], a.t_sf(12.0, 1), 1e-12)
    assert.relnear(REF.betainc[1], a.betainc(2, 3, 0.4), 1e-13)
    assert.relnear(REF.betainc[2], a.betainc(0.5, 7.5, 0.05), 1e-12)
    assert.relnear(REF.betainc[3], a.betainc(30, 40, 0.45), 1e-12)
    assert.equal(0, a.betainc(2, 3, 0))
    assert.equal(1, a.betainc(2, 3, 1))
  end)
end)

describe("tg.analysis.pearson / spearman", function()
  it("equal scipy.stats on a table of 10 (t-distribution p-values)", function()
    local p = tg.analysis.pearson(A_x, A_y)
    assert.relnear(REF.A.r, p.r, 1e-13)
    assert.relnear(REF.A.p_t, p.p_t, 1e-9)
    assert.equal(p.p_t, p.p)
    assert.is_nil(p.p_exact)
    local s = tg.analysis.spearman(A_x, A_y)
    assert.relnear(REF.A.rho, s.rho, 1e-13)
    assert.relnear(REF.A.ps_t, s.p_t, 1e-9)
  end)

  it("use the exact permutation test for N <= 8, with ties ranked by their average (scipy.stats.permutation_test)", function()
    local p = tg.analysis.pearson(B_x, B_y)
    assert.relnear(REF.B.r, p.r, 1e-13)
    assert.relnear(REF.B.p_t, p.p_t, 1e-9)
    assert.relnear(REF.B.p_exact, p.p_exact, 1e-12)
    assert.equal(p.p_exact, p.p)
    assert.truthy(p.method:find("720 orderings", 1, true))
    local s = tg.analysis.spearman(B_x, B_y)
    assert.relnear(REF.B.rho, s.rho, 1e-13)
    assert.relnear(REF.B.ps_t, s.p_t, 1e-9)
    assert.relnear(REF.B.ps_exact, s.p_exact, 1e-12)
    assert.same({ 3, 1.5, 4, 1.5, 5, 6 }, tg.analysis.ranks(B_x))
    -- the permutation test can be forced off
    assert.equal(p.p_t, tg.analysis.pearson(B_x, B_y, { permutation = false }).p)
  end)

  it("reject lists of different lengths and non-numbers", function()
    assert.raises_with(function() tg.analysis.pearson({ 1, 2, 3 }, { 1, 2 }) end, "differ in length (3 and 2)")
    assert.raises_with(function() tg.analysis.spearman({ 1, 0 / 0, 3 }, { 1, 2, 3 }) end, "x[2] is not a finite number")
    assert.raises_with(function() tg.analysis.pearson(A_x, A_y, { permutaton = true }) end, "did you mean 'permutation'")
  end)
end)

describe("tg.analysis.lstsq (LAPACKE)", function()
  it("recovers an exact line and plane with zero residual", function()
    local r = tg.analysis.lstsq({ 1, 2, 3, 4 }, { 3, 5, 7, 9 })
    assert.near(1, r.coef[1], 1e-13)
    assert.near(2, r.coef[2], 1e-13)
    assert.near(0, r.rss, 1e-24)
    assert.near(0, r.se[2], 1e-12)
    assert.near(1, r.r2, 1e-14)
    local X, y = {}, {}
    for i = 1, 6 do
      X[i] = { i, (i * i) % 5 }
      y[i] = -4 + 0.5 * i + 3 * X[i][2]
    end
    r = tg.analysis.lstsq(X, y)
    assert.near(-4, r.coef[1], 1e-12)
    assert.near(0.5, r.coef[2], 1e-12)
    assert.near(3, r.coef[3], 1e-12)
    assert.equal(3, r.df)
  end)

  it("equals numpy's lstsq and the textbook SE formula on noisy data", function()
    local X, y = {}, {}
    for i = 1, #M_x1 do
      X[i] = { M_x1[i], M_x2[i] }
      y[i] = 1.5 + 2 * M_x1[i] - 0.5 * M_x2[i] + M_e[i]
    end
    local r = tg.analysis.lstsq(X, y)
    for j = 1, 3 do
      assert.relnear(REF.M.coef[j], r.coef[j], 1e-12)
      assert.relnear(REF.M.se[j], r.se[j], 1e-10)
    end
    assert.relnear(REF.M.rss, r.rss, 1e-10)
    assert.relnear(REF.M.r2, r.r2, 1e-12)
    assert.relnear(REF.M.cov12, r.cov[2][3], 1e-9)
    assert.relnear(REF.M.cov12, r.cov[3][2], 1e-9)
  end)

  it("does not depend on the units of the regressor (column scaling)", function()
    local xs = {}
    for i, x in ipairs(A_x) do xs[i] = x * 1e-6 end
    local r = tg.analysis.lstsq(xs, A_y)
    assert.relnear(REF.A.slope * 1e6, r.coef[2], 1e-11)
    assert.relnear(REF.A.se * 1e6, r.se[2], 1e-10)
  end)

  it("raises clearly on bad input", function()
    assert.raises_with(function() tg.analysis.lstsq({ 1, 2, 3 }, { 1, 2 }) end, "X has 3 rows but y has 2 values")
    assert.raises_with(function() tg.analysis.lstsq({ 1, 2 }, { 1, 2 }) end, "2 observations for 2 coefficients")
    assert.raises_with(function() tg.analysis.lstsq({ 2, 2, 2, 2 }, { 1, 2, 3, 4 }) end, "rank deficient")
    assert.raises_with(function() tg.analysis.lstsq({ { 1, 2 }, { 1 }, { 2, 3 } }, { 1, 2, 3 }) end, "X[2] must be a row of 2")
    assert.raises_with(function() tg.analysis.lstsq({ 1, 2, 0 / 0 }, { 1, 2, 3 }) end, "X[3] must be a finite number")
    assert.raises_with(function() tg.analysis.lstsq({ { 1, 2 }, { 2, 4 }, { 3, 6 }, { 4, 8 } }, { 1, 2, 3, 5 }) end,
      "rank deficient")
  end)
end)

describe("tg.analysis.correlate", function()
  it("gives the DESIGN shape and equals scipy / numpy.polyfit", function()
    local c = tg.analysis.correlate(columns(A_x, A_y), { x = "x", y = "y" })
    assert.equal(10, c.n)
    assert.relnear(REF.A.r, c.pearson.r, 1e-13)
    assert.relnear(REF.A.p_t, c.pearson.p, 1e-9)
    assert.relnear(REF.A.rho, c.spearman.rho, 1e-13)
    assert.relnear(REF.A.ps_t, c.spearman.p, 1e-9)
    assert.relnear(REF.A.slope, c.fit.slope, 1e-12)
    assert.relnear(REF.A.intercept, c.fit.intercept, 1e-12)
    assert.relnear(REF.A.se, c.fit.se, 1e-10)
    assert.relnear(REF.A.se_intercept, c.fit.se_intercept, 1e-10)
    assert.relnear(REF.A.rss, c.fit.rss, 1e-10)
    no_nan(c, "c")
  end)

  it("keeps samples with a missing value, marks them and leaves them out of the fit", function()
    local list = {}
    for i = 1, #A_x do list[i] = { name = "s" .. i, descriptors = { x = A_x[i] }, measured = { y = A_y[i] } } end
    list[#list + 1] = { name = "gap", descriptors = { x = 3.3 }, measured = { y = "NA" } }
    local S = tg.analysis.samples(list)
    assert.equal(11, #S)
    assert.is_true(S:get("gap").missing.y)
    local c = tg.analysis.correlate(S, { x = "x", y = "y" })
    assert.equal(10, c.n)
    assert.same({ "gap" }, c.excluded)
    assert.relnear(REF.A.slope, c.fit.slope, 1e-12)
    assert.truthy(c.notes[1]:find("gap", 1, true))
  end)

  it("reports fewer than three samples without p-values, and constant data without NaN", function()
    local c = tg.analysis.correlate(columns({ 1, 2 }, { 3, 5 }), { x = "x", y = "y" })
    assert.equal(2, c.n)
    assert.is_nil(c.pearson.r)
    assert.is_nil(c.pearson.p)
    assert.is_nil(c.spearman.p)
    assert.is_nil(c.fit.slope)
    assert.truthy(table.concat(c.notes, " "):find("at least 3", 1, true))
    no_nan(c, "c")
    local k = tg.analysis.correlate(columns({ 1, 2, 3, 4 }, { 5, 5, 5, 5 }), { x = "x", y = "y" })
    assert.is_nil(k.pearson.r)
    assert.truthy(table.concat(k.notes, " "):find("y is constant", 1, true))
    assert.near(0, k.fit.slope, 1e-14)
    assert.near(5, k.fit.intercept, 1e-13)
    assert.is_nil(k.fit.r2)
    no_nan(k, "k")
    local kx = tg.analysis.correlate(columns({ 2, 2, 2 }, { 1, 2, 3 }), { x = "x", y = "y" })
    assert.is_nil(kx.pearson.r)
    assert.is_nil(kx.fit.slope)
    assert.truthy(table.concat(kx.notes, " "):find("x is constant", 1, true))
    assert.truthy(table.concat(kx.notes, " "):find("rank deficient", 1, true))
    no_nan(kx, "kx")
  end)

  it("raises on unknown variables with a hint and on bad options", function()
    local S = columns(A_x, A_y)
    assert.raises_with(function() tg.analysis.correlate(S, { x = "xx", y = "y" }) end, "x = 'xx' is not a variable")
    assert.raises_with(function() tg.analysis.correlate(S, { x = "x" }) end, "give x = variable and y = variable")
    assert.raises_with(function() tg.analysis.correlate(S, { x = "x", y = "y", method = 1 }) end, "unknown option 'method'")
  end)

  it("builds a correlation matrix and writes it as CSV", function()
    local list = {}
    for i = 1, #A_x do
      list[i] = { name = "s" .. i, descriptors = { x = A_x[i], z = M_x2[i] }, measured = { y = A_y[i] } }
    end
    local S = tg.analysis.samples(list)
    local m = tg.analysis.matrix(S, { "x", "y", "z" })
    assert.equal("matrix", m.kind)
    assert.near(1, m.pearson.r[1][1], 1e-14)
    assert.relnear(REF.A.r, m.pearson.r[1][2], 1e-13)
    assert.relnear(REF.A.r, m.pearson.r[2][1], 1e-13)
    assert.relnear(REF.A.rho, m.spearman.rho[2][1], 1e-13)
    assert.equal(m.pearson.r[1][3], m.pearson.r[3][1])
    local path = H.tmpdir("analysis") .. "/matrix.csv"
    tg.analysis.write_csv(path, m)
    local f = assert(io.open(path))
    local header = f:read("l")
    local lines = {}
    for line in f:lines() do lines[#lines + 1] = line end
    f:close()
    assert.truthy(header:find("^x,y,n,pearson_r,pearson_p,"))
    assert.equal(9, #lines)
    local x, y, n, r = lines[2]:match("^([^,]*),([^,]*),([^,]*),([^,]*),")
    assert.equal("x", x)
    assert.equal("y", y)
    assert.equal("10", n)
    assert.relnear(REF.A.r, tonumber(r), 1e-9)
  end)
end)

describe("tg.analysis: the paper's arithmetic", function()
  it("Eq. 2: sigma = l / (R A), R halved for the two-layer cell", function()
    local A = math.pi * 5e-3 ^ 2 -- the 10 mm cell
    local s1 = tg.analysis.sigma_from_resistance { R = 100, thickness = 60e-6, area = A }
    assert.relnear(60e-6 / (100 * A), s1, 1e-15)
    local s2 = tg.analysis.sigma_from_resistance { R = 100, thickness = 60e-6, area = A, layers = 2 }
    assert.relnear(2 * s1, s2, 1e-15)
    -- the R that gives BM10's 0.05 mS/cm over two 60 um layers
    local R = 2 * 60e-6 / (0.005 * A)
    assert.relnear(0.005, tg.analysis.sigma_from_resistance { R = R, thickness = 60e-6, area = A, layers = 2 }, 1e-14)
    assert.raises_with(function() tg.analysis.sigma_from_resistance { R = -1, thickness = 1, area = 1 } end,
      "'R' must be a positive number")
    assert.raises_with(function() tg.analysis.sigma_from_resistance { R = 1, thickness = 1, area = 1, layers = 0 } end,
      "'layers' must be an integer >= 1")
  end)

  it("Eq. 3: BM10's 2.0 / 0.05 mS/cm with the ISE fraction 0.375 the paper implies gives kappa = 15", function()
    assert.near(15, tg.analysis.kappa { sigma_bulk = 0.2, sigma_eff = 0.005, fraction = 0.375 }, 1e-12)
    assert.raises_with(function() tg.analysis.kappa { sigma_bulk = 0.2, sigma_eff = 0.005, fraction = 1.5 } end,
      "'fraction' must be in (0, 1]")
  end)

  it("derives Eq. 2 and 3, coverage and lambda for samples", function()
    local A = math.pi * 5e-3 ^ 2
    local R = 2 * 60e-6 / (0.005 * A)
    local S = tg.analysis.samples({
      { name = "BM10", measured = { R_ion = R, thickness = "60 um", area = { 0.785398163, "cm2" },
                                    sigma_ion_bulk = "2.0 mS/cm", S_cam_ise = "0.11 m2/g",
                                    cam_specific_surface = "0.5 m2/g", cam_d50 = "5 um", ise_d50 = "7.41 um" } },
    }, { derive = { phi_ise = 0.375 } })
    local d = S:get("BM10").derived
    assert.relnear(0.005, d.sigma_ion_eq2, 1e-8)
    assert.relnear(15, d.kappa_ion_eq3, 1e-8)
    assert.relnear(0.22, d.coverage, 1e-14)
    assert.relnear(5 / 7.41, d.lambda, 1e-14)
    assert.equal("S/m", S:unit("sigma_ion_eq2"))
  end)

  it("takes d50 from size distributions", function()
    assert.near(5e-6, tg.analysis.d50 { size = { 1e-6, 4e-6, 6e-6, 10e-6 }, cumulative = { 0.1, 0.4, 0.6, 1.0 } }, 1e-18)
    assert.near(3, tg.analysis.d50 { size = { 1, 2, 3, 4 }, fraction = { 10, 20, 20, 50 } }, 1e-15)
    local S = tg.analysis.samples {
      { name = "a", measured = { cam_d50 = 4e-6, ise_psd = { size = { 1e-6, 4e-6, 6e-6, 10e-6 }, cumulative = { 10, 40, 60, 100 } } } },
    }
    assert.relnear(0.8, S:get("a").derived.lambda, 1e-12)
  end)
end)

describe("tg.analysis.samples loading", function()
  it("loads the measured JSON of Minnmann et al. with units converted", function()
    local path = H.need_shared("../reference/minnmann2024-measured.json") -- shipped in tests/fixtures/reference
    local S = tg.analysis.samples(path)
    assert.same({ "BM01", "BM03", "BM10" }, S:names())
    local bm10 = S:get("BM10")
    assert.relnear(0.2, bm10.measured.sigma_ion_bulk, 1e-15)     -- 2.0 mS/cm in S/m
    assert.relnear(0.005, bm10.measured.sigma_ion_eff, 1e-15)
    assert.relnear(7.41e-6, bm10.measured.ise_d50, 1e-15)
    assert.equal("m", bm10.units.ise_d50)
    assert.equal(2.0, S:value("BM10", "sigma_ion_bulk_mS_cm")) -- the original key gives the value as written
    assert.relnear(0.22, bm10.derived.coverage, 1e-14)            -- 0.11 / 0.5: the paper's "around 20 %"
    assert.relnear(0.48, S:get("BM03").derived.coverage, 1e-14)   -- "almost 50 %"
    assert.equal(4e-6, bm10.measured.cam_d50)                     -- the range [3, 5] um of the materials block
    assert.same({ 3e-6, 5e-6 }, bm10.ranges.cam_d50)
    assert.near(1.1, S:value("BM03", "lambda_dcam_over_dise"), 1e-15)
    assert.is_true(S:get("BM01").missing.sigma_ion_eff)
    -- Eq. 3 for BM10 with the ISE fraction as a derive option
    local S2 = tg.analysis.samples(path, { derive = { phi_ise = 0.375 } })
    assert.relnear(15, S2:get("BM10").derived.kappa_ion_eq3, 1e-12)
    assert.relnear(15, S2:value("BM10", "kappa_ion_exp"), 1e-15)
    -- the paper's trend, three samples: exact permutation p, no fake t p-value
    local c = tg.analysis.correlate(S, { x = "ise_d50", y = "discharge_capacity_0p1C" })
    assert.equal(3, c.n)
    assert.relnear(REF.P.r, c.pearson.r, 1e-12)
    assert.relnear(REF.P.p_exact, c.pearson.p, 1e-12)
    assert.relnear(REF.P.p_t, c.pearson.p_t, 1e-9)
    assert.near(REF.P.rho, c.spearman.rho, 1e-15)
    assert.relnear(REF.P.ps_exact, c.spearman.p, 1e-12)
    assert.relnear(REF.P.slope * 1e6, c.fit.slope, 1e-10)
    assert.relnear(REF.P.se * 1e6, c.fit.se, 1e-9)
    -- a sample missing the y value is excluded from that correlation
    local c2 = tg.analysis.correlate(S, { x = "ise_d50", y = "sigma_ion_eff" })
    assert.equal(2, c2.n)
    assert.same({ "BM01" }, c2.excluded)
    assert.is_nil(c2.pearson.p)
  end)

  it("loads a CSV with units in the header, missing cells and descriptors; round-trips its own CSV", function()
    local dir = H.tmpdir("analysis")
    local path = write(dir .. "/cells.csv", table.concat({
      "sample,sigma_ion_eff [mS/cm],ise_d50 [um],capacity [mAh/g],descriptors.tau_ise,note",
      "BM10,0.05,7.41,92,4.1,\"big, clustered\"",
      "BM03,0.11,4.93,156,3.2,",
      "BM01,,5.93,152,3.4,NA",
    }, "\r\n") .. "\r\n")
    local ok, err = pcall(tg.analysis.samples, path)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("'big, clustered' is not a number", 1, true)
      or tostring(err):find("big, clustered", 1, true))
    path = write(dir .. "/cells.csv", table.concat({
      "sample,sigma_ion_eff [mS/cm],ise_d50 [um],capacity [mAh/g],descriptors.tau_ise",
      "BM10,0.05,7.41,92,4.1",
      "BM03,0.11,4.93,156,3.2",
      "BM01,,5.93,152,3.4",
    }, "\n") .. "\n")
    local S = tg.analysis.samples(path)
    assert.same({ "BM10", "BM03", "BM01" }, S:names())
    assert.relnear(0.005, S:get("BM10").measured.sigma_ion_eff, 1e-15)
    assert.relnear(4.93e-6, S:get("BM03").measured.ise_d50, 1e-15)
    assert.equal(4.1, S:get("BM10").descriptors.tau_ise)
    assert.is_true(S:get("BM01").missing.sigma_ion_eff)
    local c = tg.analysis.correlate(S, { x = "descriptors.tau_ise", y = "capacity" })
    assert.equal(3, c.n)
    -- own CSV back in
    local out = dir .. "/samples.csv"
    S:write_csv(out)
    local T = tg.analysis.samples(out)
    assert.same(S:names(), T:names())
    for _, name in ipairs(S:names()) do
      assert.relnear(S:value(name, "ise_d50"), T:value(name, "ise_d50"), 1e-9)
      assert.equal(S:value(name, "descriptors.tau_ise"), T:value(name, "descriptors.tau_ise"))
    end
    assert.is_true(T:get("BM01").missing.sigma_ion_eff)
  end)

  it("raises on units that do not parse, ragged CSV rows and unknown fields", function()
    local dir = H.tmpdir("analysis")
    local bad = write(dir .. "/bad_unit.csv", "name,sigma [mS/cn]\nA,1\n")
    assert.raises_with(function() tg.analysis.samples(bad) end, "column 'sigma [mS/cn]': unknown unit 'mS/cn'")
    local ragged = write(dir .. "/ragged.csv", "name,a,b\nA,1,2\nB,1\n")
    assert.raises_with(function() tg.analysis.samples(ragged) end, "line 3 has 2 fields, the header has 3")
    assert.raises_with(function() tg.analysis.samples { { name = "A", measured = { sigma = "0.05 mS/cn" } } } end,
      "sample 'A': measured 'sigma': unknown unit 'mS/cn'")
    assert.raises_with(function() tg.analysis.samples { { name = "A", mesured = {} } } end, "did you mean 'measured'")
    assert.raises_with(function() tg.analysis.samples { { measured = {} } } end, "every sample needs a name")
    assert.raises_with(function() tg.analysis.samples(dir .. "/nope.json") end, "nope.json")
    assert.raises_with(function() tg.analysis.samples(write(dir .. "/x.json", "{not json")) end, "not valid JSON")
  end)

  it("flattens result tables of tg.measure into descriptors and merges measured values by name", function()
    local labels = tg.generate.cathode { size = { 32, 32, 32 }, spacing = 1e-7, cam_d50 = 1.2e-6, ise_d50 = 1.2e-6, seed = 3 }
    local phases = { pore = 0, cam = 1, ise = 2 }
    local f = tg.measure.fractions(labels, { phases = phases })
    local s = tg.measure.surfaces(labels, { phases = phases, density = { cam = 4.7e3, ise = 1.9e3 }, per_gram_of = "cam" })
    local S = tg.analysis.samples {
      { name = "gen", descriptors = { fractions = f, surfaces = s }, phases = phases },
      measured = { gen = { sigma_ion_bulk = "2.0 mS/cm", sigma_ion_eff = "0.05 mS/cm", cam_specific_surface = "0.5 m2/g" } },
    }
    local g = S:get("gen")
    assert.equal(f.by_name.ise, g.descriptors["fractions.by_name.ise"])
    assert.equal(f[2], g.descriptors["fractions.2"])
    assert.equal(s.interfaces["1-2"], g.descriptors["surfaces.interfaces.1-2"])
    assert.equal(f.by_name.ise, g.derived.phi_ise)
    assert.relnear(40 * f.by_name.ise, g.derived.kappa_ion_eq3, 1e-12)
    assert.relnear(s.interfaces["1-2"] / s.phases[1], g.derived.coverage_geometric, 1e-12)
    assert.relnear(s.specific.per_gram.interfaces["1-2"] / 0.5, g.derived.coverage_microstructure, 1e-12)
    assert.equal(s, g.results.surfaces)
    -- JSON of the whole set encodes
    local path = H.tmpdir("analysis") .. "/samples.json"
    S:write_json(path)
    local back = tg.json.read(path)
    assert.equal(f.by_name.ise, back.samples.gen.descriptors["fractions.by_name.ise"])
    -- a plain name held by two categories with different values is ambiguous
    local T = tg.analysis.samples { { name = "a", descriptors = { q = 1 }, measured = { q = 2 } } }
    assert.raises_with(function() T:value("a", "q") end, "'q' is ambiguous")
    assert.equal(2, T:value("a", "measured.q"))
  end)

  it("adds and merges samples by name and prints a summary", function()
    local S = tg.analysis.samples { { name = "a", measured = { sigma_ion_bulk = "2 mS/cm" } } }
    S:add { name = "a", measured = { sigma_ion_eff = "0.05 mS/cm", ise_vol_frac = 0.375 } }
    S:add { name = "b", descriptors = { x = 1 } }
    assert.same({ "a", "b" }, S:names())
    assert.relnear(15, S:get("a").derived.kappa_ion_eq3, 1e-12) -- recomputed after the add
    S:merge(tg.analysis.samples { { name = "b", measured = { y = "NA" } }, { name = "c", measured = { y = 3 } } })
    assert.same({ "a", "b", "c" }, S:names())
    assert.is_true(S:get("b").missing.y)
    local text = tostring(S)
    assert.truthy(text:find("tortuga.Samples(3: a, b, c)", 1, true))
    assert.truthy(text:find("missing: y", 1, true))
    assert.raises_with(function() S:add(5) end, "add expects one sample")
    assert.raises_with(function() S:value("zz", "y") end, "no sample named 'zz'")
  end)
end)

describe("tg.analysis workflow helpers", function()
  it("a stopwatch adds the time of each stage and keeps the first-use order", function()
    local seen = {}
    local sw = tg.analysis.stopwatch(function(stage, s) seen[#seen + 1] = stage end)
    local a, b = sw:time("one", function(x, y) return x + y, x * y end, 2, 3)
    assert.are.same({ 5, 6 }, { a, b })
    sw:time("two", function() end)
    sw:time("one", function() end)
    assert.are.same({ "one", "two" }, { sw.timings[1].stage, sw.timings[2].stage })
    assert.are.equal(2, #sw.timings)
    assert.are.same({ "one", "two", "one" }, seen)
    assert.is_true(sw.timings[1].seconds >= 0)
    assert.relnear(sw.timings[1].seconds + sw.timings[2].seconds, sw:total(), 1e-12)
    assert.has_error(function() sw:time("bad", function() error("boom") end) end)
  end)

  it("finds the paper's reference values, or falls back to the values its text gives", function()
    local ref, what = tg.analysis.paper_reference()
    local S = tg.analysis.samples { measured = ref }
    for _, name in ipairs { "BM10", "BM03", "BM01" } do assert.truthy(S:get(name)) end
    assert.relnear(0.11, S:value("BM10", "measured.S_cam_ise"), 1e-12)
    assert.are.equal(15, S:value("BM10", "kappa_ion_exp"))
    assert.are.equal("string", type(what))
    -- the built-in values give the same derived coverage (0.11 / 0.5) as the file
    local built, said = tg.analysis.paper_reference(nil, false)
    assert.are.equal("table", type(built))
    assert.truthy(said:find("built into", 1, true))
    local B = tg.analysis.samples { measured = built }
    assert.relnear(0.22, B:value("BM10", "derived.coverage"), 1e-12)
    assert.relnear(S:value("BM03", "derived.coverage"), B:value("BM03", "derived.coverage"), 1e-12)
  end)
end)
